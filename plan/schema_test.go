package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaPlan changes one resource of a provider's: a tag, a rule of a
// list, a note, a port of a set; its drift changes an attribute the plan
// does not read.
const schemaPlan = `{
  "format_version": "1.2", "terraform_version": "1.11.4",
  "resource_changes": [
    {"address": "x_thing.a", "mode": "managed", "type": "x_thing", "name": "a",
     "provider_name": "registry.terraform.io/acme/x",
     "change": {"actions": ["update"],
       "before": {"id": "i-1", "name": "n", "tags": {"team": "web", "tier": "gold-before"}, "rule": [{"port": 80}], "note": "note-before", "ports": [1, 2]},
       "after":  {"id": "i-1", "name": "n", "tags": {"team": "web", "tier": "gold-after"}, "rule": [{"port": 443}], "note": "note-after", "ports": [1, 3]},
       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}}
  ],
  "applyable": true, "complete": true, "errored": false
}`

const schemaProvider = "registry.terraform.io/acme/x"

// schemaOf is provider schemas for x_thing with the given block.
func schemaOf(block string) []byte {
	return []byte(`{"format_version":"1.0","provider_schemas":{"` + schemaProvider + `":{"resource_schemas":{"x_thing":{"version":0,"block":` + block + `}}}}}`)
}

// genuineSchema describes schemaPlan's resource truly.
const genuineSchema = `{"attributes":{
  "id":{"type":"string","computed":true},
  "name":{"type":"string","required":true},
  "tags":{"type":["map","string"],"optional":true},
  "note":{"type":"string","optional":true},
  "ports":{"type":["set","number"],"optional":true}},
 "block_types":{"rule":{"nesting_mode":"list","block":{"attributes":{"port":{"type":"number","required":true}}}}}}`

func renderWithSchema(t testing.TB, planJSON string, schema []byte) string {
	t.Helper()
	a, err := AnalyzeBytes([]byte(planJSON))
	require.NoError(t, err)
	s, err := ReadSchemas(schema, a.SchemaWant())
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, a.RenderDiff(&out, WithSchemas(s)))
	return out.String()
}

// With its schema a provider's resource renders as Terraform renders it:
// the map's keys quoted (tags, an important attribute, in full), the list
// block as a block after the attributes, the set without context.
func TestRenderWithSchema(t *testing.T) {
	got := renderWithSchema(t, schemaPlan, schemaOf(genuineSchema))
	want := `
Terraform will perform the following actions:

  # x_thing.a will be updated in-place
  ~ resource "x_thing" "a" {
        id    = "i-1"
        name  = "n"
      ~ note  = "note-before" -> "note-after"
      ~ ports = [
          - 2,
          + 3,
            # (1 unchanged element hidden)
        ]
      ~ tags  = {
            "team" = "web"
          ~ "tier" = "gold-before" -> "gold-after"
        }

      ~ rule {
          ~ port = 80 -> 443
        }
    }

Plan: 0 to add, 1 to change, 0 to destroy.
`
	assert.Equal(t, want, got)
}

// A schema shapes the text, never what it says: whatever a schema claims
// (nothing, wrong types, blocks for attributes, write-only for a value
// that is there), every changed value of the plan is still shown.
func TestSchemaHidesNothing(t *testing.T) {
	for name, block := range map[string]string{
		"empty":       `{}`,
		"wrong types": `{"attributes":{"tags":{"type":"string"},"rule":{"type":["map","string"]},"note":{"type":["list","string"]},"ports":{"type":["object",{"q":"bool"}]}}}`,
		"blocks for attributes": `{"block_types":{"tags":{"nesting_mode":"single","block":{}},"note":{"nesting_mode":"set","block":{"attributes":{"other":{"type":"string"}}}},
			"ports":{"nesting_mode":"map","block":{}},"rule":{"nesting_mode":"single","block":{"attributes":{"port":{"type":"string"}}}}}}`,
		"write-only":       `{"attributes":{"note":{"type":"string","write_only":true},"tags":{"type":["map","string"],"write_only":true}}}`,
		"nested attribute": `{"attributes":{"rule":{"nested_type":{"nesting_mode":"set","attributes":{"other":{"type":"string"}}}},"tags":{"nested_type":{"nesting_mode":"list","attributes":{}}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			got := renderWithSchema(t, schemaPlan, schemaOf(block))
			for _, v := range []string{"gold-before", "gold-after", "80", "443", "note-before", "note-after", "2", "3"} {
				// As a word: "3" must not pass for being in "443".
				assert.Regexp(t, `\b`+regexp.QuoteMeta(v)+`\b`, got, "the diff hides %s:\n%s", v, got)
			}
		})
	}
}

// ReadSchemas keeps only the schemas asked for, and what it writes reads
// back the same (as approve reads a plan's SchemaFile).
func TestReadSchemasTrimsAndRoundTrips(t *testing.T) {
	raw := []byte(`{"format_version":"1.0","provider_schemas":{
	  "` + schemaProvider + `":{"provider":{"version":0,"block":{}},
	    "resource_schemas":{"x_thing":{"version":0,"block":` + genuineSchema + `},"x_other":{"version":1,"block":{"attributes":{"a":{"type":"string","description":"long text"}}}}},
	    "data_source_schemas":{"x_thing":{"version":0,"block":{}}}},
	  "registry.terraform.io/acme/y":{"resource_schemas":{"y_thing":{"version":0,"block":{}}}}}}`)
	s, err := ReadSchemas(raw, SchemaWant{schemaProvider: {"resource.x_thing": true}})
	require.NoError(t, err)
	require.Len(t, s.Providers, 1)
	assert.Len(t, s.Providers[schemaProvider].Resources, 1)
	assert.Empty(t, s.Providers[schemaProvider].DataSources)

	dir := t.TempDir()
	require.NoError(t, s.Write(filepath.Join(dir, SchemaFile)))
	back, err := LoadSchemas(dir)
	require.NoError(t, err)
	a, err := AnalyzeBytes([]byte(schemaPlan))
	require.NoError(t, err)
	var first, second bytes.Buffer
	require.NoError(t, a.RenderDiff(&first, WithSchemas(s)))
	require.NoError(t, a.RenderDiff(&second, WithSchemas(back)))
	assert.Equal(t, first.String(), second.String())

	none, err := LoadSchemas(t.TempDir())
	require.NoError(t, err)
	assert.Nil(t, none, "a plan made without schemas has none")
}

func TestReadSchemasRefusesWhatIsNotOne(t *testing.T) {
	for name, raw := range map[string]string{
		"not JSON":          `{"format_version":`,
		"no format version": `{"provider_schemas":{}}`,
		"a plan":            `{"format_version":"1.2","resource_changes":[]}x`,
		"unknown type":      string(schemaOf(`{"attributes":{"a":{"type":"strung"}}}`)),
		"unknown nesting":   string(schemaOf(`{"block_types":{"b":{"nesting_mode":"tree","block":{}}}}`)),
		"no block":          `{"format_version":"1.0","provider_schemas":{"p":{"resource_schemas":{"x_thing":{"version":0}}}}}`,
		"too deep":          string(schemaOf(`{"attributes":{"a":{"type":` + strings.Repeat(`["list",`, 40) + `"string"` + strings.Repeat(`]`, 40) + `}}}`)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadSchemas([]byte(raw), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "reading provider schemas")
		})
	}
}

// A plan's drift shows only the attributes that bear on its changes, as
// Terraform's does; a drifted resource with none of them is not shown.
// check_drift (RenderDrift) shows all of it.
func TestDriftShowsWhatIsRelevant(t *testing.T) {
	const planJSON = `{
  "format_version": "1.2", "terraform_version": "1.11.4",
  "relevant_attributes": [{"resource": "x_thing.a", "attribute": ["name"]}],
  "resource_drift": [
    {"address": "x_thing.a", "mode": "managed", "type": "x_thing", "name": "a", "provider_name": "registry.terraform.io/acme/x",
     "change": {"actions": ["update"], "before": {"id": "i-1", "name": "n1", "note": "by-hand-before"}, "after": {"id": "i-1", "name": "n2", "note": "by-hand-after"},
       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}},
    {"address": "x_thing.b", "mode": "managed", "type": "x_thing", "name": "b", "provider_name": "registry.terraform.io/acme/x",
     "change": {"actions": ["update"], "before": {"id": "i-2", "note": "b-before"}, "after": {"id": "i-2", "note": "b-after"},
       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}}
  ],
  "resource_changes": [
    {"address": "x_thing.c", "mode": "managed", "type": "x_thing", "name": "c", "provider_name": "registry.terraform.io/acme/x",
     "change": {"actions": ["create"], "before": null, "after": {"name": "n2"}, "after_unknown": {"id": true}, "before_sensitive": false, "after_sensitive": {}}}
  ],
  "applyable": true, "complete": true, "errored": false
}`
	for _, schema := range []string{"", genuineSchema} {
		a, err := AnalyzeBytes([]byte(planJSON))
		require.NoError(t, err)
		var opts []RenderOption
		if schema != "" {
			s, err := ReadSchemas(schemaOf(schema), nil)
			require.NoError(t, err)
			opts = append(opts, WithSchemas(s))
		}
		var diff, drift bytes.Buffer
		require.NoError(t, a.RenderDiff(&diff, opts...))
		assert.Contains(t, diff.String(), `~ name = "n1" -> "n2"`)
		assert.NotContains(t, diff.String(), "by-hand", "an attribute the plan does not read shows as unchanged")
		assert.NotContains(t, diff.String(), "x_thing.b has changed", "nothing of b bears on the plan")
		require.NoError(t, a.RenderDrift(&drift, opts...))
		for _, v := range []string{"by-hand-after", "b-after", `"n2"`} {
			assert.Contains(t, drift.String(), v)
		}
	}
}

// FuzzReadSchemas reads any bytes as provider schemas, and renders a plan
// with whatever it accepts: it never panics, and the plan's changed values
// are all in the text.
func FuzzReadSchemas(f *testing.F) {
	f.Add(schemaOf(genuineSchema))
	f.Add(schemaOf(`{}`))
	f.Add(schemaOf(`{"attributes":{"tags":{"type":["object",{"tier":"number"},["tier"]]},"note":{"type":["tuple",["string","bool"]]}}}`))
	f.Add(schemaOf(`{"block_types":{"rule":{"nesting_mode":"map","block":{"block_types":{"port":{"nesting_mode":"group","block":{}}}}}}}`))
	f.Add(schemaOf(`{"attributes":{"rule":{"nested_type":{"nesting_mode":"list","attributes":{"port":{"type":"dynamic","sensitive":true}}}}}}`))
	if b, err := os.ReadFile(filepath.Join("testdata", "aws-fidelity", "fidelity.tf")); err == nil {
		f.Add(b) // not a schema at all
	}
	a0, err := AnalyzeBytes([]byte(schemaPlan))
	if err != nil {
		f.Fatal(err)
	}
	want := a0.SchemaWant()
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ReadSchemas(raw, want)
		if err != nil {
			return
		}
		a, err := AnalyzeBytes([]byte(schemaPlan))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := a.RenderDiff(&out, WithSchemas(s)); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"gold-after", "443", "note-after", "3"} {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(out.String()) {
				t.Fatalf("the diff hides %s:\n%s", v, out.String())
			}
		}
	})
}
