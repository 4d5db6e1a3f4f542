package gate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// A drift check with real Terraform (terraform_data has no remote object,
// so nothing drifts: the AWS drift is cmd/plangate's drift_e2e_test.go):
// it is recorded as a drift check, audited with its counts, and never
// approved or applied — by the status, and, should the record be edited
// to say it awaits approval, because it has no plan file.
func TestDriftCheckIsNeverApprovable(t *testing.T) {
	g, st, key := approvingGate(t)
	ctx := context.Background()
	agent := audit.Client{Name: "agent", Version: "1"}
	proposeApply(t, g, st, key, map[string]any{"n": 2})

	rec, err := g.CheckDrift(ctx, st, agent)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusDriftCheck, rec.Status)
	require.NotNil(t, rec.DriftCheck)
	assert.Equal(t, plan.DriftCounts{}, rec.DriftCheck.DriftCounts)
	assert.Empty(t, rec.PlanSHA256)
	assert.Zero(t, rec.ApprovalsRequired)
	assert.Equal(t, 2, rec.ManagedResources, "the refresh read the applied state")
	assert.NoFileExists(t, g.Store.PlanFilePath(rec.ID), "a drift check keeps no plan file")
	diff, err := os.ReadFile(filepath.Join(g.Store.Dir(rec.ID), plan.DiffFile))
	require.NoError(t, err)
	assert.Contains(t, string(diff), "No changes. Your infrastructure still matches the state "+tftest.Product(t).String()+" recorded.")

	const want = "is a drift check (check_drift), not a plan: it can never be approved or applied"
	_, err = g.Approvable(rec, st, time.Now())
	assert.Contains(t, refusalOf(t, err), want)
	_, err = g.Approve(rec.ID, key, "root", audit.Client{})
	assert.Contains(t, refusalOf(t, err), want)
	// A token over any hash: the check has none to sign.
	tok, claims, err := approvals.Issue(key, rec.ID, strings.Repeat("ab", 32), rec.Stack, rec.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = g.Apply(ctx, rec.ID, []string{tok}, agent, nil)
	assert.Contains(t, refusalOf(t, err), want)
	used, err := g.Ledger.Used(claims.Nonce)
	require.NoError(t, err)
	assert.False(t, used)
	assert.Equal(t, "ask the agent for a new plan", ForHuman("call plan_change for a new plan"), "the human is told to ask the agent")

	// The record edited to look approvable (and its hash to match any
	// plan file that was left): still nothing to approve or apply.
	_, err = g.Store.Update(rec.ID, func(r *plan.Record) error {
		r.Status, r.ApprovalsRequired = plan.StatusAwaitingApproval, 1
		if sum, err := plan.FileSHA256(g.Store.PlanFilePath(r.ID)); err == nil {
			r.PlanSHA256 = sum
		}
		return nil
	})
	require.NoError(t, err)
	edited, err := g.Store.Get(rec.ID)
	require.NoError(t, err)
	_, err = g.Approvable(edited, st, time.Now())
	assert.Contains(t, refusalOf(t, err), "has no plan file any more")
	_, err = g.Approve(rec.ID, key, "root", audit.Client{})
	assert.Contains(t, refusalOf(t, err), "has no plan file any more")

	var checked []audit.Event
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		if e.Event == audit.EventDriftChecked {
			checked = append(checked, e)
		}
		return nil
	}))
	require.Len(t, checked, 1)
	assert.Equal(t, rec.ID, checked[0].PlanID)
	assert.Equal(t, &plan.DriftCounts{}, checked[0].Drift)
	assert.Equal(t, "No drift in s", checked[0].Reason)
	assert.Equal(t, &agent, checked[0].Client)
}

// A frozen stack refuses applies; a drift check runs all the same.
func TestDriftCheckRunsOnAFrozenStack(t *testing.T) {
	g, st, _ := approvingGate(t)
	_, err := g.Freeze(st.Name, "incident 4411", "ops", false)
	require.NoError(t, err)
	rec, err := g.CheckDrift(context.Background(), st, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusDriftCheck, rec.Status)
	assert.Empty(t, rec.Errors)
}

// A drift check that Terraform cannot finish is recorded as a drift check
// with Terraform's errors: still never approvable, and it says it failed.
func TestFailedDriftCheck(t *testing.T) {
	g, cfg := newPlanner(t, map[string]string{"main.tf": `variable "x" {
  type = string
}
resource "terraform_data" "a" {
  input = var.x
}
`}, "")
	st, _ := cfg.Stack("s")
	rec, err := g.CheckDrift(context.Background(), st, audit.Client{})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusDriftCheck, rec.Status)
	assert.NotEmpty(t, rec.Errors)
	assert.Contains(t, rec.StatusNote, "could not finish")
	assert.NoFileExists(t, g.Store.PlanFilePath(rec.ID))
	assert.Contains(t, plan.DriftHeadline(rec.Product, rec.Stack, rec.DriftCheck, true), "FAILED")
}
