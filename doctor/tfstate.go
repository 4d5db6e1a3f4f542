package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/plangate/plangate/config"
)

// backend is a stack's Terraform backend as its configuration declares it.
type backend struct {
	kind string            // "local" when none is declared; "cloud" for a cloud block
	attr map[string]string // literal string attributes
}

// stackBackend reads the backend block of the stack's .tf files (only
// literal attribute values; .tf.json files are not read).
func stackBackend(dir string) (backend, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return backend{}, err
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return backend{}, err
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			continue // Terraform reports it; the backend is what the rest declares
		}
		body, ok := file.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, tf := range body.Blocks {
			if tf.Type != "terraform" {
				continue
			}
			for _, b := range tf.Body.Blocks {
				switch {
				case b.Type == "backend" && len(b.Labels) == 1:
					return backend{kind: b.Labels[0], attr: literals(b.Body)}, nil
				case b.Type == "cloud":
					return backend{kind: "cloud", attr: literals(b.Body)}, nil
				}
			}
		}
	}
	return backend{kind: "local", attr: map[string]string{}}, nil
}

func literals(body *hclsyntax.Body) map[string]string {
	out := map[string]string{}
	for name, a := range body.Attributes {
		v, diags := a.Expr.Value(nil)
		if !diags.HasErrors() && v.Type().FriendlyName() == "string" && v.IsKnown() && !v.IsNull() {
			out[name] = v.AsString()
		}
	}
	return out
}

// localStatePath is where the local backend keeps the stack's workspace state.
func localStatePath(st *config.Stack, b backend) string {
	if st.Workspace == "" || st.Workspace == config.DefaultWorkspace {
		if p := b.attr["path"]; p != "" {
			return absIn(st.Dir, p)
		}
		return filepath.Join(st.Dir, "terraform.tfstate")
	}
	wsDir := "terraform.tfstate.d"
	if d := b.attr["workspace_dir"]; d != "" {
		wsDir = d
	}
	return filepath.Join(absIn(st.Dir, wsDir), st.Workspace, "terraform.tfstate")
}

func absIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// terraformState: can the agent's user read (secrets) or write (what
// Terraform believes exists) the stack's local state?
func terraformState(fa *access, stateDir string, st *config.Stack) Check {
	name := fmt.Sprintf("stack %s: Terraform state out of the agent's reach", st.Name)
	if st.LocalState == config.LocalStateStateDir {
		return localStateCheck(fa, name, st, config.LocalStatePath(stateDir, st), "")
	}
	b, err := stackBackend(st.Dir)
	if err != nil {
		return unknown(name, guardSecrets, fmt.Sprintf("cannot read the stack's configuration: %v", err), "run plangate doctor as a user who can read "+st.Dir)
	}
	if b.kind != "local" {
		where := ""
		if bucket := b.attr["bucket"]; bucket != "" {
			where = fmt.Sprintf(" (bucket %s)", bucket)
		}
		return skipped(name, guardSecrets, fmt.Sprintf("backend %q%s: remote state is not checked here; whoever holds credentials for it can read and write it, so the agent must hold none", b.kind, where))
	}
	if fa.absent != nil {
		return fa.absent.check(name, guardSecrets)
	}
	fix := fmt.Sprintf("keep the state where %s cannot reach it: local_state = %q in the stack's block (Terraform's local state under state_dir), a remote backend only the server's credentials open, or the stack directory owned by the server's user (chown -R plangate: %s; chmod -R go-w %s) and the state file mode 0600", fa.who.Name, config.LocalStateStateDir, st.Dir, st.Dir)
	return localStateCheck(fa, name, st, localStatePath(st, b), fix)
}

// localStateCheck: can the agent's user read or write the state file at path?
func localStateCheck(fa *access, name string, st *config.Stack, path, fix string) Check {
	if fa.absent != nil {
		return fa.absent.check(name, guardSecrets)
	}
	if fix == "" {
		fix = fmt.Sprintf("keep state_dir 0700 and owned by the server's user, out of %s's reach", fa.who.Name)
	}
	if fa.who.Root() {
		return fail(name, guardSecrets, fa.who.rootFact(), "run the agents as another OS user than root")
	}
	var problems []string
	readFact := ""
	if _, err := os.Stat(path); err == nil {
		r, err := fa.read(path)
		if err != nil {
			return unknown(name, guardSecrets, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user")
		}
		if r.yes {
			problems = append(problems, r.why+" (Terraform state holds secrets in clear)")
		}
		readFact = r.why + "; "
	} else if !errors.Is(err, fs.ErrNotExist) {
		return unknown(name, guardSecrets, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user")
	}
	w, err := fa.write(path)
	if err != nil {
		return unknown(name, guardSecrets, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user")
	}
	if w.yes {
		problems = append(problems, w.why+" (and so decide what Terraform believes exists)")
	}
	if len(problems) > 0 {
		return fail(name, guardSecrets, strings.Join(problems, "; "), fix)
	}
	where := "local state"
	if st.LocalState == config.LocalStateStateDir {
		where = "local state under state_dir"
	}
	return ok(name, guardSecrets, where+": "+readFact+w.why)
}
