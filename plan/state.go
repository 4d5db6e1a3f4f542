package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/plangate/plangate/config"
)

// StateView is what show_stack reveals of a stack's state: which resources
// exist and the outputs, sensitive ones masked. Resource attribute values
// are never included.
type StateView struct {
	Stack     string          `json:"stack"`
	Workspace string          `json:"workspace"`
	Resources []StateResource `json:"resources"`
	Outputs   []StateOutput   `json:"outputs"`
}

// StateResource is one resource instance in state.
type StateResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Mode    string `json:"mode"`
	Module  string `json:"module,omitempty"`
}

// StateOutput is one root output; Value is omitted when sensitive.
type StateOutput struct {
	Name      string `json:"name"`
	Sensitive bool   `json:"sensitive"`
	Value     any    `json:"value,omitempty"`
}

// SensitiveMask replaces every sensitive value plangate shows.
const SensitiveMask = "(sensitive value)"

// State reads the stack's current state with `terraform show -json`.
func (r *Runner) State(ctx context.Context, st *config.Stack) (*StateView, error) {
	unlock, err := r.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return r.StateLocked(ctx, st)
}

// StateLocked is State for a caller that already holds the stack lock.
func (r *Runner) StateLocked(ctx context.Context, st *config.Stack) (*StateView, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false); err != nil {
		return nil, err
	}
	tf, err := r.newTF(st)
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	tf.SetStderr(&limitedWriter{w: &stderr, n: 64 << 10})
	s, err := tf.Show(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &TerraformError{Op: "show", Stack: st.Name, Output: cleanTerraformOutput(stderr.String(), err)}
	}
	view := &StateView{Stack: st.Name, Workspace: st.Workspace, Resources: []StateResource{}, Outputs: []StateOutput{}}
	if s.Values == nil {
		return view, nil
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, res := range m.Resources {
			view.Resources = append(view.Resources, StateResource{Address: res.Address, Type: res.Type, Mode: string(res.Mode), Module: m.Address})
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(s.Values.RootModule)
	sort.Slice(view.Resources, func(i, j int) bool { return view.Resources[i].Address < view.Resources[j].Address })
	for name, o := range s.Values.Outputs {
		so := StateOutput{Name: name, Sensitive: o.Sensitive}
		if o.Sensitive {
			so.Value = SensitiveMask
		} else {
			so.Value = o.Value
		}
		view.Outputs = append(view.Outputs, so)
	}
	sort.Slice(view.Outputs, func(i, j int) bool { return view.Outputs[i].Name < view.Outputs[j].Name })
	return view, nil
}

// FormatState writes a readable view of a stack's state.
func FormatState(v *StateView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Stack %s (workspace %s): %d resource(s) in state\n", v.Stack, v.Workspace, len(v.Resources))
	for _, r := range v.Resources {
		fmt.Fprintf(&b, "  %s\n", r.Address)
	}
	if len(v.Outputs) > 0 {
		b.WriteString("\nOutputs:\n")
		for _, o := range v.Outputs {
			val, _ := json.Marshal(o.Value)
			if o.Sensitive {
				val = []byte(SensitiveMask)
			}
			fmt.Fprintf(&b, "  %s = %s\n", o.Name, val)
		}
	}
	return b.String()
}
