package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	// AWS is who read the state (stacks with an aws block: the plan role).
	AWS *AWSIdentity `json:"aws,omitempty"`
}

// StateResource is one resource instance in state.
type StateResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Mode    string `json:"mode"`
	Module  string `json:"module,omitempty"`
}

// StateOutput is one root output. The value of a sensitive output is
// SensitiveMask; in the others every secret the state knows of (see
// stateMasker) is replaced by SensitiveMask too, because an output can
// carry a sensitive value that lost its mark on the way (terraform_data's
// output, for one).
type StateOutput struct {
	Name      string `json:"name"`
	Sensitive bool   `json:"sensitive"`
	Value     any    `json:"value,omitempty"`
}

// SensitiveMask replaces every sensitive value plangate shows.
const SensitiveMask = "(sensitive value)"

// State reads the stack's current state with `terraform show -json`.
func (r *Runner) State(ctx context.Context, st *config.Stack, opts ...StateOption) (*StateView, error) {
	unlock, err := r.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return r.StateLocked(ctx, st, opts...)
}

// StateLocked is State for a caller that already holds the stack lock.
func (r *Runner) StateLocked(ctx context.Context, st *config.Stack, opts ...StateOption) (*StateView, error) {
	s, err := r.showState(ctx, st, stateOptions(opts).creds)
	if err != nil {
		return nil, err
	}
	return buildStateView(st, s), nil
}

// SecretsLocked returns a Masker holding every secret plangate can find for
// the stack without a plan: the values the state marks sensitive, sensitive
// outputs, and the defaults of sensitive variables. The caller holds the
// stack lock. Used to mask Terraform's diagnostics after an apply. When the
// state cannot be read, the Masker holds the configuration's secrets only
// and the error says why: the caller must not trust it with state values.
func (r *Runner) SecretsLocked(ctx context.Context, st *config.Stack, opts ...StateOption) (*Masker, error) {
	m := NewMasker()
	s, err := r.showState(ctx, st, stateOptions(opts).creds)
	if err == nil {
		m = stateMasker(s)
	}
	for _, v := range SensitiveValues(st, nil, nil) {
		m.AddValue(v)
	}
	return m, err
}

func (r *Runner) showState(ctx context.Context, st *config.Stack, creds Credentials) (*tfjson.State, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false, creds); err != nil {
		return nil, err
	}
	tf, err := r.newTF(st, creds)
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
	return s, nil
}

// buildStateView turns `terraform show -json` state into what show_stack
// reveals: resource addresses and the root outputs, masked.
func buildStateView(st *config.Stack, s *tfjson.State) *StateView {
	view := &StateView{Stack: st.Name, Workspace: st.Workspace, Resources: []StateResource{}, Outputs: []StateOutput{}}
	if s == nil || s.Values == nil {
		return view
	}
	var walk func(m *tfjson.StateModule, depth int)
	walk = func(m *tfjson.StateModule, depth int) {
		if m == nil || depth > maxModuleDepth {
			return
		}
		for _, res := range m.Resources {
			if res == nil {
				continue
			}
			view.Resources = append(view.Resources, StateResource{Address: res.Address, Type: res.Type, Mode: string(res.Mode), Module: m.Address})
		}
		for _, c := range m.ChildModules {
			walk(c, depth+1)
		}
	}
	walk(s.Values.RootModule, 0)
	sort.Slice(view.Resources, func(i, j int) bool { return view.Resources[i].Address < view.Resources[j].Address })
	masker := stateMasker(s)
	for name, o := range s.Values.Outputs {
		if o == nil {
			continue
		}
		so := StateOutput{Name: name, Sensitive: o.Sensitive}
		if o.Sensitive {
			so.Value = SensitiveMask
		} else {
			so.Value = masker.MaskValue(o.Value)
		}
		view.Outputs = append(view.Outputs, so)
	}
	sort.Slice(view.Outputs, func(i, j int) bool { return view.Outputs[i].Name < view.Outputs[j].Name })
	return view
}

// stateMasker collects the secrets of a state: every value at a path a
// resource's sensitive_values marks (child modules and deposed objects
// included) and the value of every sensitive output. Masking the other
// outputs with it catches a sensitive string or number that lost its mark
// on its way to an output, such as `value = terraform_data.pw.output` when
// the input came from a sensitive variable. Bools are not masked by value
// (see SensitiveValue), nor is a value whose mark was never in this state
// (a remote state's sensitive output read through terraform_remote_state).
func stateMasker(s *tfjson.State) *Masker {
	m := NewMasker()
	if s == nil || s.Values == nil {
		return m
	}
	for _, o := range s.Values.Outputs {
		if o != nil && o.Sensitive {
			m.AddValue(o.Value)
		}
	}
	var walk func(mod *tfjson.StateModule, depth int)
	walk = func(mod *tfjson.StateModule, depth int) {
		if mod == nil || depth > maxModuleDepth {
			return
		}
		for _, res := range mod.Resources {
			if res == nil || !bytes.Contains(res.SensitiveValues, []byte("true")) {
				continue
			}
			mask, err := decodeAny(res.SensitiveValues)
			switch mask.(type) {
			case bool, map[string]any, []any:
			default:
				err = errors.New("not a mark")
			}
			if err != nil {
				// Marks we cannot read: every value of the resource is a
				// secret, in doubt.
				m.AddValue(res.AttributeValues)
				continue
			}
			m.s.addMarked(map[string]any(res.AttributeValues), mask)
		}
		for _, c := range mod.ChildModules {
			walk(c, depth+1)
		}
	}
	walk(s.Values.RootModule, 0)
	return m
}

// FormatState writes a readable view of a stack's state.
func FormatState(v *StateView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Stack %s (workspace %s): %d resource(s) in state\n", v.Stack, v.Workspace, len(v.Resources))
	if v.AWS != nil {
		fmt.Fprintf(&b, "AWS: %s\n", v.AWS)
	}
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
