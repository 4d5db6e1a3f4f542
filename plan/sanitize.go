package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// SanitizePlanJSON returns the plan JSON (`terraform show -json <planfile>`)
// with every sensitive value replaced by "(sensitive value)": in variables,
// configuration (variable defaults, constant expressions), prior_state,
// planned_values, resource_changes and resource_drift (before and after),
// deferred_changes, output_changes, and anywhere else a sensitive string is
// repeated unmarked (see the comment on SensitiveValue's masking rules).
// Everything else is kept, so the result is still a plan JSON a tool can
// read. Object keys come out sorted; the JSON is compact.
//
// It works in two passes over raw without decoding the whole document:
// the first collects the secrets, the second masks and writes. The large
// sections (resource_changes, resource_drift, deferred_changes, the
// resources of planned_values and prior_state, any other large array or
// object) are decoded one element at a time, so memory beyond raw and the
// result stays proportional to the largest element, not to the plan.
func SanitizePlanJSON(raw []byte) ([]byte, error) {
	out, err := sanitizePlan(raw)
	if err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}
	return out, nil
}

func sanitizePlan(raw []byte) ([]byte, error) {
	p := valueParser{b: raw}
	p.space()
	if p.i < len(raw) && raw[p.i] != '{' {
		if err := p.skip(0); err != nil {
			return nil, err
		}
		return nil, errors.New("not a JSON object; expected the output of `terraform show -json <planfile>`")
	}
	top, err := objectMembers(raw, false)
	if err != nil {
		return nil, err
	}
	sections := map[string][]byte{}
	for _, m := range top {
		sections[m.key] = m.val
	}
	var formatVersion any
	if fv, ok := sections["format_version"]; ok {
		if formatVersion, err = decodeAny(fv); err != nil {
			return nil, err
		}
	}
	if err := checkPlanKeys(formatVersion, func(k string) bool { _, ok := sections[k]; return ok }); err != nil {
		return nil, err
	}

	z := &sanitizer{secrets: newSecretSet()}
	if err := z.collect(sections); err != nil {
		return nil, err
	}

	z.out = bytes.NewBuffer(make([]byte, 0, len(raw)+len(raw)/8))
	z.out.WriteByte('{')
	for i, m := range top {
		if i > 0 {
			z.out.WriteByte(',')
		}
		z.writeKey(m.key)
		if err := z.section(m.key, m.val); err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
	}
	z.out.WriteByte('}')
	return z.out.Bytes(), nil
}

// sanitizer holds one SanitizePlanJSON run.
type sanitizer struct {
	secrets       *secretSet
	sensitiveVars map[string]bool
	out           *bytes.Buffer
	scratch       []byte
}

// collect is the first pass: every value the plan marks sensitive, the
// sensitive variables (and those without a declaration), the sensitive
// defaults of the configuration and the sensitive outputs.
func (z *sanitizer) collect(sections map[string][]byte) error {
	config, err := decodeAny(sections["configuration"])
	if err != nil {
		return err
	}
	z.sensitiveVars = collectConfigSecrets(config, z.secrets)

	if vars, err := decodeAny(sections["variables"]); err != nil {
		return err
	} else if vm, ok := vars.(map[string]any); ok {
		for name, v := range vm {
			if m, ok := v.(map[string]any); ok && z.variableSensitive(name) {
				z.secrets.addMarked(m["value"], true)
			}
		}
	}

	change := func(c any) {
		if cm, ok := c.(map[string]any); ok {
			z.secrets.addMarked(cm["before"], cm["before_sensitive"])
			z.secrets.addMarked(cm["after"], cm["after_sensitive"])
		}
	}
	for _, key := range []string{"resource_changes", "resource_drift", "deferred_changes"} {
		b := sections[key]
		if firstByte(b) != '[' {
			continue
		}
		err := eachElement(b, func(e []byte) error {
			if key == "deferred_changes" {
				e = fields(e, "resource_change")[0]
			}
			f := fields(fields(e, "change")[0], "before", "before_sensitive", "after", "after_sensitive")
			if err := z.collectMarked(f[0], f[1]); err != nil {
				return err
			}
			return z.collectMarked(f[2], f[3])
		})
		if err != nil {
			return err
		}
	}
	if outs, err := decodeAny(sections["output_changes"]); err != nil {
		return err
	} else if om, ok := outs.(map[string]any); ok {
		for _, c := range om {
			change(c)
		}
	}

	if err := z.collectStateValues(sections["planned_values"]); err != nil {
		return err
	}
	if ps := sections["prior_state"]; firstByte(ps) == '{' {
		members, err := objectMembers(ps, true)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.key == "values" {
				if err := z.collectStateValues(m.val); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (z *sanitizer) variableSensitive(name string) bool {
	sensitive, declared := z.sensitiveVars[name]
	return sensitive || !declared
}

// collectMarked adds the leaves of the value v that the mask marks
// sensitive (both as JSON bytes, nil when absent). Most masks mark
// nothing: the value is decoded only when the mask holds a true.
func (z *sanitizer) collectMarked(v, mask []byte) error {
	if !bytes.Contains(mask, []byte("true")) {
		return nil
	}
	val, err := decodeAny(v)
	if err != nil {
		return err
	}
	m, err := decodeAny(mask)
	if err != nil {
		return err
	}
	z.secrets.addMarked(val, m)
	return nil
}

// collectStateValues collects the secrets of a state's values (the
// planned_values section, prior_state's values): sensitive outputs, and the
// values of every module's resources at the paths sensitive_values marks.
func (z *sanitizer) collectStateValues(b []byte) error {
	if firstByte(b) != '{' {
		return nil
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	for _, m := range members {
		switch m.key {
		case "outputs":
			outs, err := decodeAny(m.val)
			if err != nil {
				return err
			}
			if om, ok := outs.(map[string]any); ok {
				for _, o := range om {
					if o, ok := o.(map[string]any); ok {
						if sensitive, _ := o["sensitive"].(bool); sensitive {
							z.secrets.addMarked(o["value"], true)
						}
					}
				}
			}
		case "root_module":
			if err := z.collectModule(m.val, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func (z *sanitizer) collectModule(b []byte, depth int) error {
	if firstByte(b) != '{' || depth > maxJSONDepth {
		return nil
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	for _, m := range members {
		switch m.key {
		case "resources":
			if firstByte(m.val) == '[' {
				err = eachElement(m.val, func(e []byte) error {
					f := fields(e, "values", "sensitive_values")
					return z.collectMarked(f[0], f[1])
				})
			}
		case "child_modules":
			if firstByte(m.val) == '[' {
				err = eachElement(m.val, func(e []byte) error { return z.collectModule(e, depth+1) })
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// The second pass writes every section masked: first by mark, where
// Terraform marks values sensitive, then by value (maskDocument), with the
// same context (inValue, key) maskDocument would have on the whole
// document.

// section writes one top-level section.
func (z *sanitizer) section(key string, b []byte) error {
	markChange := func(c any) {
		if cm, ok := c.(map[string]any); ok {
			cm["before"] = maskMarked(cm["before"], cm["before_sensitive"])
			cm["after"] = maskMarked(cm["after"], cm["after_sensitive"])
		}
	}
	switch key {
	case "variables":
		return z.decoded(b, false, key, func(v any) {
			vm, _ := v.(map[string]any)
			for name, e := range vm {
				if m, ok := e.(map[string]any); ok && z.variableSensitive(name) {
					m["value"] = maskMarked(m["value"], true)
				}
			}
		})
	case "configuration":
		return z.decoded(b, false, key, maskConfigDefaults)
	case "output_changes":
		return z.decoded(b, false, key, func(v any) {
			om, _ := v.(map[string]any)
			for _, c := range om {
				markChange(c)
			}
		})
	case "resource_changes", "resource_drift":
		return z.array(b, false, key, func(e []byte) error {
			return z.decoded(e, false, key, func(v any) {
				rm, _ := v.(map[string]any)
				markChange(rm["change"])
			})
		})
	case "deferred_changes":
		return z.array(b, false, key, func(e []byte) error {
			return z.decoded(e, false, key, func(v any) {
				dm, _ := v.(map[string]any)
				rm, _ := dm["resource_change"].(map[string]any)
				markChange(rm["change"])
			})
		})
	case "planned_values":
		return z.stateValues(b, false, key)
	case "prior_state":
		return z.object(b, false, key, func(k string, v []byte, inValue bool) error {
			if k == "values" {
				return z.stateValues(v, inValue, k)
			}
			return z.generic(v, inValue, k)
		})
	}
	return z.generic(b, valueKeys[key], key)
}

func (z *sanitizer) stateValues(b []byte, inValue bool, key string) error {
	return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error {
		switch k {
		case "outputs":
			return z.decoded(v, inValue, k, func(v any) {
				om, _ := v.(map[string]any)
				for _, o := range om {
					if o, ok := o.(map[string]any); ok {
						if sensitive, _ := o["sensitive"].(bool); sensitive {
							o["value"] = maskMarked(o["value"], true)
						}
					}
				}
			})
		case "root_module":
			return z.module(v, inValue, k)
		}
		return z.generic(v, inValue, k)
	})
}

func (z *sanitizer) module(b []byte, inValue bool, key string) error {
	return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error {
		switch k {
		case "resources":
			return z.array(v, inValue, k, func(e []byte) error {
				return z.decoded(e, inValue, k, func(v any) {
					if rm, ok := v.(map[string]any); ok {
						rm["values"] = maskMarked(rm["values"], rm["sensitive_values"])
					}
				})
			})
		case "child_modules":
			return z.array(v, inValue, k, func(e []byte) error { return z.module(e, inValue, k) })
		}
		return z.generic(v, inValue, k)
	})
}

// streamAbove is the size above which a value other sections hold is
// written member by member, or element by element, rather than decoded
// whole.
const streamAbove = 64 << 10

// generic writes a value masked by value only.
func (z *sanitizer) generic(b []byte, inValue bool, key string) error {
	if len(b) > streamAbove {
		switch firstByte(b) {
		case '{':
			return z.object(b, inValue, key, func(k string, v []byte, inValue bool) error { return z.generic(v, inValue, k) })
		case '[':
			return z.array(b, inValue, key, func(e []byte) error { return z.generic(e, inValue, key) })
		}
	}
	return z.decoded(b, inValue, key, nil)
}

// decoded decodes a value, masks it by mark (mark, if not nil), then by
// value, and writes it.
func (z *sanitizer) decoded(b []byte, inValue bool, key string, mark func(any)) error {
	v, err := decodeAny(b)
	if err != nil {
		return err
	}
	if mark != nil {
		mark(v)
	}
	z.scratch = appendJSON(z.scratch[:0], maskDocument(v, z.secrets, inValue, key))
	z.out.Write(z.scratch)
	return nil
}

// object writes an object member by member, keys sorted, each member's
// value written by each with its maskDocument context. Anything but an
// object is written as generic would. Like maskDocument, it replaces an
// object inside a value whose keys hold a secret whole.
func (z *sanitizer) object(b []byte, inValue bool, key string, each func(k string, v []byte, inValue bool) error) error {
	if firstByte(b) != '{' {
		return z.decoded(b, inValue, key, nil)
	}
	members, err := objectMembers(b, true)
	if err != nil {
		return err
	}
	if inValue && !z.secrets.empty() {
		for _, m := range members {
			if z.secrets.matches(m.key) {
				z.scratch = appendJSON(z.scratch[:0], SensitiveValue)
				z.out.Write(z.scratch)
				return nil
			}
		}
	}
	z.out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			z.out.WriteByte(',')
		}
		z.writeKey(m.key)
		if err := each(m.key, m.val, inValue || valueKeys[m.key]); err != nil {
			return err
		}
	}
	z.out.WriteByte('}')
	return nil
}

// array writes an array element by element with each. Anything but an
// array is written as generic would.
func (z *sanitizer) array(b []byte, inValue bool, key string, each func(e []byte) error) error {
	if firstByte(b) != '[' {
		return z.decoded(b, inValue, key, nil)
	}
	z.out.WriteByte('[')
	n := 0
	err := eachElement(b, func(e []byte) error {
		if n > 0 {
			z.out.WriteByte(',')
		}
		n++
		return each(e)
	})
	z.out.WriteByte(']')
	return err
}

func (z *sanitizer) writeKey(k string) {
	z.scratch = appendJSONString(z.scratch[:0], k)
	z.scratch = append(z.scratch, ':')
	z.out.Write(z.scratch)
}

// collectConfigSecrets walks the configuration section: it adds sensitive
// variables' defaults (root and child modules) to secrets and returns the
// root module's variables with whether each is sensitive.
func collectConfigSecrets(config any, secrets *secretSet) map[string]bool {
	root := map[string]bool{}
	cfg, _ := config.(map[string]any)
	rm, _ := cfg["root_module"].(map[string]any)
	var walk func(mod map[string]any, isRoot bool)
	walk = func(mod map[string]any, isRoot bool) {
		vars, _ := mod["variables"].(map[string]any)
		for name, v := range vars {
			vm, _ := v.(map[string]any)
			sensitive, _ := vm["sensitive"].(bool)
			if isRoot {
				root[name] = sensitive
			}
			if sensitive {
				secrets.addAll(vm["default"])
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			if child, ok := cm["module"].(map[string]any); ok {
				walk(child, false)
			}
		}
	}
	if rm != nil {
		walk(rm, true)
	}
	return root
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
