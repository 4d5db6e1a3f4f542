package plan

import (
	"encoding/json"
	"strconv"
)

// Relevant attributes: a plan shows only the drift that bears on its
// changes, as Terraform does. relevant_attributes names, per resource, the
// attributes the configuration reads; a drifted attribute outside them is
// shown as unchanged, and a drifted resource with nothing relevant left is
// not shown. A refresh-only plan (check_drift) shows all of it.

type relevantAttr struct {
	resource string // "" for any resource
	path     []any
}

// relevance is Terraform's attribute path matcher (attribute_path,
// propagating): the relevant paths left below the value being diffed.
// The zero value holds everything relevant.
type relevance struct {
	limited bool
	paths   [][]any // a path used up (len 0) covers everything below it
}

// relevanceFor is the relevance of a drifted resource's attributes; ok is
// false when none of them bears on the plan.
func (a *Analysis) relevanceFor(address string) (rel relevance, ok bool) {
	rel.limited = true
	for _, ra := range a.relevant {
		if ra.resource == "" || ra.resource == address {
			rel.paths = append(rel.paths, ra.path)
		}
	}
	return rel, len(rel.paths) > 0
}

func (r relevance) partial() bool { return !r.limited || len(r.paths) > 0 }

// child is the relevance of a member (a string key) or an element (an int
// index) of the value.
func (r relevance) child(step any) relevance {
	if !r.limited {
		return r
	}
	out := relevance{limited: true}
	for _, p := range r.paths {
		if len(p) == 0 {
			out.paths = append(out.paths, p)
			continue
		}
		if relevantStep(p[0], step) {
			out.paths = append(out.paths, p[1:])
		}
	}
	return out
}

func relevantStep(p, step any) bool {
	switch s := step.(type) {
	case string:
		ps, ok := p.(string)
		return ok && ps == s
	case int:
		switch x := p.(type) {
		case json.Number:
			f, err := x.Float64()
			return err == nil && int(f) == s
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return err == nil && int(f) == s
		}
	}
	return false
}

// enter narrows the differ's relevance to one member of the value, and
// makes an irrelevant member's change none (Terraform's AsNoOp: its after
// is its before). It returns the relevance to restore.
func (d *differ) enter(step any, before, bs any, after, unknown, as *any) relevance {
	saved := d.rel
	if !saved.limited {
		return saved
	}
	d.rel = saved.child(step)
	if !d.rel.partial() {
		*after, *unknown, *as = before, nil, bs
	}
	return saved
}

// keyPresence is which sides of a map hold member k, once the differ has
// entered it: an irrelevant member's after is its before (see enter).
func (d *differ) keyPresence(bm, am map[string]any, k string) presence {
	_, inB := bm[k]
	_, inA := am[k]
	if !d.rel.partial() {
		inA = inB
	}
	var p presence
	if inB {
		p |= beforePresent
	}
	if inA {
		p |= afterPresent
	}
	return p
}

// everything makes every element of a list or set relevant (Terraform
// never names attributes below one); it returns the relevance to restore.
func (d *differ) everything() relevance {
	saved := d.rel
	d.rel = relevance{}
	return saved
}

// relevantDrift is the drift a plan shows, as Terraform shows it: only the
// attributes that bear on the plan's changes (relevant_attributes), and
// only the resources where some of those changed; with each, its
// relevance.
func (r *renderer) relevantDrift(a *Analysis) ([]*resourceChange, []relevance) {
	var out []*resourceChange
	var rels []relevance
	for _, c := range a.drift {
		rel, ok := a.relevanceFor(c.Address)
		if !ok {
			continue
		}
		r.rel = rel
		d, err := r.changeDiff(c, &c.Change)
		r.rel = relevance{}
		if err == nil && d.action == aNoOp {
			r.done()
			continue
		}
		r.done()
		out = append(out, c)
		rels = append(rels, rel)
	}
	return out, rels
}
