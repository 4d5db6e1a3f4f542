package plan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plangate/plangate/internal/tfbin"
)

// RenderDiff writes the plan as a reviewer reads it, in the style of
// `terraform show <planfile>`, from the plan JSON: every change that
// destroys something (deletes and replacements) first, then the rest, each
// group in address order; then Terraform's own "Plan: N to add, N to
// change, N to destroy." line; then output changes, in Terraform's order.
// Sensitive values are masked (see SensitiveValue). The text is
// deterministic: the same plan JSON renders the same bytes. It is written change by change; only one
// change's values are decoded at a time.
func (a *Analysis) RenderDiff(w io.Writer, opts ...RenderOption) error {
	r := &renderer{w: bufio.NewWriter(w), secrets: a.secrets, lcsOnly: !pairsEqualLengthLists(a.TerraformVersion), rules: schemaRulesFor(a.TerraformVersion)}
	for _, o := range opts {
		o(r)
	}
	a.render(r)
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}

func (a *Analysis) render(r *renderer) {
	var destroying, rest []*resourceChange
	for _, c := range a.changes {
		if c.has(actDelete) {
			destroying = append(destroying, c)
		} else {
			rest = append(rest, c)
		}
	}
	haveChanges := len(a.changes) > 0
	outputs := r.changedOutputs(a.outputs)

	drift, rels := r.relevantDrift(a)
	if len(drift) > 0 && (haveChanges || len(outputs) > 0) {
		r.printf("\nNote: Objects have changed outside of %s\n\n", r.product)
		r.printf("%s detected the following changes made outside of %s since the\nlast \"%s apply\" which may have affected this plan:\n", r.product, r.product, r.product.Command())
		for i, c := range drift {
			r.print("\n")
			r.rel = rels[i]
			r.resource(c, true)
			r.rel = relevance{}
		}
		r.print("\n─────────────────────────────────────────────────────────────────────────────\n")
	}

	if !haveChanges && len(outputs) == 0 {
		if a.Errored {
			r.printf("\nPlanning failed. %s encountered an error while generating this plan.\n", r.product)
		} else {
			r.print("\nNo changes. Your infrastructure matches the configuration.\n")
		}
		return
	}

	if haveChanges {
		if a.Errored {
			r.printf("\n%s planned the following actions, but then encountered a problem:\n", r.product)
		} else {
			r.printf("\n%s will perform the following actions:\n", r.product)
		}
		for _, group := range [][]*resourceChange{destroying, rest} {
			for _, c := range group {
				r.print("\n")
				r.resource(c, false)
			}
		}
	}

	if haveChanges {
		r.print("\n" + paint(r.colour, "Plan:", ansiBold) + " ")
		if a.Counts.Import > 0 {
			r.printf("%d to import, ", a.Counts.Import)
		}
		r.printf("%d to add, %d to change, %d to destroy", a.Counts.Add, a.Counts.Change, a.Counts.Destroy)
		if r.product == tfbin.OpenTofu && a.Counts.Forget > 0 {
			r.printf(", %d to forget", a.Counts.Forget) // OpenTofu's line counts them, Terraform's does not
		}
		r.print(".\n")
	}

	if len(outputs) > 0 {
		r.print("\nChanges to Outputs:\n")
		r.outputs(outputs, r.outputWidth(a))
		if !haveChanges {
			r.printf("\nYou can apply this plan to save these new output values to the %s\nstate, without changing any real infrastructure.\n", r.product)
		}
	}
}

// symbol is Terraform's three-column action symbol (format.DiffActionSymbol).
func (act action) symbol() string {
	switch act {
	case aDeleteThenCreate:
		return "-/+"
	case aCreateThenDelete:
		return "+/-"
	case aCreate:
		return "  +"
	case aDelete:
		return "  -"
	case aForget:
		return " ."
	case aCreateThenForget:
		return " +/."
	case aRead:
		return " <="
	case aUpdate:
		return "  ~"
	case aNoOp:
		return "   "
	}
	return "  ?"
}

// resource writes one resource change: Terraform's comment lines, then the
// block with its attribute diff.
func (r *renderer) resource(c *resourceChange, drift bool) {
	defer r.done() // nothing of the change outlives its printing
	act := parseActions(c.Change.Actions)
	addr := c.displayAddress()

	printedMoved, printedImported := false, false
	switch act {
	case aCreate:
		r.headerf("  # %s will be created\n", addr)
	case aRead:
		r.headerf("  # %s will be read during apply\n", addr)
		switch c.ActionReason {
		case "read_because_config_unknown":
			r.print("  # (config refers to values not yet known)\n")
		case "read_because_dependency_pending":
			r.print("  # (depends on a resource or a module with changes pending)\n")
		case "read_because_check_nested":
			r.print("  # (config will be reloaded to verify a check block)\n")
		}
	case aUpdate:
		if drift {
			r.headerf("  # %s has changed\n", addr)
		} else {
			r.headerf("  # %s will be updated in-place\n", addr)
		}
	case aCreateThenDelete, aDeleteThenCreate:
		switch c.ActionReason {
		case "replace_because_tainted":
			if r.product == tfbin.OpenTofu {
				r.headerf("  # %s is tainted, so it must be replaced\n", addr) // OpenTofu's wording
			} else {
				r.headerf("  # %s is tainted, so must be replaced\n", addr)
			}
		case "replace_by_request":
			r.headerf("  # %s will be replaced, as requested\n", addr)
		case "replace_by_triggers":
			r.headerf("  # %s will be replaced due to changes in replace_triggered_by\n", addr)
		default:
			r.headerf("  # %s must be replaced\n", addr)
		}
	case aCreateThenForget:
		r.headerf(" # %s must be replaced, but the existing object will not be destroyed\n", addr)
		r.print(" # (destroy = false is set in the configuration)\n")
	case aForget:
		if c.Deposed != "" {
			r.headerf(" # %s will be removed from %s state, but will not be destroyed\n", addr, r.product)
			r.print(" # (left over from a partially-failed replacement of this instance)\n")
		} else {
			r.headerf(" # %s will no longer be managed by %s, but will not be destroyed\n", addr, r.product)
		}
		r.print(" # (destroy = false is set in the configuration)\n")
	case aDelete:
		if drift {
			r.headerf("  # %s has been deleted\n", addr)
		} else {
			r.headerf("  # %s will be destroyed\n", addr)
		}
		switch c.ActionReason {
		case "delete_because_no_resource_config":
			r.printf("  # (because %s.%s is not in configuration)\n", c.Type, c.Name)
		case "delete_because_no_move_target":
			r.printf("  # (because %s was moved to %s, which is not in configuration)\n", c.PreviousAddress, c.Address)
		case "delete_because_no_module":
			r.printf("  # (because %s is not in configuration)\n", c.ModuleAddress)
		case "delete_because_wrong_repetition":
			var index any
			_ = json.Unmarshal(c.Index, &index)
			switch index.(type) {
			case nil:
				r.print("  # (because resource uses count or for_each)\n")
			case float64:
				r.print("  # (because resource does not use count)\n")
			case string:
				r.print("  # (because resource does not use for_each)\n")
			}
		case "delete_because_count_index":
			r.printf("  # (because index [%s] is out of range for count)\n", c.Index)
		case "delete_because_each_key":
			r.printf("  # (because key [%s] is not in for_each map)\n", c.Index)
		}
		if c.Deposed != "" {
			r.print("  # (left over from a partially-failed replacement of this instance)\n")
		}
	case aNoOp:
		if c.moved() {
			r.headerf("  # %s has moved to %s\n", c.PreviousAddress, addr)
			printedMoved = true
		} else if c.Change.Importing != nil {
			r.headerf("  # %s will be imported\n", addr)
			if c.Change.GeneratedConfig != "" {
				r.print("  # (config will be generated)\n")
			}
			printedImported = true
		} else {
			r.headerf("  # %s has no changes\n", addr)
		}
	default:
		r.headerf("  # %s has actions %q, which plangate does not recognise: review the plan with %s show\n", addr, c.Change.Actions, r.product.Command())
	}
	if c.moved() && !printedMoved {
		r.printf("  # (moved from %s)\n", c.PreviousAddress)
	}
	if imp := c.Change.Importing; imp != nil && !printedImported {
		if imp.ID != "" {
			id := imp.ID
			if r.secrets.matches(id) {
				id = SensitiveValue
			}
			r.printf("  # (imported from %q)\n", id)
		} else {
			r.print("  # (will be imported first)\n")
		}
	}
	if c.Change.Importing != nil && (act == aCreateThenDelete || act == aDeleteThenCreate) {
		r.print("  # Warning: this will destroy the imported resource\n")
	}

	mode := "resource"
	if c.isData() {
		mode = "data"
	}
	r.printf("%s %s %q %q ", r.sym(act), mode, c.Type, c.Name)

	change := c.Change
	if act == aForget {
		// The object stays as it is; only Terraform lets go of it.
		change.After, change.AfterSensitive, change.AfterUnknown = change.Before, change.BeforeSensitive, nil
	}
	d, err := r.changeDiff(c, &change)
	if err != nil {
		r.printf("{\n        # (values not shown: %v)\n    }\n", err)
		return
	}
	r.block(d, 0, renderOpts{showUnchanged: c.Change.Importing != nil})
	r.print("\n")
}

// changeDiff is the diff of a resource's values: with its type's schema
// when there is one.
func (r *renderer) changeDiff(c *resourceChange, change *changeJSON) (*vdiff, error) {
	if b := r.schemas.lookup(c); b != nil {
		return r.diffBlockChange(change, b)
	}
	return r.diffValue(change, true, dynamicAttributes(c))
}

// changedOutputs are the outputs Terraform shows: those whose value diff
// changes something. An output whose actions say "update" while its value
// and its mark stay (a sensitive output that stays sensitive) is left out,
// as Terraform leaves it out; one whose values cannot be read is kept.
func (r *renderer) changedOutputs(outs []*outputChange) []*outputChange {
	var changed []*outputChange
	for _, o := range outs {
		d, err := r.diffValue(&o.Change, false, nil)
		if err != nil || d.action != aNoOp {
			changed = append(changed, o)
		}
		r.done()
	}
	return changed
}

// outputWidth is the longest output name, unchanged outputs included, as
// Terraform aligns them.
func (r *renderer) outputWidth(a *Analysis) int {
	width := a.outputWidth
	for _, o := range a.outputs {
		width = max(width, len(attributeName(o.Name)))
	}
	return width
}

func (r *renderer) outputs(outs []*outputChange, width int) {
	for _, o := range outs {
		d, err := r.diffValue(&o.Change, false, nil)
		if err != nil {
			r.printf("  ? %-*s = (value not shown: %v)\n", width, attributeName(o.Name), err)
			continue
		}
		// The symbol is the value diff's action, as Terraform's.
		r.printf("%s %-*s = ", r.sym(d.action), width, attributeName(o.Name))
		r.value(d, 0, renderOpts{})
		r.print("\n")
		r.done()
	}
}

// diffChange is diffValue for a resource's values, no attribute known to
// be dynamic.
func (r *renderer) diffChange(c *changeJSON) (*vdiff, error) { return r.diffValue(c, true, nil) }

// diffValue decodes one change's values and computes its diff tree.
// block is set for a resource's values (a block, not a value: see
// presence); dynamic names its top-level attributes whose schema type is
// dynamic.
func (r *renderer) diffValue(c *changeJSON, block bool, dynamic map[string]bool) (*vdiff, error) {
	vals, paths, err := r.decodeChange(c)
	if err != nil {
		return nil, err
	}
	d := &differ{secrets: r.secrets, replacePaths: withoutDynamic(paths, dynamic), slab: r.slab, lcsOnly: r.lcsOnly, dynamic: dynamic, rootIsBlock: block, rel: r.rel}
	defer func() { r.slab = d.slab }()
	return d.diff(vals[0], vals[1], vals[2], vals[3], vals[4], nil, 0), nil
}

// decodeChange decodes a change's before, after, after_unknown,
// before_sensitive and after_sensitive values, and its replace paths.
func (r *renderer) decodeChange(c *changeJSON) (vals [5]any, paths []any, err error) {
	if r.values == nil {
		r.values = newJSONReader(nil, lenient...)
		r.values.pool = &mapPool{}
	}
	for i, raw := range []json.RawMessage{c.Before, c.After, c.AfterUnknown, c.BeforeSensitive, c.AfterSensitive} {
		v, err := r.values.decode(raw)
		if err != nil {
			return vals, nil, err
		}
		vals[i] = v
	}
	replace, _ := decodeAny(c.ReplacePaths)
	paths, _ = replace.([]any)
	return vals, paths, nil
}

// renderOpts are Terraform's RenderHumanOpts that matter here.
type renderOpts struct {
	overrideNullSuffix        bool
	overrideForcesReplacement bool // Terraform's ForceForcesReplacement
	forbidForcesReplacement   bool
	showUnchanged             bool
}

func (r *renderer) forcesReplacement(replace bool, o renderOpts) {
	if (replace || o.overrideForcesReplacement) && !o.forbidForcesReplacement {
		r.print(" " + paint(r.colour, "# forces replacement", ansiRed))
	}
}

func (r *renderer) nullSuffix(act action, o renderOpts) {
	if !o.overrideNullSuffix && act == aDelete {
		r.print(" -> null")
	}
}

// importantAttributes are always shown, as Terraform does, so a reader can
// tell which object a change is about.
func importantAttribute(name string) bool { return name == "id" || name == "name" || name == "tags" }

// block writes a resource body: the top-level attributes.
func (r *renderer) block(d *vdiff, indent int, o renderOpts) {
	if d.kind == kBlock {
		r.schemaBlock(d, indent, o)
		return
	}
	if d.kind != kObject {
		// A resource whose whole value is sensitive, unknown or null.
		if d.kind == kPrimitive && d.before == nil && d.after == nil {
			r.print("{}")
			return
		}
		r.print("{\n")
		r.printf("%s%s %s\n", indentation(indent+1), r.sym(aNoOp), r.valueString(d, indent+1, o))
		r.printf("%s%s }", indentation(indent), r.sym(aNoOp))
		return
	}
	if len(d.keys) == 0 {
		r.print("{}")
		r.forcesReplacement(d.replace, o)
		return
	}
	r.attributes(d, indent, o, o, true)
	r.printf("%s%s }", indentation(indent), r.sym(aNoOp))
}

// attributes writes "{", the attribute lines and the unchanged count; the
// caller closes the brace.
func (r *renderer) attributes(d *vdiff, indent int, o, childOpts renderOpts, important bool) {
	width := 0
	for _, k := range d.keys {
		if n := len(attributeName(k)); n > width {
			width = n
		}
	}
	r.print("{")
	r.forcesReplacement(d.replace, o)
	r.print("\n")
	unchanged := 0
	for i, k := range d.keys {
		f := d.fields[i]
		co := childOpts
		if important && importantAttribute(k) {
			co.showUnchanged = true
		} else if f.action == aNoOp && !o.showUnchanged {
			unchanged++
			continue
		}
		r.warnings(f, indent+1)
		name := attributeName(k)
		// Terraform's %-*s: the width counts bytes, the padding runes.
		r.print(indentation(indent+1) + r.sym(f.action) + " " + name + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(name))) + " = ")
		r.value(f, indent+1, co)
		r.print("\n")
	}
	if unchanged > 0 {
		r.printf("%s%s %s\n", indentation(indent+1), r.sym(aNoOp), hidden("attribute", unchanged))
	}
}

func hidden(noun string, n int) string {
	if n == 1 {
		return fmt.Sprintf("# (1 unchanged %s hidden)", noun)
	}
	return fmt.Sprintf("# (%d unchanged %ss hidden)", n, noun)
}

// warnings writes Terraform's note when a value's sensitivity changes.
func (r *renderer) warnings(d *vdiff, indent int) {
	if d.kind != kSensitive || d.beforeSensitive == d.afterSensitive || d.action == aCreate || d.action == aDelete {
		return
	}
	pad := indentation(indent)
	same := ""
	if d.unchanged {
		same = " The value is unchanged."
	}
	if d.beforeSensitive {
		r.printf("%s  # Warning: this attribute value will no longer be marked as sensitive\n%s  # after applying this change.%s\n", pad, pad, same)
	} else {
		r.printf("%s  # Warning: this attribute value will be marked as sensitive and will not\n%s  # display in UI output after applying this change.%s\n", pad, pad, same)
	}
}

// value writes the right-hand side of an attribute line.
func (r *renderer) value(d *vdiff, indent int, o renderOpts) {
	switch d.kind {
	case kSensitive:
		r.print(SensitiveValue)
		r.nullSuffix(d.action, o)
		r.forcesReplacement(d.replace, o)
	case kUnknown:
		if d.action == aCreate || d.inner == nil {
			r.print("(known after apply)")
			r.forcesReplacement(d.replace, o)
			return
		}
		bo := o
		bo.overrideNullSuffix = true
		if d.replace {
			// Noted once, after the arrow.
			bo.forbidForcesReplacement = true
		}
		r.value(d.inner, indent, bo)
		r.print(" -> (known after apply)")
		r.forcesReplacement(d.replace, o)
	case kTypeChange:
		bo := o
		bo.overrideNullSuffix = true
		r.value(d.inner, indent, bo)
		r.print(" -> ")
		r.value(d.other, indent, o)
		r.forcesReplacement(d.replace, o)
	case kObject:
		if len(d.keys) == 0 {
			r.print("{}")
			r.nullSuffix(d.action, o)
			r.forcesReplacement(d.replace, o)
			return
		}
		co := o
		// A nested attribute's object notes its deleted attributes'
		// nulls; any other object does not.
		co.overrideNullSuffix = !d.nested
		r.attributes(d, indent, o, co, true)
		r.printf("%s%s }", indentation(indent), r.sym(aNoOp))
		r.nullSuffix(d.action, o)
	case kList:
		r.list(d, indent, o)
	case kMap:
		r.mapValue(d, indent, o)
	case kSet:
		r.set(d, indent, o)
	case kBlock:
		r.schemaBlock(d, indent, o)
	case kSensitiveBlock:
		r.sensitiveBlock(d, indent, o)
	case kWriteOnly:
		if d.afterSensitive {
			r.print("(sensitive, write-only attribute)")
		} else {
			r.print("(write-only attribute)")
		}
		r.nullSuffix(d.action, o)
		r.forcesReplacement(d.replace, o)
	case kJSONString:
		r.jsonString(d, indent, o)
	default:
		r.primitive(d, indent, o)
	}
}

func (r *renderer) valueString(d *vdiff, indent int, o renderOpts) string {
	// Used only for odd top-level values; small.
	var sb strings.Builder
	sub := &renderer{w: bufio.NewWriter(&sb), secrets: r.secrets}
	sub.value(d, indent, o)
	_ = sub.w.Flush()
	return sb.String()
}

func (r *renderer) list(d *vdiff, indent int, o renderOpts) {
	if len(d.elems) == 0 {
		r.print("[]")
		r.nullSuffix(d.action, o)
		r.forcesReplacement(d.replace, o)
		return
	}
	eo := o
	eo.overrideNullSuffix = true
	uo := o
	uo.showUnchanged = true
	if d.nested {
		// A nested attribute's list shows no unchanged elements around a
		// change.
		r.nestedList(d, indent, o, eo)
		return
	}

	r.print("[")
	r.forcesReplacement(d.replace, o)
	r.print("\n")
	pad := indentation(indent + 1)
	var unchanged []*vdiff
	renderNext := false
	for _, e := range d.elems {
		if e.action == aNoOp && !renderNext && !o.showUnchanged {
			unchanged = append(unchanged, e)
			continue
		}
		renderNext = false
		opts := eo
		// Show the unchanged element on each side of a change, for context.
		if len(unchanged) > 1 {
			r.printf("%s%s %s\n", pad, r.sym(aNoOp), hidden("element", len(unchanged)-1))
		}
		if len(unchanged) > 0 {
			last := unchanged[len(unchanged)-1]
			r.printf("%s%s ", pad, r.sym(last.action))
			r.value(last, indent+1, uo)
			r.print(",\n")
		}
		unchanged = nil
		if e.action == aNoOp {
			opts = uo
		} else {
			renderNext = true
		}
		r.warnings(e, indent+1)
		r.printf("%s%s ", pad, r.sym(e.action))
		r.value(e, indent+1, opts)
		r.print(",\n")
	}
	if len(unchanged) > 0 {
		r.printf("%s%s %s\n", pad, r.sym(aNoOp), hidden("element", len(unchanged)))
	}
	r.printf("%s%s ]", indentation(indent), r.sym(aNoOp))
	r.nullSuffix(d.action, o)
}

func (r *renderer) primitive(d *vdiff, indent int, o renderOpts) {
	bs, bMulti := d.before.(string)
	as, aMulti := d.after.(string)
	bMulti = bMulti && strings.Contains(bs, "\n")
	aMulti = aMulti && strings.Contains(as, "\n")

	switch d.action {
	case aCreate:
		if aMulti {
			r.heredoc(indent, o, d.replace, d.action, heredocLines(as))
			return
		}
		r.print(primitiveString(d.after))
		r.forcesReplacement(d.replace, o)
	case aDelete:
		if bMulti {
			r.heredoc(indent, o, d.replace, d.action, heredocLines(bs))
			return
		}
		r.print(primitiveString(d.before))
		r.nullSuffix(d.action, o)
		r.forcesReplacement(d.replace, o)
	case aNoOp:
		if bMulti {
			r.heredoc(indent, o, d.replace, d.action, heredocLines(bs))
			return
		}
		r.print(primitiveString(d.before))
		r.forcesReplacement(d.replace, o)
	default:
		if bMulti || aMulti {
			r.multilineUpdate(d, indent, o)
			return
		}
		r.print(primitiveString(d.before))
		r.print(" -> ")
		r.print(primitiveString(d.after))
		r.forcesReplacement(d.replace, o)
	}
}

func primitiveString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

// attributeName quotes a name that is not a valid HCL identifier.
func attributeName(name string) string {
	if validIdentifier(name) {
		return name
	}
	return fmt.Sprintf("%q", name)
}

func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !(unicode.IsLetter(r) || r == '_') {
			return false
		}
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
