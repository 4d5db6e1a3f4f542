package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

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
	// Concurrent is set when the state was read while a Terraform run
	// held the stack: reads never wait, so an apply may be changing it.
	Concurrent string `json:"concurrent,omitempty" jsonschema:"set when a plan or apply was running on the stack during the read: the state may be changing; read again once it finishes"`
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
// readState) is replaced by SensitiveMask too, because an output can
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
//
// A read never waits for a Terraform run of this process: while one holds
// the stack (and the stack was initialised), the state is read without
// the lock, and the view says so.
//
// Reads of one stack that overlap share one Terraform run: however many
// agents poll show_stack, a stack has at most one `terraform show` of its
// state in flight (each caller gets its own copy of the view).
func (r *Runner) State(ctx context.Context, st *config.Stack, opts ...StateOption) (*StateView, error) {
	ch := r.reads.DoChan(st.Name, func() (any, error) {
		// Not the first caller's cancellation: others may be waiting.
		return r.state(context.WithoutCancel(ctx), st, opts...)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		v := *res.Val.(*StateView)
		return &v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Runner) state(ctx context.Context, st *config.Stack, opts ...StateOption) (*StateView, error) {
	unlock, ok, err := r.locks.TryLock(st.Name)
	if err != nil {
		return nil, err
	}
	if ok {
		defer unlock()
		return r.StateLocked(ctx, st, opts...)
	}
	// A run holds the stack (here or in another plangate): read beside
	// it, without running init (which must not run beside another run).
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	raw, err := r.showStateJSON(ctx, st, stateOptions(opts).creds)
	if err != nil {
		return nil, fmt.Errorf("stack %q is busy with a Terraform run and reading its state beside it failed (%w): try again once the run finishes", st.Name, err)
	}
	view, _, err := readState(st, raw)
	if err != nil {
		return nil, err
	}
	view.Concurrent = "read while a plan or apply was running on this stack: an apply may be changing the state; read it again once the run finishes"
	return view, nil
}

// StateLocked is State for a caller that already holds the stack lock.
func (r *Runner) StateLocked(ctx context.Context, st *config.Stack, opts ...StateOption) (*StateView, error) {
	raw, err := r.showState(ctx, st, stateOptions(opts).creds)
	if err != nil {
		return nil, err
	}
	view, _, err := readState(st, raw)
	return view, err
}

// SecretsLocked returns a Masker holding every secret plangate can find for
// the stack without a plan: the values the state marks sensitive, sensitive
// outputs, and the defaults of sensitive variables. The caller holds the
// stack lock. Used to mask Terraform's diagnostics after an apply. When the
// state cannot be read, the Masker holds the configuration's secrets only
// and the error says why: the caller must not trust it with state values.
func (r *Runner) SecretsLocked(ctx context.Context, st *config.Stack, opts ...StateOption) (*Masker, error) {
	m := NewMasker()
	raw, err := r.showState(ctx, st, stateOptions(opts).creds)
	if err == nil {
		_, m, err = readState(st, raw)
		if err != nil {
			m = NewMasker()
		}
	}
	for _, v := range SensitiveValues(st, nil, nil) {
		m.AddValue(v)
	}
	return m, err
}

// showState returns `terraform show -json` of the stack's state.
func (r *Runner) showState(ctx context.Context, st *config.Stack, creds Credentials) ([]byte, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false, creds); err != nil {
		return nil, err
	}
	return r.showStateJSON(ctx, st, creds)
}

// noState is what `terraform show -json` prints when there is no state.
const noState = `{"format_version":"1.0"}`

// showStateJSON runs `terraform show -json` of the stack's state: the
// backend's, or the file under the state dir (local_state = "state_dir").
func (r *Runner) showStateJSON(ctx context.Context, st *config.Stack, creds Credentials) ([]byte, error) {
	var args []string
	if path := r.localState(st); path != "" {
		if err := r.checkLocalState(st); err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return []byte(noState), nil
		}
		args = append(args, path)
	}
	var out bytes.Buffer
	if err := r.show(ctx, st, "show", &out, creds, args...); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readState reads `terraform show -json` of a state with the plan
// reader: what show_stack reveals (resource addresses, the root outputs
// masked) and the state's secrets, collected as a plan's prior state's
// are: every value at a path a resource's sensitive_values marks (child
// modules and deposed objects included; marks of another shape make every
// value of the resource a secret) and the value of every sensitive output.
// Masking the other outputs with them catches a sensitive string or number
// that lost its mark on its way to an output, such as `value =
// terraform_data.pw.output` when the input came from a sensitive variable.
// Bools are not masked by value (see SensitiveValue), nor is a value whose
// mark was never in this state (a remote state's sensitive output read
// through terraform_remote_state).
func readState(st *config.Stack, raw []byte) (*StateView, *Masker, error) {
	view := &StateView{Stack: st.Name, Workspace: st.Workspace, Resources: []StateResource{}, Outputs: []StateOutput{}}
	a := &Analysis{secrets: newSecretSet()}
	type output struct {
		name      string
		sensitive bool
		value     []byte
	}
	var outputs []output
	visit := &stateVisitor{
		resource: func(res StateResource) { view.Resources = append(view.Resources, res) },
		output: func(name string, sensitive bool, value []byte) {
			outputs = append(outputs, output{name, sensitive, value})
		},
	}
	r := newJSONReader(raw, lenient...)
	err := r.objectOnce(func(field []byte) error {
		if string(field) != "values" {
			return r.skip()
		}
		return a.stateValues(r, false, visit)
	})
	if err == nil {
		err = r.end("the state")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the state of stack %q (terraform show -json): %w", st.Name, err)
	}
	sort.Slice(view.Resources, func(i, j int) bool { return view.Resources[i].Address < view.Resources[j].Address })
	masker := &Masker{s: a.secrets}
	for _, o := range outputs {
		so := StateOutput{Name: o.name, Sensitive: o.sensitive, Value: SensitiveMask}
		if !o.sensitive {
			v, err := decodeAny(o.value)
			if err != nil {
				return nil, nil, fmt.Errorf("reading the state of stack %q: output %s: %w", st.Name, o.name, err)
			}
			so.Value = masker.MaskValue(v)
		}
		view.Outputs = append(view.Outputs, so)
	}
	sort.Slice(view.Outputs, func(i, j int) bool { return view.Outputs[i].Name < view.Outputs[j].Name })
	return view, masker, nil
}

// FormatState writes a readable view of a stack's state.
func FormatState(v *StateView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Stack %s (workspace %s): %d resource(s) in state\n", v.Stack, v.Workspace, len(v.Resources))
	if v.AWS != nil {
		fmt.Fprintf(&b, "AWS: %s\n", v.AWS)
	}
	if v.Concurrent != "" {
		fmt.Fprintf(&b, "NOTE: %s\n", v.Concurrent)
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
