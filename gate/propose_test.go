package gate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

const plannerModule = `
variable "n" {
  type    = number
  default = 1
}
variable "label" {
  type    = string
  default = "none"
}
resource "terraform_data" "item" {
  count = var.n
  input = "${var.label}-${count.index}"
}
`

// newPlanner writes a project with one stack built from files and returns
// a gate for it.
func newPlanner(t *testing.T, files map[string]string, stackBody string) (*Gate, *config.Config) {
	t.Helper()
	tftest.Setup(t)
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, "stack", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	cfgPath := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfgPath, []byte("stack \"s\" {\n  dir = \"stack\"\n"+stackBody+"\n}\n"), 0o644))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	return &Gate{Config: cfg, Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, nil), Store: store, Audit: audit.Open(cfg.StateDir)}, cfg
}

func TestVarFilesAndAgentVariables(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule, "prod.tfvars": "n = 3\nlabel = \"prod\"\n"},
		`var_files = ["stack/prod.tfvars"]
  variables = ["n"]`)
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, 3, rec.Counts.Add, "the human's var file applies")

	// The agent's allowlisted variable is applied after the var files.
	rec, err = p.Propose(context.Background(), st, map[string]any{"n": 5}, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, 5, rec.Counts.Add)
	diff, err := os.ReadFile(filepath.Join(p.Store.Dir(rec.ID), plan.DiffFile))
	require.NoError(t, err)
	assert.Contains(t, string(diff), `"prod-4"`)
	assert.NoFileExists(t, filepath.Join(p.Store.Dir(rec.ID), plan.VarsFile), "the variables file is gone once the plan holds the values")
	assert.Equal(t, map[string]any{"n": 5}, rec.Variables)
}

// An agent-set value of a variable the stack declares sensitive is never
// kept in clear by plangate (Terraform's own plan file aside).
func TestSensitiveAgentVariableIsNotKept(t *testing.T) {
	module := plannerModule + `
variable "token" {
  type      = string
  sensitive = true
  default   = "unset"
}
resource "terraform_data" "client" {
  input = var.token
}
`
	p, cfg := newPlanner(t, map[string]string{"main.tf": module}, `variables = ["token", "n"]`)
	st, _ := cfg.Stack("s")
	const secret = "agent-set-s3cr3t-value"
	rec, err := p.Propose(context.Background(), st, map[string]any{"token": secret}, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.SensitiveMask, rec.Variables["token"])
	entries, err := os.ReadDir(p.Store.Dir(rec.ID))
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == plan.PlanFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Store.Dir(rec.ID), e.Name()))
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, e.Name())
	}
	info, err := os.Stat(filepath.Join(p.Store.Dir(rec.ID), plan.PlanFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "Terraform's plan file holds secrets: owner only")
}

func TestServerEnvironmentCannotInjectVariables(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, "")
	t.Setenv("TF_VAR_n", "7")
	t.Setenv("TF_CLI_ARGS_plan", "-destroy")
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.Counts{Add: 1}, rec.Counts)
}

func TestReinitWhenTerraformAsksForIt(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule, "modules/extra/main.tf": `resource "terraform_data" "x" {}`}, "")
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, rec.Status)

	// A human adds a module call: Terraform now needs init, and plangate runs it.
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "extra.tf"), []byte(`module "extra" { source = "./modules/extra" }`), 0o644))
	rec, err = p.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, rec.Status, "%v", rec.Errors)
	assert.Equal(t, 2, rec.Counts.Add)
}

func TestMissingWorkspaceSaysHowToCreateIt(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `workspace = "staging"`)
	st, _ := cfg.Stack("s")
	_, err := p.Propose(context.Background(), st, nil, audit.Client{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "terraform workspace new staging")
	recs, err := p.Store.List()
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing recorded")
}

func TestCancelledPlanLeavesNoRecord(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `variables = ["n"]`)
	st, _ := cfg.Stack("s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once terraform plan is running: its first UI message says so.
	started := false
	cancelOnStart := plan.Events(func(m plan.UIMessage) {
		if !started {
			started = true
			cancel()
		}
	})
	_, err := p.Propose(ctx, st, map[string]any{"n": 2000}, audit.Client{}, cancelOnStart)
	require.True(t, started, "terraform plan ran")
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(filepath.Join(cfg.StateDir, "plans"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, strings.HasPrefix(e.Name(), "."), "plan left behind after cancel: %s", e.Name())
		assert.False(t, strings.HasPrefix(e.Name(), ".draft-"), "draft left behind after cancel: %s", e.Name())
	}
}

// Terraform's diagnostics can quote a secret whose mark was lost (here
// through terraform_data.output); plangate masks it before anyone sees it.
func TestDiagnosticsAreMasked(t *testing.T) {
	module := `
variable "pw" {
  type      = string
  sensitive = true
  default   = "initial-pw-value-123"
}
variable "tag" {
  type    = string
  default = "ok"
}
resource "terraform_data" "pw" {
  input = var.pw
}
resource "terraform_data" "app" {
  input = var.tag
  lifecycle {
    precondition {
      condition     = var.tag != "boom"
      error_message = "refusing tag ${var.tag}; current pw is ${terraform_data.pw.output}"
    }
  }
}
`
	p, cfg := newPlanner(t, map[string]string{"main.tf": module}, `variables = ["tag"]`)
	st, _ := cfg.Stack("s")
	ctx := context.Background()
	rec, err := p.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	unlock, err := p.Runner.Lock(ctx, st)
	require.NoError(t, err)
	out, err := p.Runner.ApplySaved(ctx, st, filepath.Join(p.Store.Dir(rec.ID), plan.PlanFile))
	unlock()
	require.NoError(t, err)
	require.False(t, out.Failed, "%v", out.Diagnostics)

	rec, err = p.Propose(ctx, st, map[string]any{"tag": "boom"}, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusFailed, rec.Status)
	errs := strings.Join(rec.Errors, "\n")
	assert.Contains(t, errs, "refusing tag boom")
	assert.NotContains(t, errs, "initial-pw-value-123")
	assert.Contains(t, errs, plan.SensitiveMask)
	for name, b := range readPlanDir(t, p, rec.ID) {
		assert.NotContains(t, b, "initial-pw-value-123", name)
	}
}

func readPlanDir(t *testing.T, p *Gate, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(p.Store.Dir(id))
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == plan.PlanFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Store.Dir(id), e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

// Another run holds the stack's state lock (here: the local backend's lock,
// held the way Terraform holds it, with its lock info beside the state): the
// plan does not run, nothing is recorded, and the error names the holder
// and what a human can do.
func TestPlanWhileStateLockedNamesTheHolder(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, "")
	st, _ := cfg.Stack("s")

	statePath := filepath.Join(st.Dir, "terraform.tfstate")
	f, err := os.OpenFile(statePath, os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}))
	info, err := json.Marshal(map[string]string{
		"ID": "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f", "Operation": "OperationTypeApply", "Info": "",
		"Who": "alice@build-7", "Version": "1.11.0", "Created": "2026-01-02T03:04:05Z", "Path": "terraform.tfstate",
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, ".terraform.tfstate.lock.info"), info, 0o600))

	_, err = p.Propose(context.Background(), st, nil, audit.Client{})
	var locked *plan.StateLockError
	require.True(t, errors.As(err, &locked), "want a StateLockError, got %v", err)
	assert.Equal(t, "alice@build-7", locked.Lock.Who)
	assert.Equal(t, "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f", locked.Lock.ID)
	assert.Equal(t, "OperationTypeApply", locked.Lock.Operation)
	msg := err.Error()
	assert.Contains(t, msg, `stack "s": the Terraform state is locked by another run, so nothing ran: held by alice@build-7`)
	assert.Contains(t, msg, "terraform force-unlock 5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")
	assert.Contains(t, msg, "a human (not the agent)")
	recs, err := p.Store.List()
	require.NoError(t, err)
	assert.Empty(t, recs, "a plan that never ran is not recorded")

	// Once the lock is free, the plan runs.
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0}))
	require.NoError(t, os.Remove(filepath.Join(st.Dir, ".terraform.tfstate.lock.info")))
	rec, err := p.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusAwaitingApproval, rec.Status)
}

// A moved block cannot rename a protected resource out of its protection:
// the plan that moves terraform_data.database to terraform_data.db and
// replaces it is blocked, naming both addresses.
func TestProtectedUnderEveryAddress(t *testing.T) {
	step1 := `resource "terraform_data" "database" {
  input = "v1"
}
`
	g, cfg := newPlanner(t, map[string]string{"main.tf": step1}, `policy {
    protected = ["terraform_data.database"]
  }`)
	st, _ := cfg.Stack("s")
	ctx := context.Background()
	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	unlock, err := g.Runner.Lock(ctx, st)
	require.NoError(t, err)
	out, err := g.Runner.ApplySaved(ctx, st, g.Store.PlanFilePath(rec.ID))
	unlock()
	require.NoError(t, err)
	require.False(t, out.Failed, "%v", out.Diagnostics)

	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "main.tf"), []byte(`resource "terraform_data" "db" {
  input            = "v1"
  triggers_replace = "force"
}
moved {
  from = terraform_data.database
  to   = terraform_data.db
}
`), 0o644))
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusBlocked, rec.Status)
	assert.Equal(t, []string{"terraform_data.db"}, rec.ProtectedHits)
	require.Len(t, rec.Deleted, 1)
	assert.Equal(t, "terraform_data.database", rec.Deleted[0].PreviousAddress)
	assert.Contains(t, strings.Join(rec.BlockedReasons, "\n"), "terraform_data.db (moved from terraform_data.database) would be replaced")
}
