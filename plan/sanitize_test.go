package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
	for name, in := range map[string]string{
		"not JSON":      `nope`,
		"array":         `[1]`,
		"a state":       `{"format_version":"1.0","values":{}}`,
		"trailing data": `{"format_version":"1.2","resource_changes":[]} x`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SanitizePlanJSON([]byte(in))
			assert.Error(t, err)
		})
	}
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
}
