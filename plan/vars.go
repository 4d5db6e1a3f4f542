package plan

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/plangate/plangate/config"
)

// Variable is a variable an agent may set on a stack, as the stack's
// Terraform configuration declares it.
type Variable struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	// Default is the declared default; omitted for sensitive variables.
	Default any `json:"default,omitempty"`
	// Declared is false when the config allowlists a variable the
	// Terraform module does not declare (a config mistake worth showing).
	Declared bool `json:"declared"`

	ty cty.Type
}

// StackVariables reads the declarations of the stack's allowlisted
// variables from its Terraform configuration.
func StackVariables(st *config.Stack) (vars []Variable, err error) {
	// tfconfig panics on some blocks Terraform refuses (a top-level
	// required_providers, say): an agent-edited file must not crash the
	// server.
	defer func() {
		if p := recover(); p != nil {
			vars, err = nil, &TerraformError{Op: "configuration", Stack: st.Name, Output: fmt.Sprintf("the configuration cannot be read (%v): check the .tf files", p)}
		}
	}()
	mod, diags := tfconfig.LoadModule(st.Dir)
	if diags.HasErrors() {
		return nil, &TerraformError{Op: "configuration", Stack: st.Name, Output: formatInspectDiags(st.Dir, diags)}
	}
	out := make([]Variable, 0, len(st.Variables))
	for _, name := range st.Variables {
		v := Variable{Name: name, Type: "any", ty: cty.DynamicPseudoType}
		decl, ok := mod.Variables[name]
		if ok {
			v.Declared = true
			v.Description = decl.Description
			v.Required = decl.Required
			v.Sensitive = decl.Sensitive
			if !decl.Sensitive {
				v.Default = decl.Default
			}
			if decl.Type != "" {
				v.Type = decl.Type
				ty, err := parseType(decl.Type)
				if err != nil {
					return nil, fmt.Errorf("stack %q: variable %q: type %s: %w", st.Name, name, decl.Type, err)
				}
				v.ty = ty
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func parseType(s string) (cty.Type, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(s), "type", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilType, diags
	}
	ty, _, diags := typeexpr.TypeConstraintWithDefaults(expr)
	if diags.HasErrors() {
		return cty.NilType, diags
	}
	return ty, nil
}

// MaxVariableBytes bounds one agent-set variable value, JSON-encoded.
const MaxVariableBytes = 64 << 10

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// InputError is a problem with what the agent asked for. Its message says
// what is wrong and how to fix it.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, a ...any) error { return &InputError{Msg: fmt.Sprintf(format, a...)} }

// CheckVariables validates agent-set values against the stack's allowlist
// and declared types, and returns them. A nil value is the agent's
// explicit null: the variable takes the stack's own value (a var file's,
// else the default) instead of the last applied one (see ResolveInputs).
func CheckVariables(st *config.Stack, decls []Variable, values map[string]any) (map[string]any, error) {
	byName := make(map[string]Variable, len(decls))
	for _, d := range decls {
		byName[d.Name] = d
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]any, len(values))
	for _, name := range names {
		if !identRE.MatchString(name) {
			return nil, inputErrorf("variable name %q is not a Terraform identifier (letters, digits, _ and -, not starting with a digit): use one of the stack's variables: %s", sanitizeForMessage(name), allowed(st))
		}
		d, ok := byName[name]
		if !ok {
			return nil, inputErrorf("variable %q may not be set on stack %q: the agent may set only %s (a human adds more to `variables` in plangate.hcl)", sanitizeForMessage(name), st.Name, allowed(st))
		}
		if !d.Declared {
			return nil, inputErrorf("variable %q is allowlisted for stack %q but the Terraform configuration in %s does not declare it: ask a human to fix plangate.hcl or the module", name, st.Name, st.Dir)
		}
		val := values[name]
		if b, err := json.Marshal(val); err != nil || len(b) > MaxVariableBytes {
			return nil, inputErrorf("variable %q: the value is larger than %d KiB as JSON: variables set by an agent are small settings, not data", name, MaxVariableBytes>>10)
		}
		if val == nil {
			// A reset: the stack's own value, not the last applied one.
			out[name] = nil
			continue
		}
		if path, ok := controlChars(val, name); ok {
			return nil, inputErrorf("variable %q: the value at %s contains a control character (newline, tab, escape...): Terraform variables set by an agent must be single-line text without control characters", name, path)
		}
		if err := checkType(val, d.ty); err != nil {
			return nil, inputErrorf("variable %q has the wrong type: %s; the stack declares it as %s", name, err, d.Type)
		}
		out[name] = val
	}
	return out, nil
}

func allowed(st *config.Stack) string {
	if len(st.Variables) == 0 {
		return "none (this stack takes no agent-set variables)"
	}
	return strings.Join(st.Variables, ", ")
}

// checkType converts the JSON value to the declared type the way Terraform
// would, so an agent gets Terraform's own verdict before a plan runs.
func checkType(val any, ty cty.Type) error {
	b, err := json.Marshal(val)
	if err != nil {
		return err
	}
	implied, err := ctyjson.ImpliedType(b)
	if err != nil {
		return err
	}
	cv, err := ctyjson.Unmarshal(b, implied)
	if err != nil {
		return err
	}
	_, err = convert.Convert(cv, ty)
	if err != nil {
		return fmt.Errorf("%s", describeConvertErr(err))
	}
	return nil
}

func describeConvertErr(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("at %s: %s", formatPath(pe.Path), pe.Error())
	}
	return err.Error()
}

func formatPath(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().String())
			}
		}
	}
	return b.String()
}

// controlChars reports the first path in v holding a string (or key) with a
// control character.
func controlChars(v any, path string) (string, bool) {
	switch t := v.(type) {
	case string:
		if hasControl(t) {
			return path, true
		}
	case []any:
		for i, e := range t {
			if p, ok := controlChars(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	case map[string]any:
		for k, e := range t {
			if hasControl(k) {
				return path + " (a key)", true
			}
			if p, ok := controlChars(e, fmt.Sprintf("%s[%q]", path, k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// sanitizeForMessage quotes untrusted text for an error message without
// letting it carry control characters or run on.
func sanitizeForMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
	return Truncate(s, 64)
}

// Truncate shortens s to at most n bytes, never inside a UTF-8 sequence,
// marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// formatInspectDiags lists configuration errors with file and line, the
// way Terraform would report them.
func formatInspectDiags(dir string, diags tfconfig.Diagnostics) string {
	var b strings.Builder
	n := 0
	for _, d := range diags {
		if d.Severity != tfconfig.DiagError {
			continue
		}
		if n == 10 {
			fmt.Fprintf(&b, "… and more errors\n")
			break
		}
		n++
		b.WriteString("Error: " + d.Summary)
		if d.Pos != nil {
			file := d.Pos.Filename
			if rel, err := filepath.Rel(dir, file); err == nil {
				file = rel
			}
			fmt.Fprintf(&b, "\n  on %s line %d", file, d.Pos.Line)
		}
		if d.Detail != "" {
			b.WriteString("\n  " + d.Detail)
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// SensitiveValues are the values of the stack's sensitive variables that
// plangate knows without a plan: the agent's, and the declared defaults.
func SensitiveValues(st *config.Stack, decls []Variable, vars map[string]any) []any {
	var out []any
	for _, d := range decls {
		if v, ok := vars[d.Name]; ok && d.Sensitive {
			out = append(out, v)
		}
	}
	if mod, diags := tfconfig.LoadModule(st.Dir); !diags.HasErrors() {
		for _, v := range mod.Variables {
			if v.Sensitive && v.Default != nil {
				out = append(out, v.Default)
			}
		}
	}
	return out
}

// RedactSensitive returns the agent's variables as recorded: the values of
// variables the stack declares sensitive are masked (a null stays null).
func RedactSensitive(decls []Variable, vars map[string]any) map[string]any {
	if len(vars) == 0 {
		return vars
	}
	sensitive := map[string]bool{}
	for _, d := range decls {
		sensitive[d.Name] = d.Sensitive
	}
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		if sensitive[k] && v != nil {
			v = SensitiveMask
		}
		out[k] = v
	}
	return out
}
