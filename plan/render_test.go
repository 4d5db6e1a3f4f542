package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderDiffGolden renders every captured plan and compares it with its
// golden file (rewritten with -update, after TestFixtures has refreshed the
// plans). The diff's summary line must be Terraform's own.
func TestRenderDiffGolden(t *testing.T) {
	if *update {
		require.NoError(t, os.MkdirAll(diffDir, 0o755))
	}
	for _, p := range loadCommittedPlans(t) {
		t.Run(p.name, func(t *testing.T) {
			var diff bytes.Buffer
			require.NoError(t, p.analysis.RenderDiff(&diff))
			golden := filepath.Join(diffDir, p.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, diff.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./plan -run 'TestFixtures|TestRenderDiffGolden' -update")
			assert.Equal(t, string(want), diff.String())

			assert.Equal(t, p.summary, renderedSummaryLine(diff.String()))
			assertNoSecret(t, "rendered diff", diff.Bytes())

			// Deterministic: a second rendering is the same bytes.
			var again bytes.Buffer
			require.NoError(t, p.analysis.RenderDiff(&again))
			assert.Equal(t, diff.String(), again.String())
		})
	}
}

// TestRenderDiffDeletionsFirst checks the order a reviewer relies on:
// everything that destroys comes before anything else, each group in
// address order.
func TestRenderDiffDeletionsFirst(t *testing.T) {
	js := planJSON(t,
		rc("terraform_data.a", "managed", "create"),
		rc("terraform_data.z", "managed", "delete"),
		rc("terraform_data.b", "managed", "update"),
		rc("terraform_data.m", "managed", "delete", "create"),
		rc("terraform_data.c", "managed", "create", "delete"),
	)
	a, err := Analyze(bytes.NewReader(js))
	require.NoError(t, err)
	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	var order []string
	for _, line := range strings.Split(diff.String(), "\n") {
		if strings.HasPrefix(line, "  # terraform_data.") {
			order = append(order, strings.Fields(line)[1])
		}
	}
	assert.Equal(t, []string{"terraform_data.c", "terraform_data.m", "terraform_data.z", "terraform_data.a", "terraform_data.b"}, order)
}

func TestRenderDiffValues(t *testing.T) {
	change := func(actions []string, before, after, unknown, bs, as any, replacePaths any) []byte {
		c := rc("terraform_data.x", "managed", actions...)
		ch := c["change"].(map[string]any)
		ch["before"], ch["after"], ch["after_unknown"] = before, after, unknown
		ch["before_sensitive"], ch["after_sensitive"] = bs, as
		if replacePaths != nil {
			ch["replace_paths"] = replacePaths
		}
		return planJSON(t, c)
	}
	obj := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		plan []byte
		want string
	}{
		{
			name: "update with unknown, hidden unchanged and forced replacement",
			plan: change([]string{"delete", "create"},
				obj("id", "i-1", "size", "small", "zone", "a", "kept", "k"),
				obj("size", "large", "zone", "a", "kept", "k"),
				obj("id", true), obj(), obj(),
				[]any{[]any{"size"}}),
			want: `  # terraform_data.x must be replaced
-/+ resource "terraform_data" "x" {
      ~ id   = "i-1" -> (known after apply)
      ~ size = "small" -> "large" # forces replacement
        # (2 unchanged attributes hidden)
    }
`,
		},
		{
			name: "sensitive nested in a map, and a sensitive list element",
			plan: change([]string{"update"},
				obj("input", obj("user", "u", "password", "old-secret-1", "list", []any{"a", "tok-000001"})),
				obj("input", obj("user", "u2", "password", "new-secret-2", "list", []any{"a", "tok-000002"})),
				obj(), obj("input", obj("password", true, "list", []any{false, true})),
				obj("input", obj("password", true, "list", []any{false, true})), nil),
			want: `  # terraform_data.x will be updated in-place
  ~ resource "terraform_data" "x" {
      ~ input = {
          ~ list     = [
                "a",
              ~ (sensitive value),
            ]
          ~ password = (sensitive value)
          ~ user     = "u" -> "u2"
        }
    }
`,
		},
		{
			name: "delete shows every attribute going to null",
			plan: change([]string{"delete"},
				obj("id", "i-1", "tags", obj("env", "prod"), "ports", []any{80}),
				nil, obj(), obj(), false, nil),
			want: `  # terraform_data.x will be destroyed
  - resource "terraform_data" "x" {
      - id    = "i-1" -> null
      - ports = [
          - 80,
        ] -> null
      - tags  = {
          - env = "prod"
        } -> null
    }
`,
		},
		{
			name: "value equal to a secret is masked where it is unmarked",
			plan: change([]string{"update"},
				obj("input", "hunter2-long-secret", "output", "hunter2-long-secret"),
				obj("input", "other"),
				obj("output", true), obj("input", true), obj("input", false), nil),
			want: `  # terraform_data.x will be updated in-place
  ~ resource "terraform_data" "x" {
      # Warning: this attribute value will no longer be marked as sensitive
      # after applying this change.
      ~ input  = (sensitive value)
      ~ output = (sensitive value) -> (known after apply)
    }
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Analyze(bytes.NewReader(tc.plan))
			require.NoError(t, err)
			var diff bytes.Buffer
			require.NoError(t, a.RenderDiff(&diff))
			body := diff.String()
			start := strings.Index(body, "  # terraform_data.x")
			end := strings.Index(body, "\nPlan: ")
			require.True(t, start >= 0 && end > start, body)
			assert.Equal(t, tc.want, body[start:end])
			assert.NotContains(t, body, "secret")
			assert.NotContains(t, body, "tok-00000")
		})
	}
}

// renderChange renders one resource change of the given type, planned by
// the given Terraform version, from its resource line to its closing brace.
func renderChange(t *testing.T, version, typ string, before, after, unknown, sensitive any, replace []any) string {
	t.Helper()
	c := rc(typ+".x", "managed", "delete", "create")
	if replace == nil {
		c = rc(typ+".x", "managed", "update")
	}
	ch := c["change"].(map[string]any)
	ch["before"], ch["after"], ch["after_unknown"] = before, after, unknown
	ch["before_sensitive"], ch["after_sensitive"] = sensitive, sensitive
	if replace != nil {
		ch["replace_paths"] = replace
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(planJSON(t, c), &doc))
	doc["terraform_version"] = version
	js, err := json.Marshal(doc)
	require.NoError(t, err)
	a, err := Analyze(bytes.NewReader(js))
	require.NoError(t, err)
	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	body := diff.String()
	start := strings.Index(body, "resource ")
	end := strings.Index(body, "\nPlan: ")
	require.True(t, start >= 0 && end > start, body)
	return body[start:end]
}

// TestRenderDiffFollowsTerraform covers rules of Terraform's renderer that
// depend on the schema or on Terraform's version: a changed element of an
// equal-length list is one "~ a -> b" line from Terraform 1.8 on (a
// deletion and an addition before), a reordered list is still aligned;
// terraform_data's dynamic attributes note "# forces replacement" only
// where the whole value is sensitive or unknown, other resources' do.
func TestRenderDiffFollowsTerraform(t *testing.T) {
	list := func(v ...any) map[string]any { return map[string]any{"ref": "r", "triggers_replace": v} }
	trig := []any{[]any{"triggers_replace"}}
	tests := []struct {
		name, version, typ string
		before, after      any
		unknown, sensitive any
		want               string
	}{
		{"element changed, 1.11", "1.11.4", "terraform_data", list("blue", "web"), list("green", "web"), map[string]any{}, map[string]any{}, `resource "terraform_data" "x" {
      ~ triggers_replace = [
          ~ "blue" -> "green",
            "web",
        ]
        # (1 unchanged attribute hidden)
    }
`},
		{"element changed, 1.5", "1.5.7", "terraform_data", list("blue", "web"), list("green", "web"), map[string]any{}, map[string]any{}, `resource "terraform_data" "x" {
      ~ triggers_replace = [
          - "blue",
          + "green",
            "web",
        ]
        # (1 unchanged attribute hidden)
    }
`},
		{"reordered, 1.11", "1.11.4", "terraform_data", list("blue", "web"), list("web", "blue"), map[string]any{}, map[string]any{}, `resource "terraform_data" "x" {
      ~ triggers_replace = [
          - "blue",
            "web",
          + "blue",
        ]
        # (1 unchanged attribute hidden)
    }
`},
		{"objects pair across a removed element", "1.11.4", "terraform_data",
			list(map[string]any{"a": "1"}, "s", map[string]any{"a": "2"}), list(map[string]any{"a": "3"}, map[string]any{"a": "4"}),
			map[string]any{}, map[string]any{}, `resource "terraform_data" "x" {
      ~ triggers_replace = [
          ~ {
              ~ a = "1" -> "3"
            },
          - "s",
          ~ {
              ~ a = "2" -> "4"
            },
        ]
        # (1 unchanged attribute hidden)
    }
`},
		{"dynamic attribute sensitive", "1.11.4", "terraform_data", list("a"), list("b"), map[string]any{}, map[string]any{"triggers_replace": true}, `resource "terraform_data" "x" {
      ~ triggers_replace = (sensitive value) # forces replacement
        # (1 unchanged attribute hidden)
    }
`},
		{"dynamic attribute unknown", "1.11.4", "terraform_data", list("a"), map[string]any{"ref": "r"}, map[string]any{"triggers_replace": true}, map[string]any{}, `resource "terraform_data" "x" {
      ~ triggers_replace = [
          - "a",
        ] -> (known after apply) # forces replacement
        # (1 unchanged attribute hidden)
    }
`},
		{"typed attribute of another provider", "1.11.4", "null_resource", list("a"), list("b"), map[string]any{}, map[string]any{}, `resource "null_resource" "x" {
      ~ triggers_replace = [ # forces replacement
          ~ "a" -> "b",
        ]
        # (1 unchanged attribute hidden)
    }
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, renderChange(t, tc.version, tc.typ, tc.before, tc.after, tc.unknown, tc.sensitive, trig))
		})
	}
}

// TestRenderDiffJSONStrings: a string holding one JSON object or list
// renders as jsonencode(...) of its diff, as Terraform renders it; a
// string with more after the JSON is a plain string; a whitespace-only
// change says so; a JSON string holding a secret is masked whole.
func TestRenderDiffJSONStrings(t *testing.T) {
	doc := func(v string) map[string]any { return map[string]any{"ref": "r", "doc": v} }
	tests := []struct {
		name          string
		before, after string
		want          string
	}{
		{"object changed", `{"a":1,"b":[1]}`, `{"a":2,"b":[1]}`, `resource "null_resource" "x" {
      ~ doc = jsonencode(
          ~ {
              ~ a = 1 -> 2
                # (1 unchanged attribute hidden)
            }
        )
        # (1 unchanged attribute hidden)
    }
`},
		{"whitespace only", `{"a": 1}`, `{"a":1}`, `resource "null_resource" "x" {
      ~ doc = jsonencode( # whitespace changes
            {
                a = 1
            }
        )
        # (1 unchanged attribute hidden)
    }
`},
		{"empty list", `[]`, `[ ]`, `resource "null_resource" "x" {
      ~ doc = jsonencode([]) # whitespace changes
        # (1 unchanged attribute hidden)
    }
`},
		{"trailing text is no JSON", `{"a":1} and more`, `{"a":2} and more`, `resource "null_resource" "x" {
      ~ doc = "{\"a\":1} and more" -> "{\"a\":2} and more"
        # (1 unchanged attribute hidden)
    }
`},
		{"object to list", `{"a":1}`, `[1]`, `resource "null_resource" "x" {
      ~ doc = jsonencode(
          ~ {
              - a = 1
            } -> [
              + 1,
            ]
        )
        # (1 unchanged attribute hidden)
    }
`},
		{"JSON to plain", `["x"]`, `x`, `resource "null_resource" "x" {
      ~ doc = jsonencode(
            [
              - "x",
            ]
        ) -> "x"
        # (1 unchanged attribute hidden)
    }
`},
		{"secret inside", `{"password":"s3cr3t-PLANTED-json"}`, `{"password":"s3cr3t-PLANTED-json2"}`, `resource "null_resource" "x" {
      ~ doc = (sensitive value)
      ~ ref = (sensitive value)
    }
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sensitive := map[string]any{}
			if strings.Contains(tc.before, plantedSecret) {
				// The secret is known from a marked value elsewhere.
				sensitive = map[string]any{"ref": true}
			}
			before, after := doc(tc.before), doc(tc.after)
			if len(sensitive) > 0 {
				before["ref"], after["ref"] = "s3cr3t-PLANTED-json", "s3cr3t-PLANTED-json2"
			}
			got := renderChange(t, "1.11.4", "null_resource", before, after, map[string]any{}, sensitive, nil)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got, plantedSecret)
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestRenderDiffReportsWriteErrors(t *testing.T) {
	a, err := Analyze(bytes.NewReader(planJSON(t, rc("terraform_data.a", "managed", "create"))))
	require.NoError(t, err)
	assert.ErrorIs(t, a.RenderDiff(failingWriter{}), os.ErrClosed)
}

func TestRenderDiffOutputs(t *testing.T) {
	js := []byte(`{
  "format_version": "1.2",
  "output_changes": {
    "password": {"actions": ["update"], "before": "old-password-1", "after": "new-password-2", "before_sensitive": true, "after_sensitive": true, "after_unknown": false},
    "conn": {"actions": ["create"], "before": null, "after": {"host": "db", "pw": "new-password-2"}, "before_sensitive": false, "after_sensitive": {"pw": true}, "after_unknown": false},
    "copy": {"actions": ["create"], "before": null, "after": "user:new-password-2@db", "before_sensitive": false, "after_sensitive": false, "after_unknown": false},
    "later": {"actions": ["create"], "before": null, "after": null, "before_sensitive": false, "after_sensitive": false, "after_unknown": true},
    "same": {"actions": ["no-op"], "before": "x", "after": "x", "before_sensitive": false, "after_sensitive": false, "after_unknown": false}
  },
  "applyable": true, "errored": false, "complete": true
}`)
	a, err := Analyze(bytes.NewReader(js))
	require.NoError(t, err)
	assert.Equal(t, 4, a.OutputChanges)
	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	assert.Equal(t, `
Changes to Outputs:
  + conn     = {
      + host = "db"
      + pw   = (sensitive value)
    }
  + copy     = (sensitive value)
  + later    = (known after apply)
  ~ password = (sensitive value)

You can apply this plan to save these new output values to the Terraform
state, without changing any real infrastructure.
`, diff.String())
}

// The coloured diff is the plain one with Terraform's colours added by the
// printer: without the escapes it is the same text, and the symbols,
// addresses and replacement notes carry Terraform's colours.
func TestRenderDiffColour(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range loadCommittedPlans(t) {
		var plain, coloured bytes.Buffer
		require.NoError(t, p.analysis.RenderDiff(&plain))
		require.NoError(t, p.analysis.RenderDiff(&coloured, WithColour()))
		assert.Equal(t, plain.String(), ansiRE.ReplaceAllString(coloured.String(), ""), p.name)
		for name, esc := range map[string]string{
			"create":      "  \x1b[32m+\x1b[0m resource",
			"delete":      "  \x1b[31m-\x1b[0m resource",
			"update":      "  \x1b[33m~\x1b[0m resource",
			"replace":     "\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m resource",
			"address":     "\x1b[1m  # terraform_data.",
			"forces":      "\x1b[31m# forces replacement\x1b[0m",
			"plan line":   "\x1b[1mPlan:\x1b[0m ",
			"cbd replace": "\x1b[32m+\x1b[0m/\x1b[31m-\x1b[0m resource",
		} {
			if strings.Contains(coloured.String(), esc) {
				seen[name] = true
			}
		}
	}
	for _, name := range []string{"create", "delete", "update", "replace", "address", "forces", "plan line", "cbd replace"} {
		assert.True(t, seen[name], "no plan shows %s in colour", name)
	}
}

// isReorder follows Terraform's: every element of before is somewhere in
// after (not counted), the lists as long; a number is not its string.
func TestIsReorder(t *testing.T) {
	n := func(s string) any { return json.Number(s) }
	obj := map[string]any{"a": n("1")}
	for _, tc := range []struct {
		name          string
		before, after []any
		want          bool
	}{
		{"swapped", []any{"a", "b"}, []any{"b", "a"}, true},
		{"changed", []any{"a", "b"}, []any{"b", "c"}, false},
		{"not counted", []any{"a", "a"}, []any{"a", "b"}, true},
		{"number is not string", []any{n("1"), "x"}, []any{"1", "x"}, false},
		{"objects", []any{obj, nil}, []any{nil, map[string]any{"a": n("1")}}, true},
		{"lengths differ", []any{"a"}, []any{"a", "a"}, false},
	} {
		assert.Equal(t, tc.want, isReorder(tc.before, tc.after), tc.name)
	}
}
