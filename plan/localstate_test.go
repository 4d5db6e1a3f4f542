package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// localStateStack is a stack of two terraform_data resources with
// local_state = "state_dir", and a runner on a fresh state dir.
func localStateStack(t *testing.T, code string) (*Runner, *config.Stack, string) {
	t.Helper()
	tftest.Setup(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(code), 0o600))
	stateDir := t.TempDir()
	st := &config.Stack{Name: "web", Dir: dir, Workspace: "default", LocalState: config.LocalStateStateDir}
	return NewRunner(tfbin.Find, stateDir, nil), st, stateDir
}

const twoResources = `
resource "terraform_data" "a" { input = "a" }
resource "terraform_data" "b" { input = "b" }
`

func planAndApply(t *testing.T, r *Runner, st *config.Stack) *PlanOutput {
	t.Helper()
	ctx := context.Background()
	unlock, err := r.Lock(ctx, st)
	require.NoError(t, err)
	defer unlock()
	out, err := r.Plan(ctx, st, t.TempDir())
	require.NoError(t, err)
	require.False(t, out.Failed, "%v", out.Diagnostics)
	res, err := r.ApplySaved(ctx, st, out.PlanFile)
	require.NoError(t, err)
	require.False(t, res.Failed, "%v", res.Diagnostics)
	return out
}

func TestLocalStateUnderStateDir(t *testing.T) {
	r, st, stateDir := localStateStack(t, twoResources)
	planAndApply(t, r, st)

	path := config.LocalStatePath(stateDir, st)
	require.FileExists(t, path, "the state is not under state_dir")
	require.NoFileExists(t, filepath.Join(st.Dir, "terraform.tfstate"), "Terraform wrote its state into the stack directory")
	view, err := r.State(context.Background(), st)
	require.NoError(t, err)
	require.Len(t, view.Resources, 2, "show_stack does not read the state under state_dir")

	// An agent plants a state in the stack directory, claiming nothing
	// exists: plans still run against the real one.
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "terraform.tfstate"), []byte(`{"version":4,"terraform_version":"1.5.0","serial":99,"lineage":"x","outputs":{},"resources":[]}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "main.tf"), []byte(`resource "terraform_data" "a" { input = "a" }`), 0o600))
	ctx := context.Background()
	unlock, err := r.Lock(ctx, st)
	require.NoError(t, err)
	out, err := r.Plan(ctx, st, t.TempDir())
	unlock()
	require.NoError(t, err)
	require.NotNil(t, out.TerraformSummary)
	require.Equal(t, 1, out.TerraformSummary.Remove, "the plan did not read the state under state_dir: %+v", out.TerraformSummary)
}

func TestLocalStateBackendDeclaredInCode(t *testing.T) {
	// A local backend with a path of the code's choosing: -state wins.
	r, st, stateDir := localStateStack(t, twoResources+`
terraform {
  backend "local" { path = "elsewhere.tfstate" }
}
`)
	planAndApply(t, r, st)
	require.FileExists(t, config.LocalStatePath(stateDir, st))
	require.NoFileExists(t, filepath.Join(st.Dir, "elsewhere.tfstate"))
}

func TestLocalStateRefusesToStartOverAStackDirState(t *testing.T) {
	r, st, stateDir := localStateStack(t, twoResources)
	// The state of earlier runs, in the stack directory.
	st.LocalState = config.LocalStateStackDir
	planAndApply(t, r, st)
	st.LocalState = config.LocalStateStateDir

	ctx := context.Background()
	unlock, err := r.Lock(ctx, st)
	require.NoError(t, err)
	defer unlock()
	_, err = r.Plan(ctx, st, t.TempDir())
	require.Error(t, err)
	require.Contains(t, err.Error(), "planning without it would propose creating every resource again")
	require.Contains(t, err.Error(), "install -m 0600 "+filepath.Join(st.Dir, "terraform.tfstate")+" "+config.LocalStatePath(stateDir, st))
	_, err = r.State(ctx, st)
	require.Error(t, err, "show_stack reads an empty state while the real one is in the stack directory")
}
