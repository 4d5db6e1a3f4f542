package plan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/hashicorp/go-version"

	"github.com/plangate/plangate/internal/tfbin"
)

// Product is the program the runner runs (Terraform or OpenTofu), once
// known; Terraform until then.
func (r *Runner) Product() tfbin.Product {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.product
}

// Identify finds the program the runner runs, checks its version (once
// it succeeds) and says which it is. It runs no code of any stack.
func (r *Runner) Identify(ctx context.Context) (tfbin.Product, error) {
	if err := r.ready(ctx); err != nil {
		return tfbin.Terraform, err
	}
	return r.Product(), nil
}

// identify runs `<execPath> version` and reads which program it is and
// its version from the first line.
func identify(ctx context.Context, execPath string) (tfbin.Product, *version.Version, error) {
	cmd := exec.CommandContext(ctx, execPath, "version")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("running %s version: %v (install Terraform >= %s, or set PLANGATE_TERRAFORM to one)", execPath, err, MinTerraform)
	}
	product, raw, err := tfbin.ParseVersion(out.String())
	if err != nil {
		return "", nil, fmt.Errorf("%s: %v (install Terraform >= %s, or set PLANGATE_TERRAFORM to one)", execPath, err, MinTerraform)
	}
	v, err := version.NewVersion(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: version %q: %v", execPath, raw, err)
	}
	return product, v, nil
}
