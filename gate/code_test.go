package gate

import (
	"context"

	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// hookModule creates a resource whose provisioner would leave a marker:
// the command a count of deletions never shows.
const hookModule = `
resource "terraform_data" "hook" {
  input = "x"
  provisioner "local-exec" {
    command = "touch ${path.module}/hook-ran"
  }
}
`

// A provisioner is blocked by default, named with the setting; allowed,
// it is listed with its command as written, and runs only when the plan
// is approved and applied. A record edited to hide it is tampered.
func TestProvisionersArePolicy(t *testing.T) {
	ctx := context.Background()
	g, cfg := newPlanner(t, map[string]string{"main.tf": hookModule}, "")
	st, _ := cfg.Stack("s")
	rec, err := g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusBlocked, rec.Status)
	require.Len(t, rec.BlockedReasons, 1)
	assert.Equal(t, `terraform_data.hook runs a local-exec provisioner; allow_provisioners is false for stack "s" (a human sets allow_provisioners = true in its policy block in plangate.hcl to allow it)`, rec.BlockedReasons[0])
	assert.NoFileExists(t, filepath.Join(st.Dir, "hook-ran"), "planning runs no provisioner")

	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	g, cfg = newPlanner(t, map[string]string{"main.tf": hookModule}, `policy {
    allow_provisioners = true
  }
}
approver "alice" {
  public_key = "`+config.FormatPublicKey(pub)+`"`)
	g.Ledger, err = approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	st, _ = cfg.Stack("s")
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, rec.Status, "%v", rec.BlockedReasons)
	want := plan.CodeRun{Address: "terraform_data.hook", Kind: "local-exec", Detail: `"touch ${path.module}/hook-ran"`, Phase: "apply"}
	assert.Equal(t, []plan.CodeRun{want}, rec.RunsCode)
	assert.Equal(t, []string{config.BuiltinProvider}, rec.Providers)

	s := rec.Summary(g.now())
	var text strings.Builder
	plan.WriteReport(&text, &s, g.now())
	lines := strings.SplitN(text.String(), "\n", 4)
	assert.Equal(t, `RUNS CODE: terraform_data.hook local-exec at apply: "touch ${path.module}/hook-ran" (not counted above; listed below)`, lines[1])
	assert.NoFileExists(t, filepath.Join(st.Dir, "hook-ran"))

	// The record edited to show a harmless command: the file says otherwise.
	_, err = g.Store.Update(rec.ID, func(r *plan.Record) error { r.RunsCode[0].Detail = "echo harmless"; return nil })
	require.NoError(t, err)
	_, err = g.Review(ctx, rec.ID, audit.Client{})
	assert.Contains(t, refusalOf(t, err), "the file runs 1 pieces of code besides the providers; the record lists 1, or other ones")

	// A fresh plan, approved and applied: now the command runs.
	rec, err = g.Propose(ctx, st, nil, audit.Client{})
	require.NoError(t, err)
	a, err := g.Approve(rec.ID, &approvals.PrivateKey{Approver: "alice", Key: priv}, "root", audit.Client{})
	require.NoError(t, err)
	_, err = g.Apply(ctx, rec.ID, []string{a.Token}, audit.Client{}, nil)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(st.Dir, "hook-ran"))
}

// A provider from outside the stack's sources is blocked; a policy that
// allows none but the builtin blocks even HashiCorp's.
func TestProvidersOutsideThePolicyAreBlocked(t *testing.T) {
	st := &config.Stack{Name: "s", Policy: config.DefaultPolicy()}
	rec := &plan.Record{Providers: []string{config.BuiltinProvider, "registry.terraform.io/hashicorp/aws", "registry.example.com/evil/aws"}}
	v := approvals.Evaluate(st, policyFacts(rec))
	assert.Equal(t, []string{`the plan uses provider registry.example.com/evil/aws, which is not in providers for stack "s" (allowed: registry.terraform.io/hashicorp/*)`}, v.BlockedReasons)

	st.Policy.Providers = nil
	v = approvals.Evaluate(st, policyFacts(rec))
	assert.Len(t, v.BlockedReasons, 2)
	assert.Contains(t, v.BlockedReasons[0], "hashicorp/aws, which is not in providers")
	assert.Contains(t, v.BlockedReasons[0], "(allowed: none besides the builtin one)")
}
