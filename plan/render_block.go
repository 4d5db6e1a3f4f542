package plan

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rendering with a provider schema: Terraform's block, map and set
// renderers (jsonformat/computed/renderers).

// schemaBlock writes a block: its attributes, then its nested blocks, each
// type after a blank line, then how many blocks are unchanged.
func (r *renderer) schemaBlock(d *vdiff, indent int, o renderOpts) {
	if len(d.keys) == 0 && len(d.groups) == 0 {
		r.print("{}")
		r.forcesReplacement(d.replace, o)
		return
	}
	r.attributes(d, indent, o, o, true)
	unchangedBlocks := 0
	for _, g := range d.groups {
		found := false
		one := func(e *vdiff, mapKey string) {
			creating := e.action == aCreate && g.afterSensitive
			deleting := e.action == aDelete && g.beforeSensitive
			modifying := (e.action == aUpdate || e.action == aNoOp) && (g.afterSensitive || g.beforeSensitive)
			if creating || deleting || modifying {
				act := e.action
				if act == aNoOp && g.beforeSensitive != g.afterSensitive {
					act = aUpdate
				}
				e = &vdiff{kind: kSensitiveBlock, action: act, replace: e.replace, beforeSensitive: g.beforeSensitive, afterSensitive: g.afterSensitive, innerAction: e.action}
			}
			if e.action == aNoOp && !o.showUnchanged {
				unchangedBlocks++
				return
			}
			if !found && len(d.keys) > 0 {
				r.print("\n")
				found = true
			}
			bo := o
			bo.overrideForcesReplacement = g.replace
			r.blockWarnings(e, indent+1)
			r.print(indentation(indent+1) + r.sym(e.action) + " " + attributeName(g.name) + mapKey + " ")
			r.value(e, indent+1, bo)
			r.print("\n")
		}
		unknown := func() {
			if g.unknown {
				one(&vdiff{kind: kUnknown, action: d.action}, "")
			}
		}
		switch g.mode {
		case "single", "group":
			if len(g.elems) > 0 {
				one(g.elems[0], "")
			}
		case "map":
			unknown()
			for i, e := range g.elems {
				one(e, " "+strconv.Quote(g.keys[i]))
			}
		default:
			unknown()
			for _, e := range g.elems {
				one(e, "")
			}
		}
	}
	if unchangedBlocks > 0 {
		r.printf("\n%s%s %s\n", indentation(indent+1), r.sym(aNoOp), hidden("block", unchangedBlocks))
	}
	r.printf("%s%s }", indentation(indent), r.sym(aNoOp))
}

// sensitiveBlock writes a block whose contents are sensitive.
func (r *renderer) sensitiveBlock(d *vdiff, indent int, o renderOpts) {
	prefix := indentation(indent) + r.sym(aNoOp) + " "
	r.print("{")
	r.forcesReplacement(d.replace, o)
	r.print("\n" + prefix + "  # At least one attribute in this block is (or was) sensitive,\n" +
		prefix + "  # so its contents will not be displayed.\n" + prefix + "}")
}

// blockWarnings is Terraform's note when a block's sensitivity changes.
func (r *renderer) blockWarnings(d *vdiff, indent int) {
	if d.kind != kSensitiveBlock {
		r.warnings(d, indent)
		return
	}
	if d.beforeSensitive == d.afterSensitive || d.innerAction == aCreate || d.innerAction == aDelete {
		return
	}
	pad := indentation(indent)
	if d.beforeSensitive {
		r.printf("%s  # Warning: this block will no longer be marked as sensitive\n%s  # after applying this change.\n", pad, pad)
	} else {
		r.printf("%s  # Warning: this block will be marked as sensitive and will not\n%s  # display in UI output after applying this change.\n", pad, pad)
	}
}

// mapValue writes a map: its keys quoted (and, unless it is a nested
// attribute's map, aligned), its unchanged elements counted.
func (r *renderer) mapValue(d *vdiff, indent int, o renderOpts) {
	self := d.replace && !d.nested
	children := d.replace && d.nested
	if len(d.keys) == 0 {
		r.print("{}")
		r.nullSuffix(d.action, o)
		r.forcesReplacement(self, o)
		return
	}
	eo := o
	eo.overrideNullSuffix = d.action == aDelete || d.nested
	eo.overrideForcesReplacement = children
	width := 0
	quoted := make([]string, len(d.keys))
	for i, k := range d.keys {
		quoted[i] = strconv.Quote(k)
		width = max(width, len(quoted[i]))
	}
	r.print("{")
	r.forcesReplacement(self, o)
	r.print("\n")
	unchanged := 0
	for i, e := range d.fields {
		if e.action == aNoOp && !o.showUnchanged {
			unchanged++
			continue
		}
		r.warnings(e, indent+1)
		name := quoted[i]
		if !d.nested {
			// Terraform's %-*s: the width counts bytes, the padding runes.
			name += strings.Repeat(" ", max(0, width-utf8.RuneCountInString(name)))
		}
		r.print(indentation(indent+1) + r.sym(e.action) + " " + name + " = ")
		r.value(e, indent+1, eo)
		if e.kind == kObject {
			r.print(",")
		}
		r.print("\n")
	}
	if unchanged > 0 {
		r.printf("%s%s %s\n", indentation(indent+1), r.sym(aNoOp), hidden("element", unchanged))
	}
	r.printf("%s%s }", indentation(indent), r.sym(aNoOp))
	r.nullSuffix(d.action, o)
}

// set writes a set: no element shown for context, unchanged ones counted.
func (r *renderer) set(d *vdiff, indent int, o renderOpts) {
	self := d.replace && !d.nested
	children := d.replace && d.nested
	if len(d.elems) == 0 {
		r.print("[]")
		r.nullSuffix(d.action, o)
		r.forcesReplacement(self, o)
		return
	}
	eo := o
	eo.overrideNullSuffix = true
	eo.overrideForcesReplacement = children
	r.print("[")
	r.forcesReplacement(self, o)
	r.print("\n")
	r.elements(d, indent, o, eo)
}

// nestedList writes a nested attribute's list: a set's layout, in order.
func (r *renderer) nestedList(d *vdiff, indent int, o, eo renderOpts) {
	r.print("[")
	r.forcesReplacement(d.replace, o)
	r.print("\n")
	r.elements(d, indent, o, eo)
}

// elements writes the changed elements of a set or nested list, the count
// of the others, and the closing bracket.
func (r *renderer) elements(d *vdiff, indent int, o, eo renderOpts) {
	pad := indentation(indent + 1)
	unchanged := 0
	for _, e := range d.elems {
		if e.action == aNoOp && !o.showUnchanged {
			unchanged++
			continue
		}
		r.warnings(e, indent+1)
		r.print(pad + r.sym(e.action) + " ")
		r.value(e, indent+1, eo)
		r.print(",\n")
	}
	if unchanged > 0 {
		r.printf("%s%s %s\n", pad, r.sym(aNoOp), hidden("element", unchanged))
	}
	r.printf("%s%s ]", indentation(indent), r.sym(aNoOp))
	r.nullSuffix(d.action, o)
}

// diffBlockChange decodes a resource change's values and diffs them with
// the resource type's schema.
func (r *renderer) diffBlockChange(c *changeJSON, b *schemaBlock) (*vdiff, error) {
	vals, paths, err := r.decodeChange(c)
	if err != nil {
		return nil, err
	}
	d := &differ{secrets: r.secrets, replacePaths: paths, slab: r.slab, lcsOnly: r.lcsOnly, depth: 1, rel: r.rel, rules: r.rules}
	defer func() { r.slab = d.slab }()
	return d.diffBlock(vals[0], vals[1], vals[2], vals[3], vals[4], nil, b, false), nil
}
