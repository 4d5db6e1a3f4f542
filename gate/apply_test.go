package gate

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// approvingGate is a gate on stack "s" (plannerModule, variable n
// settable) with approver alice, whose key it returns.
func approvingGate(t *testing.T) (*Gate, *config.Stack, *approvals.PrivateKey) {
	t.Helper()
	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	g, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `variables = ["n"]
}
approver "alice" {
  public_key = "`+config.FormatPublicKey(pub)+`"`)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g.Ledger = ledger
	st, _ := cfg.Stack("s")
	return g, st, &approvals.PrivateKey{Approver: "alice", Key: priv}
}

// The whole life of a plan through the gate, with real Terraform: proposed,
// approved, applied once; the stack's other pending plan is superseded; a
// second apply with a fresh token is refused; every step is audited.
func TestApplyRunsTheApprovedPlanOnce(t *testing.T) {
	g, st, key := approvingGate(t)
	ctx := context.Background()
	agent := audit.Client{Name: "agent", Version: "1"}

	first, err := g.Propose(ctx, st, map[string]any{"n": 2}, agent)
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, first.Status)
	second, err := g.Propose(ctx, st, map[string]any{"n": 3}, agent)
	require.NoError(t, err)

	a, err := g.Approve(first.ID, key, "root", audit.Client{Name: "plangate-cli"})
	require.NoError(t, err)
	var applying []string
	out, err := g.Apply(ctx, first.ID[:8], []string{a.Token}, agent, func(m plan.UIMessage) {
		if m.Type == "apply_complete" {
			addr, _ := m.Resource()
			applying = append(applying, addr)
		}
	})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusApplied, out.Status)
	assert.Equal(t, plan.Counts{Add: 2}, out.Counts)
	assert.Equal(t, []string{"alice"}, out.Approvers)
	assert.ElementsMatch(t, []string{"terraform_data.item[0]", "terraform_data.item[1]"}, applying, "events reach the caller")
	assert.Equal(t, []string{second.ID}, out.Superseded)
	assert.False(t, out.FinishedAt.Before(out.StartedAt))

	for id, want := range map[string]plan.Status{first.ID: plan.StatusApplied, second.ID: plan.StatusSuperseded} {
		rec, err := g.Store.Get(id)
		require.NoError(t, err)
		assert.Equal(t, want, rec.Status)
	}
	view, err := g.State(ctx, st)
	require.NoError(t, err)
	assert.Len(t, view.Resources, 2)

	// Approving or applying it again: refused, whatever the token.
	_, err = g.Approve(first.ID, key, "root", audit.Client{})
	assert.Contains(t, refusalOf(t, err), "was already applied")
	tok, _, err := approvals.Issue(key, first.ID, first.PlanSHA256, "s", first.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = g.Apply(ctx, first.ID, []string{tok}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "was already applied")
	_, err = g.Apply(ctx, first.ID, []string{a.Token}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "was already applied")

	var events []string
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		events = append(events, string(e.Event)+" "+plan.ShortID(e.PlanID))
		return nil
	}))
	f, s := plan.ShortID(first.ID), plan.ShortID(second.ID)
	assert.Equal(t, []string{
		"plan_created " + f, "plan_created " + s, "plan_approved " + f,
		"apply_started " + f, "applied " + f, "plan_superseded " + s,
		"apply_refused " + f, "apply_refused " + f,
	}, events)
}

// A review reads the plan file's own account: a destructive plan file
// swapped into a benign plan's directory (its hash written into the
// record), or a record edited to hide a deletion, is refused, never shown
// as the record says.
func TestReviewReadsThePlanFileNotTheRecord(t *testing.T) {
	g, st, key := approvingGate(t)
	ctx := context.Background()
	agent := audit.Client{Name: "agent"}

	first, err := g.Propose(ctx, st, map[string]any{"n": 2}, agent)
	require.NoError(t, err)
	a, err := g.Approve(first.ID, key, "root", audit.Client{})
	require.NoError(t, err)
	_, err = g.Apply(ctx, first.ID, []string{a.Token}, agent, nil)
	require.NoError(t, err)

	destructive, err := g.Propose(ctx, st, map[string]any{"n": 0}, agent)
	require.NoError(t, err)
	require.Equal(t, 2, destructive.Deletions())
	benign, err := g.Propose(ctx, st, map[string]any{"n": 3}, agent)
	require.NoError(t, err)
	require.Equal(t, plan.Counts{Add: 1}, benign.Counts)

	rv, err := g.Review(ctx, benign.ID, audit.Client{})
	require.NoError(t, err, "an untouched plan reviews")
	assert.Equal(t, benign.PlanSHA256, rv.SHA256)
	assert.Equal(t, benign.Counts, rv.Analysis.Counts)

	// The swap: the destructive plan file under the benign plan's record.
	b, err := os.ReadFile(g.Store.PlanFilePath(destructive.ID))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(g.Store.PlanFilePath(benign.ID), b, 0o600))
	_, err = g.Store.Update(benign.ID, func(r *plan.Record) error { r.PlanSHA256 = destructive.PlanSHA256; return nil })
	require.NoError(t, err)
	_, err = g.Review(ctx, benign.ID, audit.Client{})
	reason := refusalOf(t, err)
	assert.Contains(t, reason, "the file plans 0 to add, 0 to change, 2 to destroy; the record says 1, 0, 0")
	assert.Contains(t, reason, "the file deletes other resources than the record lists")
	got, err := g.Store.Get(benign.ID)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusTampered, got.Status, "a tampered plan is marked so, for good")
	var tampered []audit.Event
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		if e.Event == audit.EventPlanTampered {
			tampered = append(tampered, e)
		}
		return nil
	}))
	require.Len(t, tampered, 1)
	assert.Contains(t, tampered[0].Reason, "file +0 ~0 -2 (deletes 2), record +1 ~0 -0 (deletes 0)")
	// And an apply of it, whatever the token, is refused before anything runs.
	tok, _, err := approvals.Issue(key, benign.ID, destructive.PlanSHA256, "s", benign.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = g.Apply(ctx, benign.ID, []string{tok}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "was tampered with")
	view, err := g.State(ctx, st)
	require.NoError(t, err)
	assert.Len(t, view.Resources, 2, "nothing was destroyed")

	// A record edited to hide its deletions.
	_, err = g.Store.Update(destructive.ID, func(r *plan.Record) error {
		r.Counts.Destroy, r.Deleted = 0, []plan.Deletion{}
		return nil
	})
	require.NoError(t, err)
	// apply_plan reads the file too: with a token for the edited record,
	// the apply is refused as tampered, and nothing is destroyed.
	tok, _, err = approvals.Issue(key, destructive.ID, destructive.PlanSHA256, "s", destructive.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = g.Apply(ctx, destructive.ID, []string{tok}, agent, nil)
	reason = refusalOf(t, err)
	assert.Contains(t, reason, "does not do what its record says")
	assert.Contains(t, reason, "The approval tokens were not used")
	view, err = g.State(ctx, st)
	require.NoError(t, err)
	assert.Len(t, view.Resources, 2, "nothing was destroyed")
	got, err = g.Store.Get(destructive.ID)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusTampered, got.Status)
}
