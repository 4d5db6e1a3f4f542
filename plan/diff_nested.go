package plan

// Nested attribute types (plugin-framework providers): Terraform's
// computeDiffForNestedAttribute and its nested object, list, set and map.

// diffNested is computeDiffForNestedAttribute: an attribute whose type is
// a nested object, or a list, set or map of them.
func (d *differ) diffNested(before, after, unknown, bs, as any, path []any, p presence, n *schemaNestedType) *vdiff {
	again := func(before, unknown any, p presence) *vdiff {
		return d.diffNested(before, nil, unknown, bs, nil, path, p, n)
	}
	if out, ok := d.wholeNested(before, after, unknown, bs, as, path, p, n, again); ok {
		return out
	}
	replace := d.forcesReplacement(path)
	switch n.NestingMode {
	case "list", "set":
		bl, bok := before.([]any)
		al, aok := after.([]any)
		if (!bok && before != nil) || (!aok && after != nil) {
			return d.diff(before, after, unknown, bs, as, path, p)
		}
		out := d.alloc()
		kind := kList
		if n.NestingMode == "set" {
			kind = kSet
		}
		*out = vdiff{kind: kind, nested: true, replace: replace}
		act := iterationAction(before, after)
		for _, pr := range elementPairs(kind == kSet, bl, al, bs, as, unknown) {
			eb, ea, eu, ebs, eas, ep, idx := elementAt(pr, bl, al, bs, as, unknown)
			var saved relevance
			if kind == kSet {
				saved = d.everything()
			} else {
				saved = d.enter(idx, eb, ebs, &ea, &eu, &eas)
			}
			e := d.nestedObject(eb, ea, eu, ebs, eas, d.step(path, idx), ep, n)
			d.rel = saved
			out.elems = append(out.elems, e)
			act = compareActions(act, e.action)
		}
		out.action = act
		return out
	case "map":
		bm, bok := before.(map[string]any)
		am, aok := after.(map[string]any)
		if (!bok && before != nil) || (!aok && after != nil) {
			return d.diff(before, after, unknown, bs, as, path, p)
		}
		out := d.alloc()
		*out = vdiff{kind: kMap, nested: true, replace: replace}
		act := iterationAction(before, after)
		for _, k := range unionKeys(bm, am, nil) {
			eb, ea, eu, ebs, eas := bm[k], am[k], child(unknown, k), child(bs, k), child(as, k)
			saved := d.enter(k, eb, ebs, &ea, &eu, &eas)
			ep := d.keyPresence(bm, am, k)
			e := d.nestedObject(eb, ea, eu, ebs, eas, d.step(path, k), ep, n)
			d.rel = saved
			out.keys = append(out.keys, k)
			out.fields = append(out.fields, e)
			act = compareActions(act, e.action)
		}
		out.action = act
		return out
	}
	return d.nestedObject(before, after, unknown, bs, as, path, p, n)
}

// nestedObject is one nested object of a nested attribute (its sensitive
// and unknown cases included: Terraform diffs each element as a nested
// attribute of its own, nested "single").
func (d *differ) nestedObject(before, after, unknown, bs, as any, path []any, p presence, n *schemaNestedType) *vdiff {
	again := func(before, unknown any, p presence) *vdiff {
		return d.nestedObject(before, nil, unknown, bs, nil, path, p, n)
	}
	if out, ok := d.wholeNested(before, after, unknown, bs, as, path, p, n, again); ok {
		return out
	}
	replace := d.forcesReplacement(path)
	if !fitsObject(before) || !fitsObject(after) {
		return d.diff(before, after, unknown, bs, as, path, p)
	}
	out := d.alloc()
	*out = vdiff{kind: kObject, nested: true, replace: replace}
	current := iterationAction(before, after)
	for _, k := range n.names {
		a := n.Attributes[k]
		if writeOnly(a, before, after, k) {
			continue
		}
		cb, ca, cu, cbs, cas := child(before, k), child(after, k), child(unknown, k), child(bs, k), child(as, k)
		saved := d.enter(k, cb, cbs, &ca, &cu, &cas)
		f := d.diffAttribute(cb, ca, cu, cbs, cas, d.step(path, k), 0, a, true)
		d.rel = saved
		if f.action == aNoOp && cb == nil && ca == nil {
			continue
		}
		out.keys = append(out.keys, k)
		out.fields = append(out.fields, f)
		current = compareActions(current, f.action)
	}
	for _, k := range n.names {
		if writeOnly(n.Attributes[k], before, after, k) {
			out.keys = append(out.keys, k)
			out.fields = append(out.fields, d.writeOnly(current, d.forcesReplacement(d.step(path, k)), isTrue(child(bs, k)) || isTrue(child(as, k))))
		}
	}
	current = d.unknownMembers(out, before, after, unknown, bs, as, path, n.Attributes, nil, current)
	out.action = current
	sortFields(out)
	return out
}

// wholeNested is a nested attribute's value when it is sensitive or
// unknown as a whole (ok set); again diffs what it was before, every
// attribute recomputed, for an unknown one.
func (d *differ) wholeNested(before, after, unknown, bs, as any, path []any, p presence, n *schemaNestedType, again func(before, unknown any, p presence) *vdiff) (*vdiff, bool) {
	replace := d.forcesReplacement(path)
	if isTrue(bs) || isTrue(as) {
		return d.sensitive(before, after, unknown, isTrue(bs), isTrue(as), replace, p), true
	}
	if !isTrue(unknown) {
		return nil, false
	}
	out := d.alloc()
	*out = vdiff{kind: kUnknown, action: aCreate, replace: replace}
	if before != nil {
		out.action = aUpdate
		out.inner = again(before, allUnknown(n.Attributes), p&beforePresent)
	}
	return out, true
}
