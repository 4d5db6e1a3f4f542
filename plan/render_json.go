package plan

import (
	"encoding/json"
	"io"
	"strings"
)

// Strings holding JSON render as Terraform renders them: jsonencode( the
// decoded value's diff ), a change of whitespace only noted as such, a
// string becoming JSON (or ceasing to be) as a change of type.

// jsonStrings decodes before and after when one of them is a string
// holding JSON (an object or a list, as Terraform recognises them: the
// string starts with "{" or "[" and its first JSON value decodes) and the
// other is a string or null. jb, ja are the decoded sides (nil for a side
// that is null or not JSON).
func jsonStrings(before, after any) (jb, ja any, ok bool) {
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
	jb, bJSON, bOK := side(before)
	ja, aJSON, aOK := side(after)
	return jb, ja, bOK && aOK && (bJSON || aJSON)
}

// decodeJSONString is Terraform's structured.ParseJson applied where its
// string renderer applies it: one JSON value and nothing after it but
// blanks.
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

type notJSON struct{}

func (notJSON) Error() string { return "not JSON" }

var errNotJSON error = notJSON{}

// jsonString is the diff of a string holding JSON on both sides (or on
// one, the other missing): kJSONString, inner the decoded values' diff.
// One side JSON and the other a plain string is a change of type.
func (d *differ) jsonString(before, after, jb, ja any, replace bool, p presence) *vdiff {
	act := valueAction(before, after, p)
	if before != nil && after != nil {
		_, bJSON := decodeString(before)
		_, aJSON := decodeString(after)
		if !bJSON || !aJSON {
			// Not a path: the replacement is noted once, after both sides.
			return d.typeChange(before, after, nil, nil, nil, nil, replace)
		}
	}
	// The decoded values are plain JSON: no replace paths, no marks, and
	// their nulls are present ones.
	sub := &differ{secrets: d.secrets, slab: d.slab, pairEqualLengthLists: d.pairEqualLengthLists, depth: 1}
	var jp presence
	if before != nil {
		jp |= beforePresent
	}
	if after != nil {
		jp |= afterPresent
	}
	inner := sub.diff(jb, ja, nil, nil, nil, nil, jp)
	d.slab = sub.slab
	out := d.alloc()
	*out = vdiff{kind: kJSONString, action: act, replace: replace, before: before, after: after, inner: inner}
	return out
}

// decodeString reports whether v is a string holding JSON.
func decodeString(v any) (any, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	j, err := decodeJSONString(s)
	return j, err == nil
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
