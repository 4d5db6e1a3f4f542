package plan

import (
	"reflect"
	"sort"
)

// The differ with a provider schema: Terraform's ComputeDiffForBlock,
// ComputeDiffForAttribute and ComputeDiffForType (jsonformat/differ).
// Where the schema does not fit the value (a tampered or stale schema),
// the value is diffed as JSON (differ.diff), so nothing is left out.

// blockGroup is the diff of one nested block type of a block: its blocks'
// diffs, and what holds for all of them.
type blockGroup struct {
	name string
	mode string // single, group, list, set, map
	// elems: the blocks' diffs; for map blocks, keys[i] is elems[i]'s key.
	elems []*vdiff
	keys  []string
	// replace, beforeSensitive, afterSensitive, unknown: of the whole
	// collection of blocks.
	replace, beforeSensitive, afterSensitive, unknown bool
}

// diffBlock is ComputeDiffForBlock: a block's attributes, then its nested
// blocks. nonLegacy is set once a block of the resource uses what the
// legacy SDK could not (then "" is a value, not null).
func (d *differ) diffBlock(before, after, unknown, bs, as any, path []any, b *schemaBlock, nonLegacy bool) *vdiff {
	replace := d.forcesReplacement(path)
	if !fitsObject(before) || !fitsObject(after) {
		return d.diff(before, after, unknown, bs, as, path, 0)
	}
	if isTrue(bs) || isTrue(as) {
		inner := d.diffBlock(before, after, unknown, nil, nil, path, b, nonLegacy)
		act := inner.action
		if act == aNoOp && isTrue(bs) != isTrue(as) && (before != nil || after != nil) {
			act = aUpdate
		}
		out := d.alloc()
		*out = vdiff{kind: kSensitiveBlock, action: act, replace: replace, beforeSensitive: isTrue(bs), afterSensitive: isTrue(as), innerAction: inner.action}
		return out
	}
	if isTrue(unknown) {
		out := d.alloc()
		*out = vdiff{kind: kUnknown, action: aCreate, replace: replace}
		if before != nil {
			// The attributes of the block before show as recomputed.
			childUnknown := allUnknown(b.Attributes)
			out.action = aUpdate
			out.inner = d.diffBlock(before, nil, childUnknown, bs, nil, path, b, nonLegacy)
		}
		return out
	}
	nonLegacy = nonLegacy || b.nonLegacy
	current := iterationAction(before, after)
	out := d.alloc()
	*out = vdiff{kind: kBlock, replace: replace}
	for _, k := range b.attrNames {
		a := b.Attributes[k]
		if writeOnly(a, before, after, k) {
			continue
		}
		cb, ca, cu, cbs, cas := child(before, k), child(after, k), child(unknown, k), child(bs, k), child(as, k)
		saved := d.enter(k, cb, cbs, &ca, &cu, &cas)
		if d.rules.blockStrings {
			cb, ca = nullForEmpty(cb), nullForEmpty(ca)
		}
		f := d.diffAttribute(cb, ca, cu, cbs, cas, d.step(path, k), 0, a, nonLegacy)
		d.rel = saved
		if f.action == aNoOp && cb == nil && ca == nil {
			continue // Terraform leaves out a null attribute
		}
		out.keys = append(out.keys, k)
		out.fields = append(out.fields, f)
		current = compareActions(current, f.action)
	}
	for _, k := range b.blockNames {
		g, act, ok := d.diffBlockGroup(k, b, before, after, unknown, bs, as, path)
		if g == nil {
			if ok { // not a block's value: shown as an attribute
				f := d.diff(child(before, k), child(after, k), child(unknown, k), child(bs, k), child(as, k), d.step(path, k), 0)
				out.keys = append(out.keys, k)
				out.fields = append(out.fields, f)
				current = compareActions(current, f.action)
			}
			continue
		}
		out.groups = append(out.groups, g)
		current = compareActions(current, act)
	}
	for _, k := range b.attrNames {
		if writeOnly(b.Attributes[k], before, after, k) {
			out.keys = append(out.keys, k)
			out.fields = append(out.fields, d.writeOnly(current, replace, false))
		}
	}
	current = d.unknownMembers(out, before, after, unknown, bs, as, path, b.Attributes, b.BlockTypes, current)
	out.action = current
	sortFields(out)
	return out
}

// diffBlockGroup is the diff of one nested block type; nil when it is
// left out (null on both sides) or, with ok set, when the value is not
// one the block type can have.
func (d *differ) diffBlockGroup(k string, parent *schemaBlock, before, after, unknown, bs, as any, path []any) (g *blockGroup, act action, ok bool) {
	bt := parent.BlockTypes[k]
	cb, ca, cu, cbs, cas := child(before, k), child(after, k), child(unknown, k), child(bs, k), child(as, k)
	defer func(saved relevance) { d.rel = saved }(d.enter(k, cb, cbs, &ca, &cu, &cas))
	p := d.step(path, k)
	g = &blockGroup{name: k, mode: bt.NestingMode, replace: d.forcesReplacement(p),
		beforeSensitive: isTrue(cbs), afterSensitive: isTrue(cas), unknown: isTrue(cu)}
	if d.rules.tofuUnknownBlocks && g.unknown {
		// OpenTofu 1.10 shows any unknown nested block as one unknown
		// block (what it was before diffed with the parent's schema, as
		// its renderer does), and leaves the parent's action alone.
		e := d.alloc()
		*e = vdiff{kind: kUnknown, action: aCreate, replace: g.replace}
		if cb != nil {
			childUnknown := allUnknown(parent.Attributes)
			e.action = aUpdate
			// Its renderer reads a list or set of blocks as an object
			// with no attributes (every one of the parent's then shows as
			// recomputed): the same here.
			inner := cb
			if _, ok := cb.(map[string]any); !ok {
				inner = map[string]any{}
			}
			e.inner = d.diffBlock(inner, nil, childUnknown, cbs, nil, p, parent, true)
		}
		g.mode, g.elems, g.unknown = "single", []*vdiff{e}, false
		return g, aNoOp, true
	}
	if g.unknown {
		ca = nil
	}
	switch bt.NestingMode {
	case "list", "set":
		bl, bok := cb.([]any)
		al, aok := ca.([]any)
		if (!bok && cb != nil) || (!aok && ca != nil) {
			return nil, aNoOp, true
		}
		act = iterationAction(cb, ca)
		for _, pr := range elementPairs(bt.NestingMode == "set", bl, al, cbs, cas, cu) {
			eb, ea, eu, ebs, eas, _, idx := elementAt(pr, bl, al, cbs, cas, cu)
			// A list's blocks are relevant by index, a set's all; Terraform
			// reads their elements as legacy again.
			var saved relevance
			if bt.NestingMode == "set" {
				saved = d.everything()
			} else {
				saved = d.enter(idx, eb, ebs, &ea, &eu, &eas)
			}
			e := d.diffBlock(eb, ea, eu, ebs, eas, d.step(p, idx), bt.Block, false)
			d.rel = saved
			g.elems = append(g.elems, e)
			act = compareActions(act, e.action)
		}
	case "map":
		bm, bok := cb.(map[string]any)
		am, aok := ca.(map[string]any)
		if (!bok && cb != nil) || (!aok && ca != nil) {
			return nil, aNoOp, true
		}
		act = iterationAction(cb, ca)
		for _, key := range unionKeys(bm, am, nil) {
			eb, ea, eu, ebs, eas := bm[key], am[key], child(cu, key), child(cbs, key), child(cas, key)
			saved := d.enter(key, eb, ebs, &ea, &eu, &eas)
			e := d.diffBlock(eb, ea, eu, ebs, eas, d.step(p, key), bt.Block, true)
			d.rel = saved
			g.keys = append(g.keys, key)
			g.elems = append(g.elems, e)
			act = compareActions(act, e.action)
		}
	default: // single, group
		if !fitsObject(cb) || !fitsObject(ca) {
			return nil, aNoOp, true
		}
		e := d.diffBlock(cb, ca, cu, cbs, cas, p, bt.Block, true)
		if e.kind == kUnknown {
			// Terraform renders an unknown single block as the unknown
			// value it is, not as the group's unknown line.
			g.unknown = false
		}
		g.elems = []*vdiff{e}
		act = e.action
	}
	if !d.rules.unknownBlocks {
		g.unknown = false // no line of its own before Terraform 1.10
	}
	if act == aNoOp && cb == nil && ca == nil && !g.unknown {
		return nil, aNoOp, false
	}
	return g, act, true
}

func nullForEmpty(v any) any {
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	return v
}

// diffAttribute is ComputeDiffForAttribute.
func (d *differ) diffAttribute(before, after, unknown, bs, as any, path []any, p presence, a *schemaAttribute, nonLegacy bool) *vdiff {
	if a.NestedType != nil {
		return d.diffNested(before, after, unknown, bs, as, path, p, a.NestedType)
	}
	return d.typed(before, after, unknown, bs, as, path, p, a.ty, nonLegacy)
}

// writeOnly reports whether attribute k renders as write-only: the schema
// says so, and the plan holds no value for it (Terraform never keeps one;
// a value there is shown, whatever the schema says).
func writeOnly(a *schemaAttribute, before, after any, k string) bool {
	return a.WriteOnly && child(before, k) == nil && child(after, k) == nil
}

// writeOnly is an attribute whose value Terraform never keeps: it
// changes as its block does, and an update shows as none.
func (d *differ) writeOnly(blockAction action, replace, sensitive bool) *vdiff {
	out := d.alloc()
	act := blockAction
	if act == aUpdate {
		act = aNoOp
	}
	*out = vdiff{kind: kWriteOnly, action: act, replace: replace, afterSensitive: sensitive}
	return out
}

// unknownMembers adds, as JSON, the members of a block's or object's
// values that its schema does not name: with a genuine schema there are
// none; a schema that lacks one hides nothing.
func (d *differ) unknownMembers(out *vdiff, before, after, unknown, bs, as any, path []any, attrs map[string]*schemaAttribute, blocks map[string]*schemaBlockType, current action) action {
	bm, _ := before.(map[string]any)
	am, _ := after.(map[string]any)
	for _, k := range unionKeys(bm, am, nil) {
		if attrs[k] != nil || blocks[k] != nil {
			continue
		}
		b, a := bm[k], am[k]
		if b == nil && a == nil {
			continue
		}
		u, cbs, cas := child(unknown, k), child(bs, k), child(as, k)
		saved := d.enter(k, b, cbs, &a, &u, &cas)
		f := d.diff(b, a, u, cbs, cas, d.step(path, k), 0)
		d.rel = saved
		out.keys = append(out.keys, k)
		out.fields = append(out.fields, f)
		current = compareActions(current, f.action)
	}
	return current
}

// typed is ComputeDiffForType: a value of a known type.
func (d *differ) typed(before, after, unknown, bs, as any, path []any, p presence, t *ctyType, nonLegacy bool) *vdiff {
	if t == nil {
		return d.diff(before, after, unknown, bs, as, path, p)
	}
	if !nonLegacy && !d.rules.blockStrings {
		// The legacy SDK cannot tell "" from null, and may return
		// either: Terraform takes "" for null.
		before, after = nullForEmpty(before), nullForEmpty(after)
	}
	replace := d.forcesReplacement(path)
	if isTrue(bs) || isTrue(as) {
		out := d.sensitive(before, after, unknown, isTrue(bs), isTrue(as), replace, p)
		if before == nil && after == nil && p == 0 && !isTrue(unknown) {
			out.action = aNoOp // null on both sides, whatever the marks
		}
		return out
	}
	if isTrue(unknown) {
		out := d.alloc()
		*out = vdiff{kind: kUnknown, action: aCreate, replace: replace}
		if before != nil {
			out.action = aUpdate
			out.inner = d.typed(before, nil, nil, bs, nil, path, p&beforePresent, t, nonLegacy)
		}
		return out
	}
	switch t.kind {
	case tyString, tyNumber, tyBool:
		if isComposite(before) || isComposite(after) {
			break
		}
		if d.secret(before) || d.secret(after) {
			return d.sensitive(before, after, unknown, false, false, replace, p)
		}
		if js, ok := jsonStrings(before, after); ok && t.kind == tyString {
			return d.jsonString(before, after, js, replace, p)
		}
		out := d.alloc()
		*out = vdiff{kind: kPrimitive, action: valueAction(before, after, p), replace: replace, before: before, after: after}
		return out
	case tyObject:
		if !fitsObject(before) || !fitsObject(after) {
			break
		}
		if d.keyIsSecret(before, after) {
			return d.sensitive(before, after, unknown, false, false, replace, p)
		}
		out := d.alloc()
		*out = vdiff{kind: kObject, replace: replace}
		current := iterationAction(before, after)
		for _, k := range t.names {
			cb, ca, cu, cbs, cas := child(before, k), child(after, k), child(unknown, k), child(bs, k), child(as, k)
			saved := d.enter(k, cb, cbs, &ca, &cu, &cas)
			f := d.typed(cb, ca, cu, cbs, cas, d.step(path, k), 0, t.attrs[k], nonLegacy)
			d.rel = saved
			if f.action == aNoOp && cb == nil && ca == nil {
				continue
			}
			out.keys = append(out.keys, k)
			out.fields = append(out.fields, f)
			current = compareActions(current, f.action)
		}
		attrs := make(map[string]*schemaAttribute, len(t.attrs))
		for k := range t.attrs {
			attrs[k] = &schemaAttribute{}
		}
		out.action = d.unknownMembers(out, before, after, unknown, bs, as, path, attrs, nil, current)
		sortFields(out)
		return out
	case tyMap:
		bm, bok := before.(map[string]any)
		am, aok := after.(map[string]any)
		if (!bok && before != nil) || (!aok && after != nil) {
			break
		}
		if d.keyIsSecret(before, after) {
			return d.sensitive(before, after, unknown, false, false, replace, p)
		}
		out := d.alloc()
		*out = vdiff{kind: kMap, replace: replace}
		current := iterationAction(before, after)
		um, _ := unknown.(map[string]any)
		for _, k := range unionKeys(bm, am, um) {
			eb, ea, eu, ebs, eas := bm[k], am[k], um[k], child(bs, k), child(as, k)
			saved := d.enter(k, eb, ebs, &ea, &eu, &eas)
			ep := d.keyPresence(bm, am, k)
			e := d.typed(eb, ea, eu, ebs, eas, d.step(path, k), ep, t.elem, nonLegacy)
			d.rel = saved
			out.keys = append(out.keys, k)
			out.fields = append(out.fields, e)
			current = compareActions(current, e.action)
		}
		out.action = current
		return out
	case tyList:
		if !fitsList(before) || !fitsList(after) {
			break
		}
		// A list's elements are read as legacy again (Terraform).
		return d.list(before, after, unknown, bs, as, path, replace, t.elem)
	case tySet:
		bl, bok := before.([]any)
		al, aok := after.([]any)
		if (!bok && before != nil) || (!aok && after != nil) {
			break
		}
		out := d.alloc()
		*out = vdiff{kind: kSet, replace: replace}
		current := iterationAction(before, after)
		defer func(saved relevance) { d.rel = saved }(d.everything())
		for _, pr := range setPairs(bl, al, bs, as, unknown) {
			eb, ea, eu, ebs, eas, ep, idx := elementAt(pr, bl, al, bs, as, unknown)
			e := d.typed(eb, ea, eu, ebs, eas, d.step(path, idx), ep, t.elem, false)
			if pr[0] >= 0 && pr[1] < 0 {
				e = forceAction(e, aDelete)
			} else if pr[0] < 0 {
				e = forceAction(e, aCreate)
			}
			out.elems = append(out.elems, e)
			current = compareActions(current, e.action)
		}
		out.action = current
		return out
	case tyDynamic:
		// Terraform renders a dynamic value as JSON, which notes no
		// replacement inside it.
		saved := d.replacePaths
		d.replacePaths = nil
		out := d.diff(before, after, unknown, bs, as, nil, p)
		d.replacePaths = saved
		return out
	}
	// A tuple, or a value that does not fit its type: as JSON.
	return d.diff(before, after, unknown, bs, as, path, p)
}

func (d *differ) keyIsSecret(before, after any) bool {
	bm, _ := before.(map[string]any)
	am, _ := after.(map[string]any)
	return (bm != nil && d.secrets.objectKeyMatches(bm)) || (am != nil && d.secrets.objectKeyMatches(am))
}

func fitsObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok || v == nil
}

func fitsList(v any) bool {
	_, ok := v.([]any)
	return ok || v == nil
}

// iterationAction is GetDefaultActionForIteration: a collection or block
// created or deleted as a whole, else none until a member changes.
func iterationAction(before, after any) action {
	switch {
	case before == nil && after == nil:
		return aNoOp
	case before == nil:
		return aCreate
	case after == nil:
		return aDelete
	}
	return aNoOp
}

// compareActions is Terraform's CompareActions.
func compareActions(current, next action) action {
	if next == aNoOp {
		return current
	}
	if current != next {
		return aUpdate
	}
	return current
}

func unionKeys(a, b, c map[string]any) []string {
	keys := make([]string, 0, max(len(a), len(b)))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k := range c {
		_, inA := a[k]
		_, inB := b[k]
		if !inA && !inB {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// elementPairs pairs a set's elements as setPairs does, a list's (of
// blocks or nested objects: Terraform's processNestedList) index by
// index. -1 marks a missing side.
func elementPairs(set bool, before, after []any, bs, as, unknown any) [][2]int {
	if set {
		return setPairs(before, after, bs, as, unknown)
	}
	pairs := make([][2]int, max(len(before), len(after)))
	for i := range pairs {
		pairs[i] = [2]int{i, i}
		if i >= len(before) {
			pairs[i][0] = -1
		}
		if i >= len(after) {
			pairs[i][1] = -1
		}
	}
	return pairs
}

// elementAt is one pair's element on each side, with its unknown and its
// marks, which sides hold it, and the index its path takes (the before
// one when there is one, as Terraform's GetChild).
func elementAt(pr [2]int, before, after []any, bs, as, unknown any) (b, a, u, ebs, eas any, p presence, idx int) {
	idx = pr[0]
	if pr[0] >= 0 {
		b, ebs, p = before[pr[0]], elem(bs, pr[0]), p|beforePresent
	}
	if pr[1] >= 0 {
		a, u, eas, p = after[pr[1]], elem(unknown, pr[1]), elem(as, pr[1]), p|afterPresent
		if idx < 0 {
			idx = pr[1]
		}
	}
	return
}

// allUnknown marks every attribute unknown: a recomputed block's or
// object's before value shows each of them as "(known after apply)".
func allUnknown(attrs map[string]*schemaAttribute) map[string]any {
	out := make(map[string]any, len(attrs))
	for k := range attrs {
		out[k] = true
	}
	return out
}

// setPairs pairs a set's elements as Terraform's processSet does: each
// element before with the first element after equal to it (marks and all,
// not unknown); the rest before are deletions, the rest after additions.
// -1 marks a missing side.
func setPairs(before, after []any, bs, as, unknown any) [][2]int {
	taken := make([]bool, len(after))
	var pairs, added [][2]int
	for i, b := range before {
		match := -1
		for j, a := range after {
			if taken[j] {
				continue
			}
			if reflect.DeepEqual(b, a) && isTrue(elem(bs, i)) == isTrue(elem(as, j)) && !isTrue(elem(unknown, j)) {
				match = j
				taken[j] = true
				break
			}
		}
		pairs = append(pairs, [2]int{i, match})
	}
	for j := range after {
		if !taken[j] {
			added = append(added, [2]int{-1, j})
		}
	}
	return append(pairs, added...)
}

// sortFields orders an object's or block's members by name, as Terraform
// prints them.
func sortFields(d *vdiff) {
	if sort.StringsAreSorted(d.keys) {
		return
	}
	idx := make([]int, len(d.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return d.keys[idx[a]] < d.keys[idx[b]] })
	keys := make([]string, len(idx))
	fields := make([]*vdiff, len(idx))
	for i, j := range idx {
		keys[i], fields[i] = d.keys[j], d.fields[j]
	}
	d.keys, d.fields = keys, fields
}
