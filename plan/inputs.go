package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/plangate/plangate/config"
)

// Origin says where a plan took the value of a variable the agent may set.
//
// Precedence, first that applies: the agent's explicit value; a variable
// definitions file (human-set: the stack's var_files, or terraform.tfvars
// and *.auto.tfvars in its directory, which Terraform reads by itself);
// the value of the stack's last applied plan, carried forward; the
// declaration's default. A carried value stands in for the default only:
// it was an applied decision, but a file a human keeps is a standing one,
// and a human's edit to it must take effect. An explicit null from the
// agent carries nothing: the variable takes the file's value or the
// default.
type Origin string

// Origins of an input value.
const (
	// OriginAgent is a value the agent set in this plan_change call.
	OriginAgent Origin = "agent"
	// OriginLastApplied is the value of the stack's last applied plan,
	// carried forward because the agent left the variable out.
	OriginLastApplied Origin = "last_applied"
	// OriginVarFile is a value from a variable definitions file.
	OriginVarFile Origin = "var_file"
	// OriginDefault is the declaration's default (null for a variable
	// without one: Terraform then refuses the plan).
	OriginDefault Origin = "default"
)

// Input is one variable the agent may set on a plan's stack: the value the
// plan used, masked as every sensitive value is, and where it came from.
type Input struct {
	Name   string `json:"name"`
	Value  any    `json:"value" jsonschema:"the value the plan used, as Terraform read it; sensitive values are (sensitive value)"`
	Origin Origin `json:"origin" jsonschema:"agent (set in this call), last_applied (carried forward from the stack's last applied plan: an omitted variable keeps its applied value), var_file (a human-set variable definitions file) or default (the declaration's default; an explicit null resets a variable to it)"`
	// Source names the file (var_file) or the applied plan (last_applied).
	Source string `json:"source,omitempty" jsonschema:"for var_file the file, relative to the stack dir; for last_applied the id of the applied plan the value was carried from"`
}

// Carries reports whether the value was chosen for this stack on purpose,
// through plangate (set by the agent, or carried forward), so that the
// next plan carries it forward in turn.
func (in Input) Carries() bool { return in.Origin == OriginAgent || in.Origin == OriginLastApplied }

// VarFileValue is a variable's value in the variable definitions files
// Terraform reads for a stack: File is the last one that sets it, whose
// value Terraform uses.
type VarFileValue struct {
	File  string
	Value any
}

// VarFileValues reads the variable definitions files Terraform reads for
// the stack, in Terraform's order: terraform.tfvars, terraform.tfvars.json
// and the *.auto.tfvars(.json) files of the stack dir (by name), then the
// stack's var_files. A file that does not parse is skipped: Terraform
// reports it when it plans.
func VarFileValues(st *config.Stack) map[string]VarFileValue {
	files := []string{filepath.Join(st.Dir, "terraform.tfvars"), filepath.Join(st.Dir, "terraform.tfvars.json")}
	if entries, err := os.ReadDir(st.Dir); err == nil {
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".auto.tfvars") || strings.HasSuffix(n, ".auto.tfvars.json")) {
				files = append(files, filepath.Join(st.Dir, n))
			}
		}
	}
	files = append(files, st.VarFiles...)
	out := map[string]VarFileValue{}
	parser := hclparse.NewParser()
	for _, path := range files {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(path, ".json") {
			f, diags = parser.ParseJSONFile(path)
		} else {
			f, diags = parser.ParseHCLFile(path)
		}
		if diags.HasErrors() {
			continue
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			continue
		}
		name := path
		if rel, err := filepath.Rel(st.Dir, path); err == nil {
			name = rel
		}
		for n, attr := range attrs {
			out[n] = VarFileValue{File: name, Value: literalValue(attr.Expr)}
		}
	}
	return out
}

// literalValue is the JSON value of a definitions file's expression,
// evaluated as Terraform does (no variables, no functions); nil when it
// cannot be.
func literalValue(expr hcl.Expression) any {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// Uncarried lists the settable variables that neither the agent's values
// (CheckVariables' result, a nil value included) nor a definitions file
// sets: those a last applied plan may carry a value into.
func Uncarried(decls []Variable, agent map[string]any, files map[string]VarFileValue) []string {
	var out []string
	for _, d := range decls {
		_, set := agent[d.Name]
		_, inFile := files[d.Name]
		if d.Declared && !set && !inFile {
			out = append(out, d.Name)
		}
	}
	return out
}

// InputSet is how a plan gets the values of the stack's settable
// variables. Its values are in clear: only Vars goes to Terraform, and only
// Shown goes anywhere else.
type InputSet struct {
	// Inputs lists every declared settable variable, in the stack's order.
	Inputs []Input
	// Vars are the values plangate passes to Terraform, in its own
	// .tfvars.json after the stack's var_files: the agent's and the
	// carried ones.
	Vars map[string]any

	sensitive map[string]bool
}

// ResolveInputs decides where each settable variable gets its value (see
// Origin). agent is CheckVariables' result, in which a nil value asks for
// the stack's own value (no carrying); carried are values of the last
// applied plan (plan id from) for variables Uncarried listed. A null for a
// variable that has no default and that no file sets is an *InputError.
func ResolveInputs(decls []Variable, agent map[string]any, files map[string]VarFileValue, carried map[string]any, from string) (*InputSet, error) {
	set := &InputSet{Inputs: []Input{}, Vars: map[string]any{}, sensitive: map[string]bool{}}
	for _, d := range decls {
		if !d.Declared {
			continue
		}
		set.sensitive[d.Name] = d.Sensitive
		in := Input{Name: d.Name, Origin: OriginDefault, Value: d.Default}
		v, byAgent := agent[d.Name]
		f, inFile := files[d.Name]
		c, isCarried := carried[d.Name]
		switch {
		case byAgent && v != nil:
			in.Origin, in.Value = OriginAgent, v
			set.Vars[d.Name] = v
		case inFile:
			in.Origin, in.Value, in.Source = OriginVarFile, f.Value, f.File
		case byAgent && d.Required:
			return nil, inputErrorf("variable %q is null, but the stack declares no default for it and no var file sets it: give a value of type %s", d.Name, d.Type)
		case byAgent:
			// A reset: the declaration's default.
		case isCarried:
			in.Origin, in.Value, in.Source = OriginLastApplied, c, from
			set.Vars[d.Name] = c
		}
		set.Inputs = append(set.Inputs, in)
	}
	return set, nil
}

// Shown returns the inputs as plangate records and shows them: each value
// the one the plan used (from a's variables when the plan has them),
// sensitive ones as SensitiveMask, the others with every secret the plan
// (a, or m without a plan) knows of masked.
func (s *InputSet) Shown(a *Analysis, m *Masker) []Input {
	out := make([]Input, len(s.Inputs))
	for i, in := range s.Inputs {
		if a != nil {
			if v, ok := a.shownVariable(in.Name); ok {
				in.Value = v
				out[i] = in
				continue
			}
		}
		if s.sensitive[in.Name] && in.Value != nil {
			in.Value = SensitiveMask
		} else {
			in.Value = m.MaskValue(in.Value)
		}
		out[i] = in
	}
	return out
}

// Inputs returns recorded inputs valued from the plan's own variables
// (where the plan has them): what the approver is shown comes from the
// plan file's bytes. Origins are the record's.
func (a *Analysis) Inputs(recorded []Input) []Input {
	out := make([]Input, len(recorded))
	for i, in := range recorded {
		if v, ok := a.shownVariable(in.Name); ok {
			in.Value = v
		}
		out[i] = in
	}
	return out
}

// shownVariable is the plan's value of a root variable as plangate shows
// it: SensitiveMask for a sensitive (or undeclared) variable, the others
// with the plan's secrets masked.
func (a *Analysis) shownVariable(name string) (any, bool) {
	raw, ok := a.variables[name]
	if !ok {
		return nil, false
	}
	v, err := decodeAny(raw)
	if err != nil {
		return SensitiveMask, true
	}
	if v != nil && a.variableSensitive(name) {
		return SensitiveMask, true
	}
	return a.secrets.maskCopy(v), true
}

// ClearVariable is the plan's value of a root variable in clear, sensitive
// or not: only to carry it into the next plan, never to show.
func (a *Analysis) ClearVariable(name string) (any, bool) {
	raw, ok := a.variables[name]
	if !ok {
		return nil, false
	}
	v, err := decodeAny(raw)
	if err != nil {
		return nil, false
	}
	// Decoded strings share the plan's memory; the copy does not.
	v, ok = jsonRoundTrip(v)
	return v, ok
}

// CheckCarried checks values carried from an applied plan against the
// variables' declarations as they are now: a type changed since is an
// *InputError that says how to go on.
func CheckCarried(decls []Variable, carried map[string]any, from string) error {
	names := make([]string, 0, len(carried))
	for n := range carried {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, d := range decls {
			if d.Name != n {
				continue
			}
			if err := checkType(carried[n], d.ty); err != nil {
				return inputErrorf("variable %q: the value the last applied plan %s used no longer fits the type the stack declares (%s): %s. Pass %s explicitly, or null for the stack's own value", n, ShortID(from), d.Type, err, n)
			}
		}
	}
	return nil
}

// MaskedAnywhere reports whether a recorded value holds SensitiveMask
// anywhere: the record cannot say what it was.
func MaskedAnywhere(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, SensitiveMask)
	case []any:
		for _, e := range x {
			if MaskedAnywhere(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if MaskedAnywhere(e) {
				return true
			}
		}
	}
	return false
}

// SameValue reports whether two values read from JSON (or Go values that
// encode to it) are the same JSON value.
func SameValue(a, b any) bool {
	ca, errA := canonicalJSON(a)
	cb, errB := canonicalJSON(b)
	return errA == nil && errB == nil && ca == cb
}

func canonicalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var round any
	if err := json.Unmarshal(b, &round); err != nil {
		return "", err
	}
	b, err = json.Marshal(round)
	return string(b), err
}

// FormatInputValue is a value as the report prints it: JSON, one line,
// SensitiveMask bare, long values cut.
func FormatInputValue(v any) string {
	if s, ok := v.(string); ok && s == SensitiveMask {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return Truncate(string(b), 200)
}
