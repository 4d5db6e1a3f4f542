package plan

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Strings holding JSON render as Terraform renders them: jsonencode( the
// decoded value's diff ), a change of whitespace only noted as such, a
// string becoming JSON (or ceasing to be) as a change of type.

// jsonSides are a string change's sides decoded where they hold JSON.
type jsonSides struct {
	before, after         any // the decoded values; nil where not JSON
	beforeJSON, afterJSON bool
}

// jsonStrings decodes before and after when one of them is a string
// holding JSON (an object or a list, as Terraform recognises them: see
// decodeJSONString) and the other is a string or null.
func jsonStrings(before, after any) (jsonSides, bool) {
	side := func(v any) (decoded any, isJSON, stringOrNull bool) {
		if v == nil {
			return nil, false, true
		}
		s, isString := v.(string)
		if !isString {
			return nil, false, false
		}
		j, err := decodeJSONString(s)
		return j, err == nil, true
	}
	var js jsonSides
	var bOK, aOK bool
	js.before, js.beforeJSON, bOK = side(before)
	js.after, js.afterJSON, aOK = side(after)
	return js, bOK && aOK && (js.beforeJSON || js.afterJSON)
}

// errNotJSON: the string does not start as a JSON object or list does, or
// holds more than one JSON value.
var errNotJSON = errors.New("not a JSON object or list")

// decodeJSONString is Terraform's structured.ParseJson applied where its
// string renderer applies it: a string starting with "{" or "[" holding
// one JSON value and nothing after it but blanks.
func decodeJSONString(s string) (any, error) {
	if !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "[") {
		return nil, errNotJSON
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotJSON
	}
	return v, nil
}

// jsonString is the diff of a string holding JSON on both sides (or on
// one, the other missing): kJSONString, inner the decoded values' diff.
// One side JSON and the other a plain string is a change of type.
func (d *differ) jsonString(before, after any, js jsonSides, replace bool, p presence) *vdiff {
	act := valueAction(before, after, p)
	if before != nil && after != nil && !(js.beforeJSON && js.afterJSON) {
		// Not a path: the replacement is noted once, after both sides.
		return d.typeChange(before, after, nil, nil, nil, nil, replace)
	}
	// The decoded values are plain JSON: no replace paths, no marks, and
	// their nulls are present ones.
	sub := &differ{secrets: d.secrets, slab: d.slab, lcsOnly: d.lcsOnly, depth: 1}
	var jp presence
	if before != nil {
		jp |= beforePresent
	}
	if after != nil {
		jp |= afterPresent
	}
	inner := sub.diff(js.before, js.after, nil, nil, nil, nil, jp)
	d.slab = sub.slab
	out := d.alloc()
	*out = vdiff{kind: kJSONString, action: act, replace: replace, before: before, after: after, inner: inner}
	return out
}

// jsonString writes a kJSONString: Terraform's renderStringDiffAsJson.
func (r *renderer) jsonString(d *vdiff, indent int, o renderOpts) {
	inner := d.inner
	act := d.action
	jo := o
	jo.overrideNullSuffix = true
	jo.overrideForcesReplacement = false
	whitespace, replace := "", false
	if inner.action == aNoOp && d.action == aUpdate {
		// Only whitespace changed: the decoded diff alone would show none.
		whitespace = " # whitespace changes"
		if d.replace || o.overrideForcesReplacement {
			whitespace = " # whitespace changes force replacement"
		}
		jo.showUnchanged = true
		act = aNoOp
	} else {
		replace = d.replace
	}
	if d.action == aCreate || d.action == aDelete {
		act = aNoOp // the symbol is on the attribute's line already
	}
	if !rendersMultiline(inner) {
		r.print("jsonencode(")
		r.value(inner, indent+1, jo)
		r.print(")" + whitespace)
		r.forcesReplacement(replace, o)
		return
	}
	r.print("jsonencode(" + whitespace + "\n")
	r.print(indentation(indent+1) + r.sym(act) + " ")
	r.value(inner, indent+1, jo)
	r.forcesReplacement(replace, o)
	r.print("\n" + indentation(indent) + r.sym(aNoOp) + " )")
	r.nullSuffix(d.action, o)
}

// rendersMultiline reports whether value renders d on more than one line
// (Terraform decides the jsonencode( layout from the rendered text).
func rendersMultiline(d *vdiff) bool {
	switch d.kind {
	case kObject:
		return len(d.keys) > 0
	case kList:
		return len(d.elems) > 0
	case kTypeChange:
		return rendersMultiline(d.inner) || rendersMultiline(d.other)
	case kJSONString:
		return rendersMultiline(d.inner)
	case kPrimitive:
		for _, v := range []any{d.before, d.after} {
			if s, ok := v.(string); ok && strings.Contains(s, "\n") {
				return true
			}
		}
	}
	return false
}
