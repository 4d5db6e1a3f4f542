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

func readPlan(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(plansDir, name+".json"))
	require.NoError(t, err)
	return b
}

// TestSanitizePlanJSONSensitiveFixture checks every section of the plan
// where Terraform writes the planted secrets in clear: each one has them
// before sanitizing and none after.
func TestSanitizePlanJSONSensitiveFixture(t *testing.T) {
	raw := readPlan(t, "sensitive")
	clean, err := SanitizePlanJSON(raw)
	require.NoError(t, err)
	assertNoSecret(t, "sanitized plan JSON", clean)

	var before, after map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &before))
	require.NoError(t, json.Unmarshal(clean, &after))
	for _, section := range []string{"variables", "configuration", "prior_state", "planned_values", "resource_changes", "output_changes"} {
		t.Run(section, func(t *testing.T) {
			assert.Contains(t, string(before[section]), plantedSecret, "the fixture plants a secret in %s", section)
			assert.NotContains(t, string(after[section]), plantedSecret)
			assert.Contains(t, string(after[section]), SensitiveValue)
		})
	}
	// The sensitive number: marked in variables, configuration and the
	// resources' input, unmarked in terraform_data's output and the
	// pin_echo output (prior_state and output_changes).
	for _, section := range []string{"variables", "configuration", "prior_state", "resource_changes", "output_changes"} {
		t.Run(section+" number", func(t *testing.T) {
			assert.Contains(t, string(before[section]), plantedNumber, "the fixture plants the number in %s", section)
			assert.NotContains(t, string(after[section]), plantedNumber)
		})
	}

	// What is not sensitive stays, so the JSON is still worth reading.
	assert.Contains(t, string(clean), `"visible-2"`)
	assert.Contains(t, string(clean), `"admin"`)
	assert.Contains(t, string(clean), `"terraform_data.creds"`)

	// And it is still a plan plangate reads the same way.
	a, err := Analyze(bytes.NewReader(clean))
	require.NoError(t, err)
	orig, err := Analyze(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, orig.Counts, a.Counts)
	assert.Equal(t, orig.Deleted, a.Deleted)
}

// TestSanitizePlanJSONAllPlans: every captured plan sanitizes, stays
// analysable with the same counts, and leaks no planted secret.
func TestSanitizePlanJSONAllPlans(t *testing.T) {
	for _, p := range loadCommittedPlans(t) {
		t.Run(p.name, func(t *testing.T) {
			clean, err := SanitizePlanJSON(p.json)
			require.NoError(t, err)
			assertNoSecret(t, "sanitized plan JSON", clean)
			a, err := Analyze(bytes.NewReader(clean))
			require.NoError(t, err)
			assert.Equal(t, p.analysis.Counts, a.Counts)
		})
	}
}

// driftPlan has drift and a change that carry a secret, marked in one place
// and repeated unmarked in others, as terraform_data's output and
// terraform_remote_state do.
const driftPlan = `{
  "format_version": "1.2",
  "terraform_version": "1.11.4",
  "variables": {"region": {"value": "eu-west-1"}, "undeclared": {"value": "undeclared-value"}},
  "resource_drift": [
    {"address": "terraform_data.db", "mode": "managed", "type": "terraform_data", "name": "db",
     "change": {"actions": ["update"],
       "before": {"id": "a", "input": {"pw": "s3cr3t-PLANTED-drift-old"}},
       "after": {"id": "a", "input": {"pw": "s3cr3t-PLANTED-drift-new"}},
       "before_sensitive": {"input": {"pw": true}}, "after_sensitive": {"input": {"pw": true}}, "after_unknown": {}}},
    {"address": "terraform_data.gone", "mode": "managed", "type": "terraform_data", "name": "gone",
     "change": {"actions": ["delete"], "before": {"id": "g"}, "after": null,
       "before_sensitive": {}, "after_sensitive": false, "after_unknown": {}}}
  ],
  "relevant_attributes": [
    {"resource": "terraform_data.db", "attribute": ["input"]},
    {"resource": "terraform_data.gone", "attribute": []}
  ],
  "resource_changes": [
    {"address": "terraform_data.db", "mode": "managed", "type": "terraform_data", "name": "db",
     "change": {"actions": ["update"],
       "before": {"id": "a", "input": {"pw": "s3cr3t-PLANTED-drift-new"}, "output": {"pw": "s3cr3t-PLANTED-drift-new", "note": "prefix s3cr3t-PLANTED-drift-new suffix"}},
       "after": {"id": "a", "input": {"pw": "s3cr3t-PLANTED-drift-old"}},
       "before_sensitive": {"input": {"pw": true}}, "after_sensitive": {"input": {"pw": true}},
       "after_unknown": {"output": true}}}
  ],
  "configuration": {"root_module": {
    "variables": {"region": {}},
    "resources": [{"address": "terraform_data.db", "expressions": {"input": {"constant_value": {"pw": "s3cr3t-PLANTED-drift-old"}}}}]
  }},
  "checks": [{"address": {"kind": "check", "to_display": "check.pw"}, "status": "fail",
    "instances": [{"address": {"to_display": "check.pw"}, "status": "fail",
      "problems": [{"message": "s3cr3t-PLANTED-drift-old is weak"}]}]}],
  "applyable": true, "complete": true, "errored": false
}`

func TestDriftAndUnmarkedCopies(t *testing.T) {
	a, err := Analyze(bytes.NewReader([]byte(driftPlan)))
	require.NoError(t, err)
	assert.Equal(t, []Drift{
		{Address: "terraform_data.db", Actions: []string{"update"}},
		{Address: "terraform_data.gone", Actions: []string{"delete"}},
	}, a.Drift)
	assert.Equal(t, Counts{Change: 1}, a.Counts, "drift is not a planned change")
	assert.Empty(t, a.Deleted, "a deletion found by refresh is not one the plan makes")
	assert.Equal(t, []string{"check.pw: check failed: " + SensitiveValue + " is weak"}, a.Warnings)

	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	assertNoSecret(t, "rendered diff", diff.Bytes())
	assert.Contains(t, diff.String(), "# terraform_data.db has changed")
	assert.Contains(t, diff.String(), "# terraform_data.gone has been deleted")
	assert.Contains(t, diff.String(), "# terraform_data.db will be updated in-place")

	clean, err := SanitizePlanJSON([]byte(driftPlan))
	require.NoError(t, err)
	assertNoSecret(t, "sanitized plan JSON", clean)
	assert.Contains(t, string(clean), `"eu-west-1"`, "declared, non-sensitive variables stay")
	assert.NotContains(t, string(clean), "undeclared-value", "a variable without a declaration is masked, in doubt")
}

func TestSanitizePlanJSONRejectsWhatIsNotAPlan(t *testing.T) {
	for name, tt := range map[string]struct{ in, want string }{
		"not JSON":      {`nope`, "not JSON (invalid JSON at byte 1: invalid character 'o' in literal null"},
		"array":         {`[1]`, "not a JSON object; expected the output of `terraform show -json <planfile>`"},
		"a state":       {`{"format_version":"1.0","values":{}}`, "not a Terraform plan, perhaps a state; expected the output of `terraform show -json <planfile>`"},
		"trailing data": {`{"format_version":"1.2","resource_changes":[]} x`, "unexpected data after the plan object; expected the output of `terraform show -json <planfile>`"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SanitizePlanJSON([]byte(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sanitize plan JSON: ")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// numberPlan has a sensitive number marked in one place and unmarked in
// others, next to numbers that must stay: short ones, and the same digits
// in a structural place.
const numberPlan = `{
  "format_version": "1.2",
  "terraform_version": "1.11.4",
  "resource_changes": [
    {"address": "terraform_data.pin", "mode": "managed", "type": "terraform_data", "name": "pin", "index": 987654,
     "change": {"actions": ["delete"],
       "before": {"id": "a", "input": {"pin": 987654, "tries": 10, "on": true, "ratio": 0.5}, "output": {"pin": 987654.0, "tries": 10, "on": true, "ratio": 0.5, "label": "987654", "url": "https://x/?pin=987654"}, "port": 443},
       "after": null, "before_sensitive": {"input": {"pin": true, "tries": true, "on": true}}, "after_sensitive": false, "after_unknown": {}}}
  ],
  "output_changes": {
    "pin_echo": {"actions": ["delete"], "before": 987654, "after": null, "before_sensitive": false, "after_sensitive": false},
    "tries": {"actions": ["delete"], "before": 10, "after": null, "before_sensitive": false, "after_sensitive": false}
  },
  "checks": [{"address": {"kind": "check", "to_display": "check.pin"}, "status": "fail",
    "instances": [{"address": {"to_display": "check.pin"}, "status": "fail",
      "problems": [{"message": "pin 987654 is weak; 10 tries left"}]}]}],
  "applyable": true, "complete": true, "errored": false
}`

func TestSensitiveNumbers(t *testing.T) {
	a, err := Analyze(bytes.NewReader([]byte(numberPlan)))
	require.NoError(t, err)
	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	clean, err := SanitizePlanJSON([]byte(numberPlan))
	require.NoError(t, err)
	for what, out := range map[string]string{"rendered diff": diff.String(), "sanitized plan JSON": string(clean), "warnings": strings.Join(a.Warnings, "\n")} {
		assert.NotContains(t, strings.ReplaceAll(out, `"index":987654`, ""), "987654", what)
	}
	assert.Contains(t, string(clean), `"url":"(sensitive value)"`, "the number standing alone in a string")
	assert.Equal(t, []string{"check.pin: check failed: pin " + SensitiveValue + " is weak; 10 tries left"}, a.Warnings)

	// Marked values are masked whatever they are; unmarked ones only when
	// they are a secret of 3 significant digits or more, never a bool.
	assert.Contains(t, diff.String(), `- pin   = (sensitive value)`)
	assert.Contains(t, diff.String(), `- tries = 10`, "10 is too short to mask by value")
	assert.Contains(t, diff.String(), `- on    = true`, "bools are masked by mark only")
	assert.Contains(t, diff.String(), `- port   = 443`)
	assert.Contains(t, diff.String(), `- pin_echo = (sensitive value) -> null`)
	assert.Contains(t, diff.String(), `- tries    = 10 -> null`)
	assert.Contains(t, string(clean), `"index":987654`, "an address index is structure, not a value")
	assert.Contains(t, string(clean), `"label":"(sensitive value)"`, "the number's digits as a string")
	assert.Contains(t, string(clean), `"ratio":0.5`)
}

func TestSecretSetMatching(t *testing.T) {
	s := newSecretSet()
	s.add("ab")                // too short to mask anything
	s.add("pin")               // masked only as a whole value
	s.add("correct-horse-bat") // masked inside longer strings too
	assert.False(t, s.matches("ab"))
	assert.True(t, s.matches("pin"))
	assert.False(t, s.matches("spinning"))
	assert.True(t, s.matches("correct-horse-bat"))
	assert.True(t, s.matches("url?token=correct-horse-bat&x=1"))
	assert.False(t, s.matches("correct-horse-ba"))

	s.addNumber("987654")
	s.addNumber("10")     // too few digits to mask by value
	s.addNumber("0.0005") // one significant digit
	s.addNumber("100")
	assert.True(t, s.matchesNumber("987654"))
	assert.True(t, s.matchesNumber("987654.000"), "the same number spelled another way")
	assert.True(t, s.matches("987654"), "a string spelling the number")
	assert.False(t, s.matchesNumber("9876540"))
	assert.False(t, s.matchesNumber("10"))
	assert.False(t, s.matchesNumber("0.0005"))
	assert.True(t, s.matchesNumber("100"))
	s.add("123")
	assert.True(t, s.matchesNumber("123"), "a string secret spelling a number masks the number")
	assert.True(t, s.matches("pin=987654&x"), "a short secret standing alone in a longer string")
	assert.True(t, s.matches("the pin is here"))
	assert.False(t, s.matches("19876543"))
	assert.False(t, s.matches("pin_code"), "underscore joins words")
	assert.False(t, s.matchesNumber("-0"))
}

func TestNumberText(t *testing.T) {
	for in, want := range map[string]struct {
		canonical string
		digits    int
	}{
		"987654":   {"987654", 6},
		"-987654":  {"-987654", 6},
		"1.50":     {"1.5", 2},
		"100":      {"100", 3},
		"0.000123": {"0.000123", 3},
		"1E5":      {"1e5", 1},
		"-0.0":     {"0", 0},
		"10.0":     {"10", 2},
	} {
		c := canonicalNumber(in)
		assert.Equal(t, want.canonical, c, in)
		assert.Equal(t, want.digits, significantDigits(c), in)
	}
}

// diagnostic is Terraform's error for a failed precondition whose message
// interpolates values that lost their sensitive marks.
const diagnostic = `Error: Resource precondition failed

  on main.tf line 12, in resource "terraform_data" "x":
  12:     condition = terraform_data.pin.output != 987654
    ├────────────────
    │ terraform_data.pin.output is 987654
    │ terraform_data.pw.output is "s3cr3t-PLANTED-diag"
    │ terraform_data.key.output is "s3cr3t-PLANTED-multi\nline \"quoted\""

The pin 987654 (or "987654") is not allowed with s3cr3t-PLANTED-diag; 10 tries left.`

func TestMaskerMaskText(t *testing.T) {
	m := NewMasker()
	m.AddValue(map[string]any{
		"pw":    "s3cr3t-PLANTED-diag",
		"pin":   json.Number("987654"),
		"key":   "s3cr3t-PLANTED-multi\nline \"quoted\"",
		"flag":  true,
		"short": "ab",
		"tries": json.Number("10"),
	})
	got := m.MaskText(diagnostic)
	assertNoSecret(t, "masked diagnostic", []byte(got))
	assert.Contains(t, got, "terraform_data.pin.output is (sensitive value)\n")
	assert.Contains(t, got, `terraform_data.key.output is "(sensitive value)"`, "the escaped spelling of a multi-line secret")
	assert.Contains(t, got, `The pin (sensitive value) (or "(sensitive value)") is not allowed with (sensitive value);`)
	for _, kept := range []string{"line 12", "10 tries left", `"terraform_data" "x"`} {
		assert.Contains(t, got, kept)
	}
	// A short secret inside a longer number or word is not that secret.
	assert.Equal(t, "19876543, 9876541, pin_987654, (sensitive value)", m.MaskText("19876543, 9876541, pin_987654, 987654"))

	// Short secrets only where they stand alone; long ones anywhere.
	m = NewMasker()
	m.AddValue([]any{"pin", float64(123456), 4242, "correct-horse-battery"})
	assert.Equal(t, "spinning (sensitive value), (sensitive value): 4242(sensitive value)x",
		m.MaskText("spinning pin, 123456: 4242correct-horse-batteryx"))
	assert.Equal(t, "nothing to see", m.MaskText("nothing to see"))
	assert.Equal(t, "", m.MaskText(""))

	var none *Masker
	assert.Equal(t, diagnostic, none.MaskText(diagnostic))
	assert.Equal(t, diagnostic, NewMasker().MaskText(diagnostic))
}

func TestMaskerMaskValue(t *testing.T) {
	m := NewMasker()
	m.AddValue(map[string]any{"a": []any{"s3cr3t-PLANTED-value", json.Number("987654"), true}})
	in := map[string]any{
		"echo":    "s3cr3t-PLANTED-value",
		"url":     "https://h/?t=s3cr3t-PLANTED-value",
		"pin":     json.Number("987654"),
		"pinf":    float64(987654),
		"list":    []any{"ok", json.Number("987654"), true, nil, json.Number("10")},
		"keyed":   map[string]any{"s3cr3t-PLANTED-value": "x"},
		"visible": map[string]any{"user": "admin", "n": json.Number("42")},
	}
	out := m.MaskValue(in)
	js, err := json.Marshal(out)
	require.NoError(t, err)
	assertNoSecret(t, "masked value", js)
	assert.Equal(t, map[string]any{
		"echo":    SensitiveValue,
		"url":     SensitiveValue,
		"pin":     SensitiveValue,
		"pinf":    SensitiveValue,
		"list":    []any{"ok", SensitiveValue, true, nil, json.Number("10")},
		"keyed":   SensitiveValue,
		"visible": map[string]any{"user": "admin", "n": json.Number("42")},
	}, out)
	assert.Equal(t, json.Number("987654"), in["pin"], "the input is not modified")
	assert.Equal(t, "ok", in["list"].([]any)[0])

	// Values not shaped like decoded JSON go through JSON.
	type pair struct {
		Pin  int    `json:"pin"`
		Name string `json:"name"`
	}
	assert.Equal(t, map[string]any{"pin": SensitiveValue, "name": "n"}, m.MaskValue(pair{Pin: 987654, Name: "n"}))
	assert.Equal(t, []any{SensitiveValue, "b"}, m.MaskValue([]string{"s3cr3t-PLANTED-value", "b"}))
	assert.Equal(t, SensitiveValue, m.MaskValue(func() {}), "what cannot be inspected is masked")
	assert.Nil(t, m.MaskValue(nil))
	assert.Equal(t, 12, m.MaskValue(12))
}

// TestAnalysisMasker: the plan's Masker knows every planted secret of the
// sensitive fixture, including a sensitive variable's default, a remote
// state's sensitive output and the number; adding to it leaves the Analysis
// alone.
func TestAnalysisMasker(t *testing.T) {
	a, err := Analyze(bytes.NewReader(readPlan(t, "sensitive")))
	require.NoError(t, err)
	m := a.Masker()
	var raw map[string]any
	require.NoError(t, json.Unmarshal(readPlan(t, "sensitive"), &raw))
	var secrets []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if strings.Contains(x, plantedSecret) {
				secrets = append(secrets, x)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(raw)
	require.GreaterOrEqual(t, len(secrets), 5)
	for _, secret := range append(secrets, plantedNumber) {
		text := "Error: Invalid value\n\n  with var.x,\n  value " + secret + " (\"" + secret + "\") rejected."
		got := m.MaskText(text)
		assertNoSecret(t, "masked diagnostic", []byte(got))
		assert.Contains(t, got, "with var.x")
	}

	m.AddValue("visible-2")
	assert.Equal(t, SensitiveValue, m.MaskText("visible-2"))
	var diff bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	assert.Contains(t, diff.String(), `"visible-2"`, "the Analysis's own secrets are unchanged")
}

// The switches the sanitizer uses say what the maps (the reference's) say.
func TestKeySwitchesMatchTheMaps(t *testing.T) {
	for k := range structuralKeys {
		assert.True(t, isStructuralKey(k), k)
	}
	for k := range valueKeys {
		assert.True(t, isValueKey(k), k)
	}
	for _, k := range []string{"", "values2", "Address", "id", "input"} {
		assert.Equal(t, structuralKeys[k], isStructuralKey(k), k)
		assert.Equal(t, valueKeys[k], isValueKey(k), k)
	}
}
