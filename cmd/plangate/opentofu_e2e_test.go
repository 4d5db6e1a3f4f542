package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// openTofu returns an OpenTofu binary: $PLANGATE_TERRAFORM when it is one
// (make test-opentofu), else the one make opentofu builds into bin/.
func openTofu(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(tfbin.EnvVar); p != "" && tftest.Product(t) == tfbin.OpenTofu {
		return p
	}
	p := filepath.Join(tftest.RepoRoot(t), "bin", "opentofu", "tofu")
	if _, err := os.Stat(p); err != nil {
		t.Skip("OpenTofu is not built (make opentofu builds it; make test-opentofu runs this test with it)")
	}
	return p
}

// terraform_binary in plangate.hcl picks the program plangate runs, and a
// change of it is a loosening: an agent that edits the file to run
// another binary gets nothing until an approver accepts it.
func TestTerraformBinaryRunsOnlyOnceAccepted(t *testing.T) {
	tofu := openTofu(t)
	k := newKillSwitch(t)
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform on PATH: the test compares it with OpenTofu")
	}
	t.Setenv(tfbin.EnvVar, "") // the config decides, as on a machine without the override
	orig, err := os.ReadFile(k.cfg)
	require.NoError(t, err)

	planText := func() string {
		t.Helper()
		r := serve(t, k.dir)
		r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e-agent", "version": "1"}})
		r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
		pc := r.callTool("plan_change", map[string]any{"stack": "web"})
		require.NotEqual(t, true, pc["isError"], resultText(pc))
		require.NoError(t, r.stdin.Close())
		for range r.lines {
		}
		require.NoError(t, r.cmd.Wait())
		return resultText(pc)
	}
	assert.Contains(t, planText(), "Terraform will perform the following actions:", "no terraform_binary: terraform on PATH (%s)", terraform)

	require.NoError(t, os.WriteFile(k.cfg, []byte("terraform_binary = \""+tofu+"\"\n"+string(orig)), 0o644))
	text := planText()
	assert.Contains(t, text, "Terraform will perform the following actions:", "the edit waits for acceptance: terraform still runs")
	assert.NotContains(t, text, "OpenTofu")
	out, stderr, code := k.run("config", "status", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "terraform_binary\n    - accepted: (none)\n    + file:     "+tofu)

	out, stderr, code = k.run("config", "accept", "--config", k.cfg, "--passphrase-file", k.passFile, "--yes")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "change(s) apply now")
	text = planText()
	assert.Contains(t, text, "OpenTofu will perform the following actions:", "accepted: OpenTofu runs")
	assert.NotContains(t, text, "Terraform", "every text of the result names OpenTofu")

	// The approve screen names it too, with its version.
	id := text[strings.Index(text, "plangate approve ")+len("plangate approve "):]
	id = strings.Fields(id)[0]
	out, stderr, code = k.run("approve", "--config", k.cfg, "--passphrase-file", k.passFile, "--yes", id)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "OpenTofu:   1.10.")
	assert.Contains(t, out, "OpenTofu will perform the following actions:")
}
