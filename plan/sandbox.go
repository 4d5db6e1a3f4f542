package plan

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/sandbox"
)

// SandboxMode says whether Terraform runs in a sandbox
// (internal/sandbox): the Terraform code of a stack an agent edits is
// evaluated as the server's user, and without one its file functions
// read every file that user can.
type SandboxMode string

const (
	// SandboxAuto sandboxes Terraform where the machine allows it, and
	// says so once where it does not (the default).
	SandboxAuto SandboxMode = "auto"
	// SandboxRequired refuses to run Terraform unsandboxed.
	SandboxRequired SandboxMode = "required"
	// SandboxOff never sandboxes.
	SandboxOff SandboxMode = "off"
)

// ParseSandboxMode reads PLANGATE_SANDBOX's value ("" is auto).
func ParseSandboxMode(s string) (SandboxMode, error) {
	switch SandboxMode(s) {
	case "", SandboxAuto:
		return SandboxAuto, nil
	case SandboxRequired, SandboxOff:
		return SandboxMode(s), nil
	}
	return "", fmt.Errorf("PLANGATE_SANDBOX=%q: use auto (the default: sandbox Terraform where the machine allows it), required (refuse to run Terraform unsandboxed) or off", s)
}

type sandboxConfig struct {
	exe  string
	mode SandboxMode
	hide []string
	// active is set once the probe has passed.
	active bool
}

// Sandbox runs every Terraform process of the runner in a sandbox made
// through exe, the plangate binary (it calls sandbox.Main first): the
// state dir is hidden but for what the one command needs (the stack's
// data dir and CLI configuration, the plan's own directory), and so is
// each path of hide (the user's plangate state and key directories); for
// a stack with an aws block, the server's shared credentials file too
// (Terraform gets the session's credentials in its environment).
// Call it before the first run.
func (r *Runner) Sandbox(exe string, mode SandboxMode, hide ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sbx = &sandboxConfig{exe: exe, mode: mode, hide: hide}
}

// probeSandbox decides, on first use, whether runs are sandboxed. The
// caller holds r.mu.
func (r *Runner) probeSandbox() error {
	s := r.sbx
	if s == nil || s.mode == SandboxOff {
		return nil
	}
	if err := sandbox.Probe(s.exe); err != nil {
		if s.mode == SandboxRequired {
			return &TerraformError{Op: "sandbox", Product: r.product, Output: err.Error() + "; PLANGATE_SANDBOX=required refuses to run " + r.product.String() + " without one (PLANGATE_SANDBOX=auto runs it unsandboxed, and says so)"}
		}
		r.logger.Warn(r.product.String()+" runs unsandboxed: "+r.product.String()+" code can read every file of this user", "err", err)
		return nil
	}
	s.active = true
	return nil
}

// sandboxed returns the executable to start for a Terraform command on
// st and adds what makes it a sandboxed one to env; keep lists the paths
// of the state dir the command needs beyond the stack's own.
func (r *Runner) sandboxed(st *config.Stack, env map[string]string, keep ...string) (string, error) {
	r.mu.Lock()
	s, execPath := r.sbx, r.execPath
	r.mu.Unlock()
	if s == nil || !s.active {
		return execPath, nil
	}
	hide := append([]string{r.stateDir}, s.hide...)
	if st.AWS != nil {
		hide = append(hide, sharedCredentialsFile(env))
	}
	keep = append(keep, r.dataDir(st), r.cliConfigPath(st), st.Dir, st.ProviderMirror)
	keep = append(keep, st.VarFiles...)
	v, err := sandbox.Encode(sandbox.Spec{Path: execPath, Hide: hide, Keep: keep})
	if err != nil {
		return "", err
	}
	env[sandbox.SpecEnv] = v
	return s.exe, nil
}

// sharedCredentialsFile is the AWS shared credentials file the
// environment names, else ~/.aws/credentials.
func sharedCredentialsFile(env map[string]string) string {
	if f := env["AWS_SHARED_CREDENTIALS_FILE"]; f != "" {
		return f
	}
	home := env["HOME"]
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".aws", "credentials")
}
