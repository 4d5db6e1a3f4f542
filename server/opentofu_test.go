package server_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// asSent is a tool result as the client reads it: text and structured
// content together.
func asSent(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	return textOf(res) + "\n" + string(b)
}

// The texts an agent and a human read name the program that runs: the
// diff's sentences, the report, a failed plan's headline and errors. Under
// OpenTofu (make test-opentofu) no result says "Terraform" at all.
func TestTextsNameTheProgramThatRuns(t *testing.T) {
	product := tftest.Product(t)
	h := newHarness(t)

	res := h.call("plan_change", map[string]any{"stack": "web"})
	require.False(t, res.IsError, textOf(res))
	var s plan.Summary
	decode(t, res.StructuredContent, &s)
	sent := asSent(t, res)
	assert.Contains(t, sent, product.String()+" will perform the following actions:")
	rec, err := h.deps.Store.Get(s.PlanID)
	require.NoError(t, err)
	assert.Equal(t, product, rec.Product, "the record says which program made the plan")

	failed := h.call("plan_change", map[string]any{"stack": "failing", "variables": map[string]any{"healthy": false}})
	require.False(t, failed.IsError, textOf(failed))
	text := textOf(failed)
	assert.Contains(t, strings.SplitN(text, "\n", 2)[0], " — FAILED: "+product.String()+" reported errors", text)
	assert.Contains(t, text, product.String()+" errors:")

	got := h.call("get_plan", map[string]any{"plan_id": s.PlanID})
	require.False(t, got.IsError, textOf(got))
	if product == tfbin.OpenTofu {
		for name, out := range map[string]string{"plan_change": sent, "failed plan_change": asSent(t, failed), "get_plan": asSent(t, got)} {
			assert.NotContains(t, out, "Terraform", "%s under OpenTofu names Terraform:\n%s", name, out)
		}
	}
}

// OpenTofu's state and plan encryption: a stack whose encryption block
// gets its key provider (a pbkdf2 passphrase) from TF_ENCRYPTION in the
// server's environment plans, is shown, approved (the plan file read again
// through tofu show) and applied through plangate; the plan file and the
// state on disk are ciphertext; the passphrase reaches no tool result, log
// line, audit entry or plan record, even when the code prints the
// environment into the plan.
func TestOpenTofuEncryptedStackPlansApprovesAndApplies(t *testing.T) {
	if tftest.Product(t) != tfbin.OpenTofu {
		t.Skip("state and plan encryption is OpenTofu's (the encryption block); Terraform has none: run make test-opentofu")
	}
	const passphrase = "correct-horse-battery-staple-4411"
	t.Setenv(plan.EncryptionEnvVar, `key_provider "pbkdf2" "main" { passphrase = "`+passphrase+`" }`)
	stacks := `
stack "encrypted" {
  dir       = "stacks/encrypted"
  variables = ["replicas"]
}
`
	h := newHarness(t, withStacks(stacks, map[string]string{"encrypted": "fixtures/stacks/encrypted"}))

	var results []string
	res := h.call("plan_change", map[string]any{"stack": "encrypted", "variables": map[string]any{"replicas": 3}})
	require.False(t, res.IsError, textOf(res))
	results = append(results, asSent(t, res))
	var s plan.Summary
	decode(t, res.StructuredContent, &s)
	require.Equal(t, plan.StatusAwaitingApproval, s.Status, textOf(res))
	assert.Equal(t, 3, s.Counts.Add)
	assert.Contains(t, textOf(res), "OpenTofu will perform the following actions:")

	planFile := h.deps.Store.PlanFilePath(s.PlanID)
	raw, err := os.ReadFile(planFile)
	require.NoError(t, err)
	assert.False(t, bytes.HasPrefix(raw, []byte("PK")), "an encrypted plan file is not a plain zip")
	assert.Contains(t, string(raw), "encryption_version", "OpenTofu's encrypted envelope")

	got := h.call("get_plan", map[string]any{"plan_id": s.PlanID})
	require.False(t, got.IsError, textOf(got))
	results = append(results, asSent(t, got))

	// The approve screen reads the plan file itself, through tofu show.
	view, err := h.deps.Gate.ApproveView(t.Context(), s.PlanID, false, audit.Client{Name: "test"})
	require.NoError(t, err)
	require.Empty(t, view.Refusal)
	assert.Contains(t, view.Summary.Diff, "OpenTofu will perform the following actions:")
	assert.Contains(t, view.Summary.Diff, `+ input  = "app-2"`)
	approval, err := h.deps.Gate.Approve(s.PlanID, h.keys["alice"], "alice", audit.Client{Name: "test"})
	require.NoError(t, err)

	applied := h.applyWith(s.PlanID, approval.Token)
	require.False(t, applied.IsError, textOf(applied))
	results = append(results, asSent(t, applied))
	assert.Equal(t, "applied", applied.StructuredContent.(map[string]any)["status"], textOf(applied))

	shown := h.call("show_stack", map[string]any{"stack": "encrypted"})
	require.False(t, shown.IsError, textOf(shown))
	results = append(results, asSent(t, shown))
	assert.Contains(t, textOf(shown), "terraform_data.app[2]", "the encrypted state is read through tofu")

	// A second plan reads the encrypted state: no resource to change
	// (the environment output differs from run to run).
	again := h.call("plan_change", map[string]any{"stack": "encrypted", "variables": map[string]any{"replicas": 3}})
	require.False(t, again.IsError, textOf(again))
	results = append(results, asSent(t, again))
	var s2 plan.Summary
	decode(t, again.StructuredContent, &s2)
	assert.Equal(t, plan.Counts{}, s2.Counts, textOf(again))
	assert.Contains(t, textOf(again), "~ environment = ", "the output that printed the environment, masked or not, is shown")

	state := findState(t, h)
	assert.Contains(t, state, "encrypted_data", "the state on disk is OpenTofu's ciphertext")
	assert.NotContains(t, state, "app-2")

	for _, out := range append(results, h.logs.String()) {
		assert.NotContains(t, out, passphrase)
	}
	// Every file plangate wrote and shows from: records, diffs, sanitized
	// plan JSON, the audit log. Not the plan file (ciphertext) nor the
	// apply journal: that is tofu's own output stream, which prints the
	// environment output in clear as tofu would in a terminal; it stays in
	// state_dir like the state, and what plangate reports from it is masked.
	require.NoError(t, filepath.WalkDir(h.cfg.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == plan.PlanFile || filepath.Base(p) == plan.ApplyJournalFile {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(b), passphrase, "%s holds the passphrase", p)
		return nil
	}))
}

// findState returns the encrypted stack's state file as stored.
func findState(t *testing.T, h *harness) string {
	t.Helper()
	var found []string
	for _, root := range []string{filepath.Join(h.dir, "stacks", "encrypted"), h.cfg.StateDir} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Base(p) == "terraform.tfstate" {
				found = append(found, p)
			}
			return nil
		})
	}
	require.Len(t, found, 1, "one state file")
	b, err := os.ReadFile(found[0])
	require.NoError(t, err)
	return string(b)
}
