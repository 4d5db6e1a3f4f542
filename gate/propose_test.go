package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
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
// a planner for it.
func newPlanner(t *testing.T, files map[string]string, stackBody string) (*Planner, *config.Config) {
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
	store, err := OpenStore(cfg.StateDir)
	require.NoError(t, err)
	return &Planner{Runner: NewRunner(tfbin.Find, cfg.StateDir, nil), Store: store}, cfg
}

func TestVarFilesAndAgentVariables(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule, "prod.tfvars": "n = 3\nlabel = \"prod\"\n"},
		`var_files = ["stack/prod.tfvars"]
  variables = ["n"]`)
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, rec.Summary.Counts.Add, "the human's var file applies")

	// The agent's allowlisted variable is applied after the var files.
	rec, err = p.Propose(context.Background(), st, map[string]any{"n": 5})
	require.NoError(t, err)
	assert.Equal(t, 5, rec.Summary.Counts.Add)
	diff, err := os.ReadFile(filepath.Join(p.Store.Dir(rec.ID), DiffFile))
	require.NoError(t, err)
	assert.Contains(t, string(diff), `"prod-4"`)
	assert.NoFileExists(t, filepath.Join(p.Store.Dir(rec.ID), VarsFile), "the variables file is gone once the plan holds the values")
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
	rec, err := p.Propose(context.Background(), st, map[string]any{"token": secret})
	require.NoError(t, err)
	assert.Equal(t, SensitiveMask, rec.Variables["token"])
	entries, err := os.ReadDir(p.Store.Dir(rec.ID))
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == PlanFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Store.Dir(rec.ID), e.Name()))
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, e.Name())
	}
	info, err := os.Stat(filepath.Join(p.Store.Dir(rec.ID), PlanFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "Terraform's plan file holds secrets: owner only")
}

func TestServerEnvironmentCannotInjectVariables(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, "")
	t.Setenv("TF_VAR_n", "7")
	t.Setenv("TF_CLI_ARGS_plan", "-destroy")
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil)
	require.NoError(t, err)
	assert.Equal(t, Counts{Add: 1}, rec.Summary.Counts)
}

func TestReinitWhenTerraformAsksForIt(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule, "modules/extra/main.tf": `resource "terraform_data" "x" {}`}, "")
	st, _ := cfg.Stack("s")
	rec, err := p.Propose(context.Background(), st, nil)
	require.NoError(t, err)
	require.Equal(t, StatusAwaitingApproval, rec.Status)

	// A human adds a module call: Terraform now needs init, and plangate runs it.
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "extra.tf"), []byte(`module "extra" { source = "./modules/extra" }`), 0o644))
	rec, err = p.Propose(context.Background(), st, nil)
	require.NoError(t, err)
	require.Equal(t, StatusAwaitingApproval, rec.Status, "%v", rec.Summary.Errors)
	assert.Equal(t, 2, rec.Summary.Counts.Add)
}

func TestMissingWorkspaceSaysHowToCreateIt(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `workspace = "staging"`)
	st, _ := cfg.Stack("s")
	_, err := p.Propose(context.Background(), st, nil)
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
	cancelOnStart := Events(func(m UIMessage) {
		if !started {
			started = true
			cancel()
		}
	})
	_, err := p.Propose(ctx, st, map[string]any{"n": 2000}, cancelOnStart)
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
	rec, err := p.Propose(ctx, st, nil)
	require.NoError(t, err)
	unlock, err := p.Runner.Lock(ctx, st)
	require.NoError(t, err)
	out, err := p.Runner.ApplySaved(ctx, st, filepath.Join(p.Store.Dir(rec.ID), PlanFile), nil)
	unlock()
	require.NoError(t, err)
	require.False(t, out.Failed, "%v", out.Diagnostics)

	rec, err = p.Propose(ctx, st, map[string]any{"tag": "boom"})
	require.NoError(t, err)
	require.Equal(t, StatusFailed, rec.Status)
	errs := strings.Join(rec.Summary.Errors, "\n")
	assert.Contains(t, errs, "refusing tag boom")
	assert.NotContains(t, errs, "initial-pw-value-123")
	assert.Contains(t, errs, SensitiveMask)
	for name, b := range readPlanDir(t, p, rec.ID) {
		assert.NotContains(t, b, "initial-pw-value-123", name)
	}
}

func readPlanDir(t *testing.T, p *Planner, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(p.Store.Dir(id))
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == PlanFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Store.Dir(id), e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}
