package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sanitizer as it was before it streamed: the whole document decoded
// with encoding/json, masked, encoded. SanitizePlanJSON must give the same
// bytes on every plan (TestSanitizeMatchesReference, FuzzSanitizeMatchesReference).

// decodeAnyReference is encoding/json with UseNumber.
func decodeAnyReference(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func sanitizeReference(raw []byte) ([]byte, error) {
	v, err := decodeAnyReference(raw)
	if err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("sanitize plan JSON: not a JSON object; expected the output of `terraform show -json <planfile>`")
	}
	if err := checkPlanKeys(doc["format_version"], func(k string) bool { _, ok := doc[k]; return ok }); err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}

	secrets := newSecretSet()
	sensitiveVars := collectConfigSecrets(doc["configuration"], secrets)
	walkPlanSensitiveReference(doc, sensitiveVars, secrets, false)
	walkPlanSensitiveReference(doc, sensitiveVars, secrets, true)
	maskDocument(doc, secrets, false, "")

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// walkPlanSensitiveReference visits every place of the plan document where Terraform
// marks values sensitive. With mask false it collects those values into
// secrets; with mask true it replaces them.
func walkPlanSensitiveReference(doc map[string]any, sensitiveVars map[string]bool, secrets *secretSet, mask bool) {
	marked := func(v, m any) any {
		if mask {
			return maskMarked(v, m)
		}
		switch m.(type) {
		case nil:
		case bool, map[string]any, []any:
			secrets.addMarked(v, m)
		default:
			// Marks of a shape Terraform never writes: every value is a
			// secret, in doubt.
			secrets.addAll(v)
		}
		return v
	}

	// A variable is sensitive when its declaration says so, and also when
	// the plan has no declaration for it: without one we cannot tell.
	if vars, ok := doc["variables"].(map[string]any); ok {
		for name, v := range vars {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if sensitive, declared := sensitiveVars[name]; sensitive || !declared {
				vm["value"] = marked(vm["value"], true)
			}
		}
	}
	if mask {
		maskConfigDefaults(doc["configuration"])
	}

	change := func(c any) {
		cm, ok := c.(map[string]any)
		if !ok {
			return
		}
		cm["before"] = marked(cm["before"], cm["before_sensitive"])
		cm["after"] = marked(cm["after"], cm["after_sensitive"])
	}
	for _, key := range []string{"resource_changes", "resource_drift"} {
		list, _ := doc[key].([]any)
		for _, rc := range list {
			if rm, ok := rc.(map[string]any); ok {
				change(rm["change"])
			}
		}
	}
	if list, ok := doc["deferred_changes"].([]any); ok {
		for _, d := range list {
			if dm, ok := d.(map[string]any); ok {
				if rm, ok := dm["resource_change"].(map[string]any); ok {
					change(rm["change"])
				}
			}
		}
	}
	if outs, ok := doc["output_changes"].(map[string]any); ok {
		for _, c := range outs {
			change(c)
		}
	}

	stateValues := func(values any) {
		vm, ok := values.(map[string]any)
		if !ok {
			return
		}
		if outs, ok := vm["outputs"].(map[string]any); ok {
			for _, o := range outs {
				om, ok := o.(map[string]any)
				if !ok {
					continue
				}
				if sensitive, _ := om["sensitive"].(bool); sensitive {
					om["value"] = marked(om["value"], true)
				}
			}
		}
		var module func(m any)
		module = func(m any) {
			mm, ok := m.(map[string]any)
			if !ok {
				return
			}
			resources, _ := mm["resources"].([]any)
			for _, r := range resources {
				if rm, ok := r.(map[string]any); ok {
					rm["values"] = marked(rm["values"], rm["sensitive_values"])
				}
			}
			children, _ := mm["child_modules"].([]any)
			for _, c := range children {
				module(c)
			}
		}
		module(vm["root_module"])
	}
	stateValues(doc["planned_values"])
	if ps, ok := doc["prior_state"].(map[string]any); ok {
		stateValues(ps["values"])
	}
}

func TestSanitizeMatchesReference(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(plansDir, "*.json"))
	require.NoError(t, err)
	inputs := map[string][]byte{"drift": []byte(driftPlan), "numbers": []byte(numberPlan)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		inputs[filepath.Base(f)] = b
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			want, err := sanitizeReference(in)
			require.NoError(t, err)
			got, err := SanitizePlanJSON(in)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// FuzzSanitizeMatchesReference: whatever both accept comes out the same;
// SanitizePlanJSON never accepts what the reference refuses, and refuses
// only what the reference refuses or Analyze does (a plan is read strictly:
// duplicate names, invalid UTF-8 and shapes Terraform never writes are
// refused before anything is sanitized).
func FuzzSanitizeMatchesReference(f *testing.F) {
	addPlanSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := sanitizeReference(in)
		got, err := SanitizePlanJSON(in)
		switch {
		case err == nil && werr != nil:
			t.Fatalf("SanitizePlanJSON accepts what the reference refuses (%v)", werr)
		case err != nil && werr == nil:
			if _, aerr := Analyze(bytes.NewReader(in)); aerr == nil {
				t.Fatalf("SanitizePlanJSON error %v on a plan both Analyze and the reference accept", err)
			}
		case err == nil && !bytes.Equal(want, got):
			t.Fatalf("SanitizePlanJSON differs from the reference:\n got %.300s\nwant %.300s", got, want)
		}
	})
}

func TestDeepNestingAsEncodingJSON(t *testing.T) {
	for _, n := range []int{9998, 9999, 10000, 10001, 10002} {
		arr := strings.Repeat("[", n) + strings.Repeat("]", n)
		_, werr := decodeAnyReference([]byte(arr))
		_, err := decodeAny([]byte(arr))
		require.Equal(t, werr == nil, err == nil, "arrays nested %d deep: decodeAny %v, encoding/json %v", n, err, werr)
		serr := newJSONReader([]byte(arr)).skip()
		require.Equal(t, werr == nil, serr == nil, "arrays nested %d deep: jsonReader %v, encoding/json %v", n, serr, werr)
		doc := `{"format_version":"1.2","resource_changes":[],"x":` + arr + `}`
		_, werr = sanitizeReference([]byte(doc))
		_, err = SanitizePlanJSON([]byte(doc))
		require.Equal(t, werr == nil, err == nil, "plan with arrays nested %d deep: %v, reference %v", n, err, werr)
	}
}

// TestSanitizeLargeSectionsMatchReference grows the sensitive fixture's
// sections past streamAbove, so every streaming path (resources of both
// states, child modules, large generic arrays and objects, objects whose
// keys are secrets inside values) meets the reference.
func TestSanitizeLargeSectionsMatchReference(t *testing.T) {
	var doc map[string]any
	raw := readPlan(t, "sensitive")
	v, err := decodeAnyReference(raw)
	require.NoError(t, err)
	doc = v.(map[string]any)

	grow := func(list any, n int) []any {
		l, _ := list.([]any)
		var out []any
		for range n {
			out = append(out, l...)
		}
		return out
	}
	doc["resource_changes"] = grow(doc["resource_changes"], 100)
	doc["resource_drift"] = grow(doc["resource_changes"], 1)
	for _, key := range []string{"planned_values", "prior_state"} {
		vals := doc[key].(map[string]any)
		if key == "prior_state" {
			vals = vals["values"].(map[string]any)
		}
		root := vals["root_module"].(map[string]any)
		root["resources"] = grow(root["resources"], 100)
		root["child_modules"] = []any{
			map[string]any{"address": "module.a", "resources": root["resources"],
				"child_modules": []any{map[string]any{"address": "module.a.module.b", "resources": root["resources"]}}},
		}
	}
	const secret = plantedSecret + "-token-v1" // a secret of the fixture
	secretKeyed := map[string]any{secret: "v", "other": json.Number("1")}
	var big []any
	for i := range 3000 {
		big = append(big, map[string]any{"i": json.Number(fmt.Sprint(i)), "note": "mentions " + secret + " here",
			"value": map[string]any{"nested": secretKeyed, "plain": "x"}})
	}
	doc["relevant_attributes"] = big
	doc["values"] = map[string]any{"list": big, "keyed": secretKeyed}
	doc["checks"] = map[string]any{"many": big, "after": secretKeyed}

	in, err := json.Marshal(doc)
	require.NoError(t, err)
	require.Greater(t, len(in), 10*streamAbove)
	want, err := sanitizeReference(in)
	require.NoError(t, err)
	got, err := SanitizePlanJSON(in)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	// Where a secret is a key outside a value (checks.after), it stays, as it
	// does in the reference: keys outside values are names.
	assert.NotContains(t, strings.ReplaceAll(string(got), `"`+secret+`":"v"`, ""), secret)
}

// maskConfigDefaults replaces the defaults of sensitive variables in every
// module of the configuration section.
func maskConfigDefaults(config any) {
	cfg, _ := config.(map[string]any)
	var walk func(mod map[string]any)
	walk = func(mod map[string]any) {
		vars, _ := mod["variables"].(map[string]any)
		for _, v := range vars {
			vm, _ := v.(map[string]any)
			if sensitive, _ := vm["sensitive"].(bool); sensitive {
				if d, ok := vm["default"]; ok && d != nil {
					vm["default"] = SensitiveValue
				}
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			if child, ok := cm["module"].(map[string]any); ok {
				walk(child)
			}
		}
	}
	if rm, ok := cfg["root_module"].(map[string]any); ok {
		walk(rm)
	}
}

// maskDocument value-masks the whole document (rule 2 of SensitiveValue).
func maskDocument(v any, secrets *secretSet, inValue bool, key string) any {
	switch x := v.(type) {
	case string:
		switch {
		case inValue:
			if secrets.matches(x) {
				return SensitiveValue
			}
		case !structuralKeys[key]:
			// Free text, such as a check's message: mask the secrets in it.
			return secrets.maskText(x)
		}
	case json.Number:
		if (inValue || !structuralKeys[key]) && secrets.matchesNumber(string(x)) {
			return SensitiveValue
		}
	case map[string]any:
		if inValue && secrets.objectKeyMatches(x) {
			return SensitiveValue
		}
		for k, e := range x {
			x[k] = maskDocument(e, secrets, inValue || valueKeys[k], k)
		}
	case []any:
		for i, e := range x {
			x[i] = maskDocument(e, secrets, inValue, key)
		}
	}
	return v
}

// structuralKeys hold names, addresses and enums of the plan format, never
// values: they are not value-masked, so an innocent string that happens to
// equal a secret cannot blank an address or an action.
var structuralKeys = map[string]bool{
	"address": true, "previous_address": true, "module_address": true,
	"mode": true, "type": true, "name": true, "index": true,
	"provider_name": true, "provider_config_key": true,
	"actions": true, "action_reason": true, "reason": true,
	"deposed": true, "deposed_key": true,
	"format_version": true, "terraform_version": true, "timestamp": true,
	"references": true, "source": true, "version_constraint": true,
	"kind": true, "to_display": true, "status": true, "full_name": true,
}

// valueKeys hold values of the infrastructure: below them every string is a
// value and every object key may be one.
var valueKeys = map[string]bool{
	"before": true, "after": true, "values": true, "value": true,
	"default": true, "constant_value": true,
}
