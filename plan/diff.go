package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// kind says how a value diff renders.
type kind int

const (
	kPrimitive kind = iota
	kObject
	kList
	kSensitive
	kUnknown
	kTypeChange
	kJSONString
	// With a provider schema (diff_schema.go):
	kMap            // keys, fields: a map's elements
	kSet            // elems: a set's elements
	kBlock          // keys, fields: attributes; groups: nested blocks
	kSensitiveBlock // a block whose contents are sensitive
	kWriteOnly      // a write-only attribute (afterSensitive: sensitive too)
)

// vdiff is the diff of one value: Terraform's computed.Diff, reduced to what
// plangate renders without provider schemas.
type vdiff struct {
	kind    kind
	action  action // aNoOp, aCreate, aUpdate or aDelete
	replace bool

	before, after any // kPrimitive

	keys   []string // kObject, sorted
	fields []*vdiff // kObject: the diff of keys[i]

	elems []*vdiff // kList

	// inner: kUnknown: the before value as a deletion; kTypeChange: before;
	// kJSONString: the diff of the decoded JSON values.
	inner *vdiff

	other *vdiff // kTypeChange: after

	beforeSensitive, afterSensitive bool // kSensitive
	// unchanged (kSensitive): the value is the same, only its mark changes.
	unchanged bool

	groups []*blockGroup // kBlock
	// nested: kObject, kList, kSet, kMap of a nested attribute type, which
	// Terraform renders a little differently.
	nested bool
	// innerAction (kSensitiveBlock): the action of the block's contents.
	innerAction action
}

type differ struct {
	secrets      *secretSet
	replacePaths []any
	slab         []vdiff
	// lcsOnly aligns every list by longest common subsequence, as
	// Terraform before 1.8 does. From 1.8 on (the zero value), two lists of
	// the same length pair their elements position by position unless the
	// after list only reorders the before one (a changed element then shows
	// as ~ "a" -> "b").
	lcsOnly bool
	// rootIsBlock is set for a resource's value: its attributes are a
	// block's, implicit (see presence); depth is how deep diff is.
	rootIsBlock bool
	depth       int
	// dynamic names the top-level attributes of dynamic type (see
	// dynamicAttributes): a replacement they force is noted only where the
	// whole attribute is sensitive or unknown.
	dynamic map[string]bool
	// rel: which attributes below the value being diffed are relevant
	// (drift: see relevance); the zero value, all of them.
	rel relevance
	// rules: the Terraform version's rules of rendering with a schema.
	rules schemaRules
}

// maxLCSCells bounds the work of aligning two lists; longer lists are
// compared position by position.
const maxLCSCells = 1 << 20

func (d *differ) forcesReplacement(path []any) bool {
	for _, p := range d.replacePaths {
		pl, ok := p.([]any)
		if !ok || len(pl) != len(path) {
			continue
		}
		match := true
		for i := range pl {
			if !pathStepEqual(pl[i], path[i]) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func pathStepEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(int)
		return ok && x.String() == fmt.Sprint(y)
	}
	return false
}

func isTrue(v any) bool { b, ok := v.(bool); return ok && b }

func child(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	return nil
}

func elem(v any, i int) any {
	if l, ok := v.([]any); ok && i < len(l) {
		return l[i]
	}
	return nil
}

// secret reports whether v is, or holds, a sensitive string or number
// (bools are masked by mark only: see SensitiveValue).
func (d *differ) secret(v any) bool {
	switch x := v.(type) {
	case string:
		return d.secrets.matches(x)
	case json.Number:
		return d.secrets.matchesNumber(string(x))
	case map[string]any:
		if d.secrets.objectKeyMatches(x) {
			return true
		}
		for _, e := range x {
			if d.secret(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if d.secret(e) {
				return true
			}
		}
	}
	return false
}

// presence says which sides hold a value at a path, null included: inside
// a value (an object's key, a list's element) a null that is there is not a
// null that is missing ("- maybe = null", "null -> 1"); a resource's own
// attributes are never present in this sense, as in Terraform, whose block
// differ treats them as implicit.
type presence uint8

const (
	beforePresent presence = 1 << iota
	afterPresent
)

// diff computes the diff of one value. before, after: the values; unknown,
// bs, as: after_unknown, before_sensitive and after_sensitive at the same
// path; path: the path, for replace_paths; p: which sides are present.
func (d *differ) diff(before, after, unknown, bs, as any, path []any, p presence) *vdiff {
	replace := d.forcesReplacement(path)

	if isTrue(bs) || isTrue(as) {
		return d.sensitive(before, after, unknown, isTrue(bs), isTrue(as), replace, p)
	}

	if isTrue(unknown) {
		out := d.alloc()
		*out = vdiff{kind: kUnknown, action: aCreate, replace: replace}
		if before != nil {
			out.action = aUpdate
			out.inner = d.diff(before, nil, nil, bs, nil, path, p&beforePresent)
		}
		return out
	}

	if replace && len(path) == 1 && d.dynamic[fmt.Sprint(path[0])] {
		// Terraform renders the value as plain JSON, which never notes it.
		replace = false
	}

	_, bObj := before.(map[string]any)
	_, aObj := after.(map[string]any)
	_, uObj := unknown.(map[string]any)
	_, bList := before.([]any)
	_, aList := after.([]any)
	_, uList := unknown.([]any)

	// A null that is there against an object or a list: Terraform shows
	// the change of type ("null -> {", "} -> null").
	nullBefore := before == nil && p&beforePresent != 0 && (aObj || aList)
	nullAfter := after == nil && p&afterPresent != 0 && (bObj || bList) && unknown == nil
	if nullBefore || nullAfter {
		return d.typeChange(before, after, unknown, bs, as, path, replace)
	}

	switch {
	case (bObj || before == nil) && (aObj || after == nil || uObj) && (bObj || aObj || uObj):
		if (bObj && d.secrets.objectKeyMatches(before.(map[string]any))) ||
			(aObj && d.secrets.objectKeyMatches(after.(map[string]any))) {
			return d.sensitive(before, after, unknown, false, false, replace, p)
		}
		return d.object(before, after, unknown, bs, as, path, replace)
	case (bList || before == nil) && (aList || after == nil || uList) && (bList || aList || uList):
		return d.list(before, after, unknown, bs, as, path, replace, nil)
	case isComposite(before) || isComposite(after):
		if before == nil || after == nil {
			// A composite against null is handled above; this is a
			// composite against a primitive or the other composite kind.
			break
		}
		return d.typeChange(before, after, unknown, bs, as, path, replace)
	}

	if d.secret(before) || d.secret(after) {
		return d.sensitive(before, after, unknown, false, false, replace, p)
	}
	if js, ok := jsonStrings(before, after); ok {
		return d.jsonString(before, after, js, replace, p)
	}
	out := d.alloc()
	*out = vdiff{kind: kPrimitive, action: valueAction(before, after, p), replace: replace, before: before, after: after}
	return out
}

func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// typeChange is a value whose kind changes: the before value deleted, then
// the after value created.
func (d *differ) typeChange(before, after, unknown, bs, as any, path []any, replace bool) *vdiff {
	return &vdiff{
		kind:    kTypeChange,
		action:  aUpdate,
		replace: replace,
		inner:   d.diff(before, nil, nil, bs, nil, path, beforePresent),
		other:   d.diff(nil, after, unknown, nil, as, path, afterPresent),
	}
}

// valueAction is Terraform's CalculateAction: a side is missing when it is
// null and not present.
func valueAction(before, after any, p presence) action {
	beforeMissing := before == nil && p&beforePresent == 0
	afterMissing := after == nil && p&afterPresent == 0
	switch {
	case beforeMissing && afterMissing:
		return aNoOp
	case beforeMissing:
		return aCreate
	case afterMissing:
		return aDelete
	case reflect.DeepEqual(before, after):
		return aNoOp
	}
	return aUpdate
}

func (d *differ) sensitive(before, after, unknown any, bs, as, replace bool, p presence) *vdiff {
	act := valueAction(before, after, p)
	if isTrue(unknown) {
		act = aUpdate
		if before == nil {
			act = aCreate
		}
	}
	unchanged := act == aNoOp
	if unchanged && bs != as {
		act = aUpdate
	}
	out := d.alloc()
	*out = vdiff{kind: kSensitive, action: act, replace: replace, beforeSensitive: bs, afterSensitive: as, unchanged: unchanged}
	return out
}

func (d *differ) object(before, after, unknown, bs, as any, path []any, replace bool) *vdiff {
	bm, _ := before.(map[string]any)
	am, _ := after.(map[string]any)
	um, _ := unknown.(map[string]any)
	out := d.alloc()
	*out = vdiff{kind: kObject, replace: replace}
	keys := make([]string, 0, max(len(bm), len(am)))
	for k := range bm {
		keys = append(keys, k)
	}
	for k := range am {
		if _, ok := bm[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k, u := range um {
		_, inB := bm[k]
		_, inA := am[k]
		if isTrue(u) && !inB && !inA {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	changed := false
	block := d.depth == 0 && d.rootIsBlock
	d.depth++
	defer func() { d.depth-- }()
	for _, k := range keys {
		b, inB := bm[k]
		a, inA := am[k]
		u := um[k]
		cbs, cas := child(bs, k), child(as, k)
		saved := d.enter(k, b, cbs, &a, &u, &cas)
		if !d.rel.partial() {
			inA = inB
		}
		var p presence
		if !block {
			if inB {
				p |= beforePresent
			}
			if inA {
				p |= afterPresent
			}
		}
		if b == nil && a == nil && !isTrue(u) && !isComposite(u) && (block || p == 0) {
			d.rel = saved
			continue // a resource's null attribute: Terraform leaves it out
		}
		f := d.diff(b, a, u, cbs, cas, d.step(path, k), p)
		d.rel = saved
		out.fields = append(out.fields, f)
		out.keys = append(out.keys, k)
		if f.action != aNoOp {
			changed = true
		}
	}
	out.action = containerAction(before, after, unknown, changed)
	return out
}

// step is the path one step further down, for replace_paths; nil when the
// change has none (nothing then forces a replacement, and no path is kept).
func (d *differ) step(path []any, step any) []any {
	if len(d.replacePaths) == 0 {
		return nil
	}
	return appendPath(path, step)
}

// alloc returns a new vdiff from the differ's slab: one allocation for
// many values.
func (d *differ) alloc() *vdiff {
	if len(d.slab) == 0 {
		d.slab = make([]vdiff, 64)
	}
	v := &d.slab[0]
	d.slab = d.slab[1:]
	return v
}

func appendPath(path []any, step any) []any {
	out := make([]any, len(path), len(path)+1)
	copy(out, path)
	return append(out, step)
}

// list diffs a list; elemType, when known, is its elements' type.
func (d *differ) list(before, after, unknown, bs, as any, path []any, replace bool, elemType *ctyType) *vdiff {
	bl, _ := before.([]any)
	al, _ := after.([]any)
	ul, _ := unknown.([]any)
	out := &vdiff{kind: kList, replace: replace}

	// Align elements as Terraform's ProcessSlice does, by their values (an
	// unknown element is null in after, a sensitive one its value): by
	// position for equal lengths (see lcsOnly), else by
	// longest common subsequence; very long lists by position.
	positional := len(bl)*len(al) > maxLCSCells ||
		(!d.lcsOnly && len(bl) == len(al) && !isReorder(bl, al))
	var pairs [][2]int // -1 marks a missing side
	if positional {
		n := max(len(bl), len(al), len(ul))
		for i := 0; i < n; i++ {
			bi, ai := i, i
			if i >= len(bl) {
				bi = -1
			}
			if i >= len(al) && i >= len(ul) {
				ai = -1
			}
			pairs = append(pairs, [2]int{bi, ai})
		}
	} else {
		pairs = alignLists(bl, al)
	}
	changed := false
	defer func(saved relevance) { d.rel = saved }(d.everything())
	for _, p := range pairs {
		var b, a, u, ebs, eas any
		if p[0] >= 0 {
			b, ebs = bl[p[0]], elem(bs, p[0])
		}
		if p[1] >= 0 {
			a, u, eas = elem(al, p[1]), elem(ul, p[1]), elem(as, p[1])
		}
		idx := p[1]
		if idx < 0 {
			idx = p[0]
		}
		var ep presence
		if p[0] >= 0 {
			ep |= beforePresent
		}
		if p[1] >= 0 {
			ep |= afterPresent
		}
		d.depth++
		var e *vdiff
		if elemType != nil {
			e = d.typed(b, a, u, ebs, eas, d.step(path, idx), ep, elemType, false)
		} else {
			e = d.diff(b, a, u, ebs, eas, d.step(path, idx), ep)
		}
		d.depth--
		if p[0] >= 0 && p[1] < 0 {
			e = forceAction(e, aDelete)
		} else if p[0] < 0 && p[1] >= 0 {
			e = forceAction(e, aCreate)
		}
		out.elems = append(out.elems, e)
		if e.action != aNoOp {
			changed = true
		}
	}
	out.action = containerAction(before, after, unknown, changed)
	return out
}

// containerAction is the action of an object or list: created, deleted
// (after null and not unknown: an output's after_unknown is false, not
// null), updated when a member changed, else none.
func containerAction(before, after, unknown any, changed bool) action {
	switch {
	case before == nil:
		return aCreate
	case after == nil && !isTrue(unknown) && !isComposite(unknown):
		return aDelete
	case changed:
		return aUpdate
	}
	return aNoOp
}

// forceAction marks a null list element that was added or removed, which
// valueAction alone would call a no-op.
func forceAction(e *vdiff, act action) *vdiff {
	if e.action == aNoOp {
		e.action = act
	}
	return e
}

// isReorder reports whether every element of before is in after, and the
// lists are as long: Terraform then aligns them by common subsequence.
// Strings, numbers, bools and nulls are looked up in a set; composite
// elements are compared pair by pair, and lists too long for that are
// taken for no reorder (compared position by position, as for the LCS).
func isReorder(before, after []any) bool {
	if len(before) != len(after) {
		return false
	}
	scalars := make(map[any]int, len(after))
	var composites []any
	for _, a := range after {
		if isComposite(a) {
			composites = append(composites, a)
		} else {
			scalars[scalarKey(a)]++
		}
	}
	if len(composites)*len(before) > maxLCSCells {
		return false
	}
	for _, b := range before {
		if !isComposite(b) {
			if scalars[scalarKey(b)] == 0 {
				return false
			}
			continue
		}
		found := false
		for _, a := range composites {
			if reflect.DeepEqual(b, a) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// scalarKey is a map key for a JSON scalar that keeps its kind: the
// string "1" and the number 1 differ.
func scalarKey(v any) any {
	if n, ok := v.(json.Number); ok {
		return [2]string{"n", string(n)}
	}
	return v
}

// alignLists pairs list elements: equal elements along a longest common
// subsequence; within each gap a removed object pairs with the next added
// object as an in-place update, other removed elements are deletions, and
// the added ones left are additions after them (Terraform's ProcessSlice).
func alignLists(b, a []any) [][2]int {
	n, m := len(b), len(a)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if reflect.DeepEqual(b[i], a[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out [][2]int
	gap := func(bs, as []int) {
		// Each removed object pairs with the next added element if that is
		// an object too; any other removed element is deleted. What is left
		// of the added ones is created.
		k := 0
		for _, i := range bs {
			_, bo := b[i].(map[string]any)
			if bo && k < len(as) {
				if _, ao := a[as[k]].(map[string]any); ao {
					out = append(out, [2]int{i, as[k]})
					k++
					continue
				}
			}
			out = append(out, [2]int{i, -1})
		}
		for _, j := range as[k:] {
			out = append(out, [2]int{-1, j})
		}
	}
	var gb, ga []int
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case reflect.DeepEqual(b[i], a[j]):
			gap(gb, ga)
			gb, ga = nil, nil
			out = append(out, [2]int{i, j})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			gb = append(gb, i)
			i++
		default:
			ga = append(ga, j)
			j++
		}
	}
	for ; i < n; i++ {
		gb = append(gb, i)
	}
	for ; j < m; j++ {
		ga = append(ga, j)
	}
	gap(gb, ga)
	return out
}

// action is Terraform's plans.Action, as the renderer needs it.
type action int

const (
	aNoOp action = iota
	aCreate
	aRead
	aUpdate
	aDelete
	aDeleteThenCreate
	aCreateThenDelete
	aForget
	aCreateThenForget
	aUnknown
)

func parseActions(acts []string) action {
	switch strings.Join(acts, ",") {
	case "no-op", "":
		return aNoOp
	case "create":
		return aCreate
	case "read":
		return aRead
	case "update":
		return aUpdate
	case "delete":
		return aDelete
	case "delete,create":
		return aDeleteThenCreate
	case "create,delete":
		return aCreateThenDelete
	case "forget":
		return aForget
	case "create,forget":
		return aCreateThenForget
	}
	return aUnknown
}
