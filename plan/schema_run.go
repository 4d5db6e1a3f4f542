package plan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/atomicfile"
)

// runJSON runs Terraform with argv for the stack, its output to w, as
// terraform-exec runs it: in the stack's directory, with the runner's
// environment, sandboxed (keep: the extra directories it reads), its own
// process group, SIGINT on cancel.
func (r *Runner) runJSON(ctx context.Context, st *config.Stack, op string, w io.Writer, creds Credentials, keep []string, argv ...string) error {
	env, err := r.env(st, creds)
	if err != nil {
		return err
	}
	exe, err := r.sandboxed(st, env, keep...)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, argv...)
	cmd.Dir = st.Dir
	env["TF_IN_AUTOMATION"] = "1"
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stdout = w
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TerraformError{Op: op, Stack: st.Name, Output: cleanTerraformOutput(stderr.String(), err), Product: r.Product()}
	}
	return nil
}

// ProviderSchemas returns the provider schemas of the stack's providers
// (`terraform providers schema -json`), for rendering its plans as
// Terraform does. The caller holds the stack lock, and the stack is
// initialised (a plan was made). Asking takes seconds and hundreds of
// megabytes for a large provider, so the answer is kept in the stack's
// data dir, keyed by what decides it: the program and its version, the
// dependency lock file, and the provider packages installed. The schemas
// need no cloud: the providers get no credentials (creds).
func (r *Runner) ProviderSchemas(ctx context.Context, st *config.Stack, creds Credentials) ([]byte, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	key := r.schemaKey(st)
	dir := filepath.Join(r.dataDir(st), "plangate-schemas")
	path := filepath.Join(dir, key+".json")
	if info, err := os.Stat(path); err == nil && info.Size() <= maxSchemaBytes {
		if raw, err := os.ReadFile(path); err == nil {
			return raw, nil
		}
	}
	out := &cappedBuffer{max: maxSchemaBytes}
	if err := r.runJSON(ctx, st, "providers schema -json", out, creds, nil, "providers", "schema", "-json"); err != nil {
		return nil, err
	}
	if out.over {
		return nil, fmt.Errorf("the provider schemas are over %d MiB: not read", maxSchemaBytes>>20)
	}
	// One kept per stack: the older answers are for other providers.
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = atomicfile.WriteFile(path, out.Bytes())
	}
	return out.Bytes(), nil
}

// maxSchemaBytes bounds the provider schemas plangate reads (the AWS
// provider's are 13.6 MB).
const maxSchemaBytes = 256 << 20

// cappedBuffer keeps what is written up to max bytes, then notes that
// there was more and drops it.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// schemaKey names what the stack's provider schemas depend on.
func (r *Runner) schemaKey(st *config.Stack) string {
	h := sha256.New()
	io.WriteString(h, r.Product().Command()+" "+r.Version()+"\n")
	if lock, err := os.ReadFile(filepath.Join(st.Dir, ".terraform.lock.hcl")); err == nil {
		h.Write(lock)
	}
	// The installed packages: a provider replaced in place (a dev
	// override, a re-init) changes its size or time.
	root := filepath.Join(r.dataDir(st), "providers")
	_ = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if target, err := os.Readlink(path); err == nil {
			io.WriteString(h, rel+" -> "+target+"\n")
		}
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			io.WriteString(h, rel+" "+info.ModTime().UTC().Format(time.RFC3339Nano)+" "+strconv.FormatInt(info.Size(), 10)+"\n")
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:32]
}
