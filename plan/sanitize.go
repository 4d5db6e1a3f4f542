package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
)

// SanitizePlanJSON returns the plan JSON (`terraform show -json <planfile>`)
// with every sensitive value replaced by "(sensitive value)" (see
// Analysis.WriteSanitized): it analyses raw, then writes it sanitized.
func SanitizePlanJSON(raw []byte) ([]byte, error) {
	a := &Analysis{secrets: newSecretSet(), raw: raw}
	if err := a.decode(raw); err != nil {
		return nil, fmt.Errorf("sanitize plan JSON: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) + len(raw)/8)
	if err := a.WriteSanitized(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteSanitized writes the plan JSON with every sensitive value replaced
// by "(sensitive value)", masked with the plan's one secret set: first by
// mark, where Terraform marks values sensitive (variables, configuration
// defaults, prior_state, planned_values, resource_changes and
// resource_drift, deferred_changes, output_changes), then by value,
// wherever a secret is repeated unmarked (see SensitiveValue's rules).
// Everything else is kept, so the result is still a plan JSON a tool can
// read. Object keys come out sorted; the JSON is compact.
//
// Sections and containers larger than streamAbove are written member by
// member and element by element; the rest are read into a small tree of
// spans of the plan, one at a time, so memory beyond the plan itself stays
// proportional to the largest element.
func (a *Analysis) WriteSanitized(w io.Writer) error {
	z := &sanitizer{a: a, w: bufio.NewWriterSize(w, 256<<10)}
	sections := sortMembers(a.sections)
	z.out = append(z.out, '{')
	for i, s := range sections {
		if i > 0 {
			z.out = append(z.out, ',')
		}
		z.name([]byte(s.key))
		c := z.child(ctx{role: roleDocument}, []byte(s.key), nil)
		if err := z.value(newJSONReader(s.val, lenient...), c, true); err != nil {
			return fmt.Errorf("sanitize plan JSON: %s: %w", s.key, err)
		}
	}
	z.out = append(z.out, '}')
	if err := z.flush(); err != nil {
		return fmt.Errorf("sanitize plan JSON: %w", err)
	}
	return z.w.Flush()
}

// streamAbove is the size above which an object or array is written
// member by member, or element by element, rather than read whole.
const streamAbove = 64 << 10

// sanitizer holds one WriteSanitized run.
type sanitizer struct {
	a    *Analysis
	w    *bufio.Writer
	out  []byte // written to w when it grows past flushAt
	hold int    // objects being written: out is not flushed while > 0
	tree jtree
}

const flushAt = 64 << 10

func (z *sanitizer) flush() error {
	_, err := z.w.Write(z.out)
	z.out = z.out[:0]
	return err
}

// role is where a value sits in the plan document, as far as sensitivity
// marks are concerned: which of its members Terraform marks, and by what.
type role uint8

const (
	roleNone role = iota
	roleDocument
	roleVariables
	roleSensitiveVariable // its value is sensitive
	roleConfiguration
	roleConfigModule
	roleConfigVariables
	roleConfigVariable // its default is sensitive when it says so
	roleModuleCalls
	roleModuleCall
	roleOutputChanges
	roleChangeList // resource_changes, resource_drift
	roleResourceChange
	roleDeferredList
	roleDeferred
	roleChange // before and after, marked by before_sensitive and after_sensitive
	rolePriorState
	roleStateValues
	roleStateOutputs
	roleStateOutput // its value is sensitive when it says so
	roleStateModule
	roleResources
	roleResource // its values, marked by sensitive_values
	roleChildModules
)

// ctx is what writing a value needs to know of where it is: whether it
// is a value of the infrastructure (below before, after, values...), the
// key it is under (arrays pass their key to their elements), the mark
// that applies to it (decoded, as Terraform writes before_sensitive) and
// its role.
type ctx struct {
	inValue bool
	key     []byte
	mark    any
	role    role
}

// child is the context of member name of an object in context c; sibling
// returns the JSON text of another member of that object (nil if none).
func (z *sanitizer) child(c ctx, name []byte, sibling func(name string) []byte) ctx {
	if sibling == nil {
		sibling = noSibling // a streamed object: its roles take no marks from siblings
	}
	n := string(name)
	cc := ctx{inValue: c.inValue || isValueKey(n), key: name, mark: subMark(c.mark, n)}
	switch c.role {
	case roleDocument:
		switch n {
		case "variables":
			cc.role = roleVariables
		case "configuration":
			cc.role = roleConfiguration
		case "output_changes":
			cc.role = roleOutputChanges
		case "resource_changes", "resource_drift":
			cc.role = roleChangeList
		case "deferred_changes":
			cc.role = roleDeferredList
		case "planned_values":
			cc.role = roleStateValues
		case "prior_state":
			cc.role = rolePriorState
		}
	case roleVariables:
		if z.a.variableSensitive(n) {
			cc.role = roleSensitiveVariable
		}
	case roleSensitiveVariable:
		if n == "value" {
			cc.mark = true
		}
	case roleConfiguration:
		if n == "root_module" {
			cc.role = roleConfigModule
		}
	case roleConfigModule:
		switch n {
		case "variables":
			cc.role = roleConfigVariables
		case "module_calls":
			cc.role = roleModuleCalls
		}
	case roleConfigVariables:
		cc.role = roleConfigVariable
	case roleConfigVariable:
		if n == "default" && string(sibling("sensitive")) == "true" {
			cc.mark = true
		}
	case roleModuleCalls:
		cc.role = roleModuleCall
	case roleModuleCall:
		if n == "module" {
			cc.role = roleConfigModule
		}
	case roleOutputChanges:
		cc.role = roleChange
	case roleResourceChange:
		if n == "change" {
			cc.role = roleChange
		}
	case roleDeferred:
		if n == "resource_change" {
			cc.role = roleResourceChange
		}
	case roleChange:
		switch n {
		case "before":
			cc.mark = decodeMark(sibling("before_sensitive"))
		case "after":
			cc.mark = decodeMark(sibling("after_sensitive"))
		}
	case rolePriorState:
		if n == "values" {
			cc.role = roleStateValues
		}
	case roleStateValues:
		switch n {
		case "outputs":
			cc.role = roleStateOutputs
		case "root_module":
			cc.role = roleStateModule
		}
	case roleStateOutputs:
		cc.role = roleStateOutput
	case roleStateOutput:
		if n == "value" && string(sibling("sensitive")) == "true" {
			cc.mark = true
		}
	case roleStateModule:
		switch n {
		case "resources":
			cc.role = roleResources
		case "child_modules":
			cc.role = roleChildModules
		}
	case roleResource:
		if n == "values" {
			cc.mark = decodeMark(sibling("sensitive_values"))
		}
	}
	return cc
}

func noSibling(string) []byte { return nil }

// element is the context of element i of an array in context c.
func (z *sanitizer) element(c ctx, i int) ctx {
	cc := ctx{inValue: c.inValue, key: c.key}
	if l, ok := c.mark.([]any); ok && i < len(l) {
		cc.mark = l[i]
	}
	switch c.role {
	case roleChangeList:
		cc.role = roleResourceChange
	case roleDeferredList:
		cc.role = roleDeferred
	case roleResources:
		cc.role = roleResource
	case roleChildModules:
		cc.role = roleStateModule
	}
	return cc
}

// implied lists the members that a marked object always has in the
// sanitized JSON, null when the plan left them out: Terraform's own shape
// for a change (before, after), a state resource (values), a sensitive
// variable or output (value).
func implied(c ctx, sibling func(name string) []byte) []string {
	switch c.role {
	case roleChange:
		return []string{"after", "before"}
	case roleResource:
		return []string{"values"}
	case roleSensitiveVariable:
		return []string{"value"}
	case roleStateOutput:
		if string(sibling("sensitive")) == "true" {
			return []string{"value"}
		}
	}
	return nil
}

func subMark(mark any, name string) any {
	if m, ok := mark.(map[string]any); ok {
		return m[name]
	}
	return nil
}

// decodeMark decodes a sensitivity mark (nil when absent or not JSON).
func decodeMark(raw []byte) any {
	if len(raw) == 0 || !bytes.Contains(raw, []byte("true")) {
		return nil // marks nothing
	}
	m, _ := decodeAny(raw)
	return m
}

func marked(c ctx) bool { b, ok := c.mark.(bool); return ok && b }

var maskedJSON = []byte(`"` + SensitiveValue + `"`)

// streamable says whether a container in this role is written as it is
// read, member by member and element by element: the sections and the
// structure above the plan's long lists (modules, their resources, the
// lists of changes). Anything else is read into the tree whole: a change,
// a resource, an output, which are small and whose marks come from their
// siblings.
func streamable(r role) bool {
	switch r {
	case roleVariables, roleConfiguration, roleConfigModule, roleModuleCalls, roleModuleCall,
		roleOutputChanges, roleChangeList, roleDeferredList, rolePriorState, roleStateValues,
		roleStateModule, roleResources, roleChildModules:
		return true
	}
	return false
}

// value writes the next value of r: as it reads it, for a top-level
// section or a streamable container; else read into the tree, then
// written.
func (z *sanitizer) value(r *jsonReader, c ctx, top bool) error {
	if z.hold == 0 && len(z.out) > flushAt {
		if err := z.flush(); err != nil {
			return err
		}
	}
	k := r.d.PeekKind()
	if (k != '{' && k != '[') || !(top || streamable(c.role)) {
		z.tree.reset()
		root, err := z.tree.build(r)
		if err != nil {
			return err
		}
		z.node(root, c)
		return nil
	}
	if marked(c) {
		z.out = append(z.out, maskedJSON...)
		return r.skip()
	}
	if k == '[' {
		z.out = append(z.out, '[')
		i := 0
		err := r.array(func() error {
			if i > 0 {
				z.out = append(z.out, ',')
			}
			err := z.value(r, z.element(c, i), false)
			i++
			return err
		})
		z.out = append(z.out, ']')
		return err
	}
	return z.object(r, c)
}

// object writes an object as it reads it, member by member, each with its
// name; when the object ends, the members are put in order if Terraform
// did not write them so (sorted by name, the last of a name that repeats
// kept). The output is held meanwhile. Streamed roles take no marks from
// their siblings, so a member can be written before its siblings are read.
func (z *sanitizer) object(r *jsonReader, c ctx) error {
	type written struct {
		name       string
		start, end int
	}
	z.hold++
	defer func() { z.hold-- }()
	base := len(z.out)
	z.out = append(z.out, '{')
	var members []written
	inOrder := true
	err := r.object(func(name []byte) error {
		if len(members) > 0 {
			z.out = append(z.out, ',')
			inOrder = inOrder && members[len(members)-1].name < string(name)
		}
		start := len(z.out)
		z.name(name)
		if err := z.value(r, z.child(c, name, nil), false); err != nil {
			return err
		}
		members = append(members, written{name: string(name), start: start, end: len(z.out)})
		return nil
	})
	if err != nil {
		return err
	}
	if c.inValue && !z.a.secrets.empty() {
		for _, m := range members {
			if z.a.secrets.matches(m.name) {
				z.out = append(z.out[:base], maskedJSON...)
				return nil
			}
		}
	}
	if !inOrder {
		slices.SortStableFunc(members, func(x, y written) int { return cmpString(x.name, y.name) })
		body := slices.Clone(z.out[base:])
		z.out = append(z.out[:base], '{')
		n := 0
		for i, m := range members {
			if i+1 < len(members) && members[i+1].name == m.name {
				continue
			}
			if n > 0 {
				z.out = append(z.out, ',')
			}
			n++
			z.out = append(z.out, body[m.start-base:m.end-base]...)
		}
	}
	z.out = append(z.out, '}')
	return nil
}

// node writes a value read into the tree.
func (z *sanitizer) node(i int32, c ctx) {
	t := &z.tree
	n := &t.nodes[i]
	if marked(c) && n.kind != 'n' {
		z.str([]byte(SensitiveValue), true, c)
		return
	}
	switch n.kind {
	case '{':
		start := len(t.scratch)
		t.scratch = t.members(i, t.scratch)
		members := t.scratch[start:]
		defer func() { t.scratch = t.scratch[:start] }()
		if c.inValue && !z.a.secrets.empty() {
			for _, m := range members {
				if z.a.secrets.matches(string(t.nodes[m].name)) {
					z.out = append(z.out, maskedJSON...)
					return
				}
			}
		}
		sibling := func(name string) []byte { return t.member(i, name) }
		z.out = append(z.out, '{')
		imply := implied(c, sibling)
		k := 0
		next := func() {
			if k > 0 {
				z.out = append(z.out, ',')
			}
			k++
		}
		for _, m := range members {
			name := t.nodes[m].name
			for len(imply) > 0 && imply[0] < string(name) {
				z.impliedNull(imply[0], next)
				imply = imply[1:]
			}
			if len(imply) > 0 && imply[0] == string(name) {
				imply = imply[1:]
			}
			next()
			z.name(name)
			z.node(m, z.child(c, name, sibling))
		}
		for _, n := range imply {
			z.impliedNull(n, next)
		}
		z.out = append(z.out, '}')
	case '[':
		z.out = append(z.out, '[')
		k := 0
		for e := n.first; e >= 0; e = t.nodes[e].next {
			if k > 0 {
				z.out = append(z.out, ',')
			}
			z.node(e, z.element(c, k))
			k++
		}
		z.out = append(z.out, ']')
	case '"':
		if isPlain(n.raw) {
			z.str(n.raw[1:len(n.raw)-1], true, c)
		} else {
			z.str(unquote(n.raw), false, c)
		}
	case '0':
		if (c.inValue || !isStructuralKey(string(c.key))) && z.a.secrets.matchesNumber(string(n.raw)) {
			z.out = append(z.out, maskedJSON...)
			return
		}
		z.out = append(z.out, n.raw...)
	default:
		z.out = append(z.out, n.raw...)
	}
}

// impliedNull writes an implied member the plan left out: null (what
// marking a value that is not there gives).
func (z *sanitizer) impliedNull(name string, next func()) {
	next()
	z.name([]byte(name))
	z.out = append(z.out, "null"...)
}

// str writes a string leaf: masked if, in a value, it holds a secret; with
// the secrets in it masked if it is free text (not a name of the format);
// as it is otherwise. plain says s needs no escaping.
func (z *sanitizer) str(s []byte, plain bool, c ctx) {
	switch {
	case c.inValue:
		if z.a.secrets.matches(string(s)) {
			z.out = append(z.out, maskedJSON...)
			return
		}
	case !isStructuralKey(string(c.key)) && !z.a.secrets.empty():
		if m := z.a.secrets.maskText(string(s)); m != string(s) {
			z.out = appendJSONString(z.out, m)
			return
		}
	}
	if plain {
		z.out = append(z.out, '"')
		z.out = append(z.out, s...)
		z.out = append(z.out, '"')
		return
	}
	z.out = appendJSONString(z.out, string(s))
}

// name writes an object member's name and the colon after it.
func (z *sanitizer) name(name []byte) {
	if plainText(name) {
		z.out = append(z.out, '"')
		z.out = append(z.out, name...)
		z.out = append(z.out, '"', ':')
		return
	}
	z.out = appendJSONString(z.out, string(name))
	z.out = append(z.out, ':')
}

// plainText reports whether s is written in JSON as it is, between quotes.
func plainText(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return false
		}
	}
	return true
}

// sortMembers sorts members by name, keeping the last of any name that
// repeats (as decoding into a map does).
func sortMembers(m []section) []section {
	m = slices.Clone(m)
	slices.SortStableFunc(m, func(x, y section) int { return cmpString(x.key, y.key) })
	out := m[:0]
	for i := range m {
		if i+1 < len(m) && m[i+1].key == m[i].key {
			continue
		}
		out = append(out, m[i])
	}
	return out
}

func cmpString(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// collectConfigSecrets walks the configuration section: it adds sensitive
// variables' defaults and the constant values of sensitive outputs (root
// and child modules) to secrets and returns the root module's variables
// with whether each is sensitive.
func collectConfigSecrets(config any, secrets *secretSet) map[string]bool {
	root := map[string]bool{}
	cfg, _ := config.(map[string]any)
	rm, _ := cfg["root_module"].(map[string]any)
	var walk func(mod map[string]any, isRoot bool, depth int)
	walk = func(mod map[string]any, isRoot bool, depth int) {
		if depth > maxModuleDepth {
			return
		}
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
		outputs, _ := mod["outputs"].(map[string]any)
		for _, o := range outputs {
			om, _ := o.(map[string]any)
			if sensitive, _ := om["sensitive"].(bool); sensitive {
				expr, _ := om["expression"].(map[string]any)
				secrets.addAll(expr["constant_value"])
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, c := range calls {
			cm, _ := c.(map[string]any)
			if child, ok := cm["module"].(map[string]any); ok {
				walk(child, false, depth+1)
			}
		}
	}
	if rm != nil {
		walk(rm, true, 0)
	}
	return root
}

// isStructuralKey says whether a key holds names, addresses and enums of
// the plan format, never values: they are not value-masked, so an
// innocent string that happens to equal a secret cannot blank an address
// or an action. isValueKey says whether a key holds values of the
// infrastructure: below it every string is a value and every object key
// may be one. (The reference sanitizer in the tests keeps them as maps;
// TestKeySwitchesMatchTheMaps holds the two together.)
func isStructuralKey(k string) bool {
	switch k {
	case "address", "previous_address", "module_address", "mode", "type", "name", "index",
		"provider_name", "provider_config_key", "actions", "action_reason", "reason",
		"deposed", "deposed_key", "format_version", "terraform_version", "timestamp",
		"references", "source", "version_constraint", "kind", "to_display", "status", "full_name":
		return true
	}
	return false
}

func isValueKey(k string) bool {
	switch k {
	case "before", "after", "values", "value", "default", "constant_value":
		return true
	}
	return false
}
