package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/plangate/plangate/config"
)

// A stack with local_state = "state_dir" keeps Terraform's local state
// under the state dir (config.LocalStatePath), out of reach of whoever
// can write the stack directory: every plan, apply and state read passes
// it to Terraform with -state (or as show's argument).

// localState is the stack's state file under the state dir, or "" when
// Terraform keeps it where its backend says.
func (r *Runner) localState(st *config.Stack) string {
	if st.LocalState != config.LocalStateStateDir {
		return ""
	}
	return config.LocalStatePath(r.stateDir, st)
}

// checkLocalState refuses a run that would not use the stack's state
// under the state dir: a backend other than local (Terraform would ignore
// -state, or refuse it), or a first run while the stack directory still
// holds the state Terraform used before (planning against an empty state
// would propose creating everything again). It makes the state's
// directory. The caller holds the stack lock, after init.
func (r *Runner) checkLocalState(st *config.Stack) error {
	path := r.localState(st)
	if path == "" {
		return nil
	}
	if kind := backendType(r.dataDir(st)); kind != "" && kind != "local" {
		return &TerraformError{Op: "init", Stack: st.Name, Product: r.Product(), Output: fmt.Sprintf(
			"stack %q has local_state = %q in plangate.hcl, but its code declares backend %q: %s keeps that state itself. Remove local_state from the stack (its state is then the backend's), or the backend block from the code", st.Name, config.LocalStateStateDir, kind, r.Product())}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	old := filepath.Join(st.Dir, "terraform.tfstate")
	if info, err := os.Stat(old); err == nil && info.Size() > 0 {
		return &TerraformError{Op: "state", Stack: st.Name, Product: r.Product(), Output: fmt.Sprintf(
			"stack %q keeps its state under state_dir (local_state = %q), where there is none yet, but %s holds a state: planning without it would propose creating every resource again. "+
				"A human who has checked that file (an agent can write the stack directory) moves it, as the server's user:\n  install -m 0600 %s %s && rm %s",
			st.Name, config.LocalStateStateDir, old, old, path, old)}
	}
	return nil
}

// backendType is the backend Terraform's init recorded in the data dir
// ("" when it recorded none: the implicit local backend).
func backendType(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, "terraform.tfstate"))
	if err != nil {
		return ""
	}
	var rec struct {
		Backend *struct {
			Type string `json:"type"`
		} `json:"backend"`
	}
	if json.Unmarshal(b, &rec) != nil || rec.Backend == nil {
		return ""
	}
	return rec.Backend.Type
}

// dirOf is path's directory, "" for no path (filepath.Dir says ".").
func dirOf(path string) string {
	if path == "" {
		return ""
	}
	return filepath.Dir(path)
}
