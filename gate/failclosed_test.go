package gate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// immutable makes path immutable (chattr +i) for the rest of the test. A
// file the kernel refuses to change is the fault: no mock.
func immutable(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chattr +i needs root (CI runs as root)")
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s (the file system has no immutable attribute)", path, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

// An apply fails closed, in order: apply_started in the audit log, the
// tokens in the ledger, the record applying, then Terraform. When one of
// those writes fails, Terraform never starts and the result names the
// write; the tokens stay unspent unless the ledger was written.
func TestApplyFailsClosed(t *testing.T) {
	for _, tt := range []struct {
		name         string
		file         func(g *Gate, id string) string
		want         string
		tokensUnused bool
	}{
		{"audit log", func(g *Gate, id string) string { return g.Audit.Path() }, "the audit log could not be written", true},
		{"ledger", func(g *Gate, id string) string { return g.Ledger.Path() }, "the approvals ledger could not be written", true},
		{"record", func(g *Gate, id string) string { return filepath.Join(g.Store.Dir(id), plan.RecordFile) }, "the plan's record could not be marked applying", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, st, key := approvingGate(t)
			ctx := context.Background()
			rec, err := g.Propose(ctx, st, map[string]any{"n": 2}, audit.Client{})
			require.NoError(t, err)
			a, err := g.Approve(rec.ID, key, "root", audit.Client{})
			require.NoError(t, err)
			// The record's directory too, for the record: a rename
			// replaces an immutable file otherwise.
			path := tt.file(g, rec.ID)
			immutable(t, path)
			if tt.name == "record" {
				immutable(t, filepath.Dir(path))
			}

			_, err = g.Apply(ctx, rec.ID, []string{a.Token}, audit.Client{}, nil)
			assert.Contains(t, refusalOf(t, err), tt.want)
			assert.NoFileExists(t, filepath.Join(g.Store.Dir(rec.ID), plan.ApplyJournalFile), "Terraform never started")
			view, err := g.State(ctx, st)
			require.NoError(t, err)
			assert.Empty(t, view.Resources, "nothing was applied")
			tok, err := approvals.Parse(a.Token)
			require.NoError(t, err)
			used, err := g.Ledger.Used(tok.Claims.Nonce)
			require.NoError(t, err)
			assert.Equal(t, !tt.tokensUnused, used, "tokens spent")
			got, err := g.Store.Get(rec.ID)
			require.NoError(t, err)
			assert.Equal(t, plan.StatusAwaitingApproval, got.Status, "nothing recorded an apply that did not happen")
		})
	}
}
