package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sectionSecrets are one secret per section of a plan that can hold a
// sensitive value, each marked (or declared) sensitive only there.
var sectionSecrets = map[string]string{
	"variables":             "s3cr3t-variables-1111",
	"configuration default": "s3cr3t-configdefault-2222",
	"configuration output":  "s3cr3t-configoutput-3333",
	"prior_state":           "s3cr3t-prior-4444",
	"prior_state output":    "s3cr3t-prioroutput-5555",
	"planned_values":        "s3cr3t-planned-6666",
	"planned_values output": "s3cr3t-plannedoutput-7777",
	"resource_changes":      "s3cr3t-change-8888",
	"resource_drift":        "s3cr3t-drift-9999",
	"deferred_changes":      "s3cr3t-deferred-aaaa",
	"output_changes":        "s3cr3t-outputchange-bbbb",
}

// secretsPlan is a plan JSON with each of sectionSecrets in its section,
// and every one of them also unmarked in one rendered change
// (terraform_data.echo's after) and in a check's message: the places where
// a secret shows if the set that masks them missed its section.
func secretsPlan(t *testing.T) []byte {
	t.Helper()
	s := sectionSecrets
	var echoes []any
	for _, v := range s {
		echoes = append(echoes, v)
	}
	marked := func(v string) map[string]any {
		return map[string]any{"input": v}
	}
	mark := map[string]any{"input": true}
	change := func(addr, v string) map[string]any {
		return map[string]any{"address": addr, "mode": "managed", "type": "terraform_data", "name": strings.TrimPrefix(addr, "terraform_data."),
			"change": map[string]any{"actions": []any{"update"}, "before": marked("old"), "after": marked(v),
				"before_sensitive": map[string]any{}, "after_sensitive": mark, "after_unknown": map[string]any{}}}
	}
	state := func(v, out string) map[string]any {
		return map[string]any{
			"outputs":     map[string]any{"token": map[string]any{"sensitive": true, "value": out}},
			"root_module": map[string]any{"resources": []any{map[string]any{"address": "terraform_data.x", "mode": "managed", "type": "terraform_data", "name": "x", "values": marked(v), "sensitive_values": mark}}},
		}
	}
	doc := map[string]any{
		"format_version": "1.2", "terraform_version": "1.11.4", "applyable": true, "complete": true, "errored": false,
		"variables": map[string]any{"pw": map[string]any{"value": s["variables"]}},
		"configuration": map[string]any{"root_module": map[string]any{
			"variables": map[string]any{"pw": map[string]any{"sensitive": true}},
			"module_calls": map[string]any{"child": map[string]any{"module": map[string]any{
				"variables": map[string]any{"key": map[string]any{"sensitive": true, "default": s["configuration default"]}},
				"outputs":   map[string]any{"k": map[string]any{"sensitive": true, "expression": map[string]any{"constant_value": s["configuration output"]}}},
			}}},
		}},
		"prior_state":    map[string]any{"format_version": "1.0", "values": state(s["prior_state"], s["prior_state output"])},
		"planned_values": state(s["planned_values"], s["planned_values output"]),
		"resource_changes": []any{
			change("terraform_data.x", s["resource_changes"]),
			map[string]any{"address": "terraform_data.echo", "mode": "managed", "type": "terraform_data", "name": "echo",
				"change": map[string]any{"actions": []any{"create"}, "before": nil, "after": map[string]any{"input": echoes},
					"after_sensitive": map[string]any{}, "after_unknown": map[string]any{}}},
		},
		"resource_drift":   []any{change("terraform_data.x", s["resource_drift"])},
		"deferred_changes": []any{map[string]any{"reason": "provider_config_unknown", "resource_change": change("terraform_data.later", s["deferred_changes"])}},
		"output_changes": map[string]any{"token": map[string]any{"actions": []any{"update"}, "before": "old-token-value", "after": s["output_changes"],
			"before_sensitive": false, "after_sensitive": true}},
		"checks": []any{map[string]any{"address": map[string]any{"kind": "check", "to_display": "check.c"}, "status": "fail",
			"instances": []any{map[string]any{"address": map[string]any{"to_display": "check.c"}, "status": "fail",
				"problems": []any{map[string]any{"message": "saw " + strings.Join(sortedValues(s), " and ")}}}}}},
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// One secret set per plan, collected once from every section: the diff,
// the sanitized plan JSON, the check warnings and the Masker (for
// Terraform's diagnostics) all mask every section's secret.
func TestOneSecretSetCoversEverySection(t *testing.T) {
	raw := secretsPlan(t)
	a, err := AnalyzeBytes(raw)
	require.NoError(t, err)

	var diff, clean bytes.Buffer
	require.NoError(t, a.RenderDiff(&diff))
	require.NoError(t, a.WriteSanitized(&clean))
	require.True(t, json.Valid(clean.Bytes()))
	outputs := map[string]string{
		"diff":               diff.String(),
		"sanitized plan":     clean.String(),
		"check warnings":     strings.Join(a.Warnings, "\n"),
		"masked diagnostic":  a.Masker().MaskText("Error: " + strings.Join(sortedValues(sectionSecrets), ", ")),
		"SanitizePlanJSON()": string(must(SanitizePlanJSON(raw))),
	}
	require.Contains(t, diff.String(), "terraform_data.echo will be created", "the echo is rendered")
	require.NotEmpty(t, a.Warnings)
	for section, secret := range sectionSecrets {
		for name, out := range outputs {
			assert.NotContains(t, out, secret, "%s's secret in the %s", section, name)
		}
	}
	assert.Contains(t, diff.String(), SensitiveValue)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
