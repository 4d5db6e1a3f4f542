package gate

import (
	"context"
	"os"
	"os/exec"

	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tftest"
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

// A provider planted in the stack's terraform.d/plugins (Terraform's
// implied local mirror) or .terraform/providers never runs under
// plangate: Terraform gets plangate's CLI config, which installs only
// from the registry (or the human's provider_mirror). The control run
// shows the plant is real: bare terraform with an empty CLI config runs it.
func TestPlantedProviderNeverRuns(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "provider-ran")
	plugin := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
	files := map[string]string{
		"main.tf": `terraform {
  required_providers {
    evil = { source = "hashicorp/evil" }
  }
}
resource "evil_thing" "x" {}
`,
	}
	for _, dir := range []string{
		"terraform.d/plugins/registry.terraform.io/hashicorp/evil/1.0.0/linux_amd64",
		".terraform/providers/registry.terraform.io/hashicorp/evil/1.0.0/linux_amd64",
	} {
		files[dir+"/terraform-provider-evil_v1.0.0"] = plugin
	}
	g, cfg := newPlanner(t, files, "")
	st, _ := cfg.Stack("s")
	for _, dir := range []string{"terraform.d", ".terraform"} {
		require.NoError(t, filepath.Walk(filepath.Join(st.Dir, dir), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				err = os.Chmod(p, 0o755)
			}
			return err
		}))
	}

	_, err := g.Propose(context.Background(), st, nil, audit.Client{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "terraform init failed")
	assert.Contains(t, err.Error(), "hashicorp/evil")
	assert.NoFileExists(t, marker, "the planted provider ran")
	rc, err := os.ReadFile(filepath.Join(cfg.StateDir, "terraform", "s.tfrc"))
	require.NoError(t, err)
	assert.Contains(t, string(rc), `include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]`)
	assert.NotContains(t, string(rc), "dev_overrides")

	// Control: the same stack under bare terraform and an empty CLI
	// config (implied mirrors on) runs the plant.
	env := append(os.Environ(), "TF_DATA_DIR="+t.TempDir())
	for _, args := range [][]string{{"init", "-input=false"}, {"plan", "-input=false"}} {
		tf := exec.Command(tftest.Find(t), args...)
		tf.Dir, tf.Env = st.Dir, env
		_ = tf.Run()
	}
	assert.FileExists(t, marker, "control: bare terraform runs a provider planted in terraform.d/plugins")
}

// data "external" in a local module, or a provider from outside the
// allowed sources, is refused before terraform init: nothing runs, the
// message is plangate's (not a failed download), and it is audited.
func TestPlanTimeCodeIsRefusedBeforeInit(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "external-ran")
	g, cfg := newPlanner(t, map[string]string{
		"main.tf": `module "net" {
  source = "./net"
}
`,
		"net/main.tf": `data "external" "ip" {
  program = ["sh", "-c", "touch ` + marker + `; echo {}"]
}
`,
	}, "")
	st, _ := cfg.Stack("s")
	_, err := g.Propose(context.Background(), st, nil, audit.Client{Name: "agent"})
	var refusal *ConfigRefusal
	require.ErrorAs(t, err, &refusal)
	assert.Equal(t, `stack "s": refusing to plan, nothing ran: module.net.data.external.ip (net/main.tf:1) runs a program while Terraform plans; allow_external_data is false for stack "s" (a human sets allow_external_data = true in its policy block in plangate.hcl to allow it)`, err.Error())
	assert.NoFileExists(t, marker)
	assert.NoDirExists(t, filepath.Join(cfg.StateDir, "terraform", "s"), "terraform init never ran")
	recs, err := g.Store.List()
	require.NoError(t, err)
	assert.Empty(t, recs, "nothing is recorded")
	var refused []string
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		if e.Event == audit.EventPlanRefused {
			refused = append(refused, e.Reason)
		}
		return nil
	}))
	require.Len(t, refused, 1)
	assert.Contains(t, refused[0], "allow_external_data is false")

	g, cfg = newPlanner(t, map[string]string{"main.tf": `terraform {
  required_providers {
    widget = { source = "example.com/acme/widget" }
  }
}
`}, "")
	st, _ = cfg.Stack("s")
	_, err = g.Propose(context.Background(), st, nil, audit.Client{})
	require.ErrorAs(t, err, &refusal)
	assert.Contains(t, err.Error(), `the configuration requires provider example.com/acme/widget (main.tf:3), which is not in providers for stack "s" (allowed: registry.terraform.io/hashicorp/*)`)
	assert.NoDirExists(t, filepath.Join(cfg.StateDir, "terraform", "s"))
}
