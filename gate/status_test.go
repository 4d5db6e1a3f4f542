package gate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
)

// testGate is a gate on a config with stack "web" (a directory that holds
// no Terraform: these tests never run it) and approvers alice and bob.
type testGate struct {
	*Gate
	keys map[string]*approvals.PrivateKey
	now  time.Time
}

func newTestGate(t *testing.T, policy string) *testGate {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "web"), 0o755))
	keys := map[string]*approvals.PrivateKey{}
	text := "state_dir = \"state\"\nstack \"web\" {\n  dir = \"web\"\n  policy {\n" + policy + "\n  }\n}\n"
	for _, name := range []string{"alice", "bob"} {
		pub, priv, err := approvals.GenerateKey()
		require.NoError(t, err)
		keys[name] = &approvals.PrivateKey{Approver: name, Key: priv}
		text += fmt.Sprintf("approver %q {\n  public_key = %q\n}\n", name, config.FormatPublicKey(pub))
	}
	path := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	tg := &testGate{keys: keys, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	tg.Gate = &Gate{Config: cfg, Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir),
		Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, nil), Now: func() time.Time { return tg.now }}
	return tg
}

// commit records a plan of stack web with the given status, its plan file
// holding some bytes and the record their hash; edit changes the record
// before it is written.
func (tg *testGate) commit(t *testing.T, status plan.Status, edit func(*plan.Record)) *plan.Record {
	t.Helper()
	d, err := tg.Store.NewDraft()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(d.PlanFile(), []byte("plan file of "+d.ID), 0o600))
	require.NoError(t, d.WriteEmptyDiff())
	sum, err := plan.FileSHA256(d.PlanFile())
	require.NoError(t, err)
	rec := &plan.Record{
		Stack: "web", Status: status, CreatedAt: tg.now, ExpiresAt: tg.now.Add(time.Hour), PlanSHA256: sum,
		Counts: plan.Counts{Add: 1}, Deleted: []plan.Deletion{}, ApprovalsRequired: 1, ManagedResources: 10,
	}
	if edit != nil {
		edit(rec)
	}
	require.NoError(t, d.Commit(rec))
	return rec
}

func (tg *testGate) token(t *testing.T, approver string, rec *plan.Record) string {
	t.Helper()
	tok, _, err := approvals.Issue(tg.keys[approver], rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, tg.now, time.Hour)
	require.NoError(t, err)
	return tok
}

func (tg *testGate) events(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, tg.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		out = append(out, string(e.Event)+" "+plan.ShortID(e.PlanID))
		return nil
	}))
	return out
}

func refusalOf(t *testing.T, err error) string {
	t.Helper()
	var r *Refusal
	require.True(t, errors.As(err, &r), "want a *Refusal, got %v", err)
	return r.Reason
}

// Every status but awaiting_approval is refused, by approve and by apply
// alike, with a reason that names the plan and says what to do; no
// Terraform runs, no token is spent, and apply audits the refusal.
func TestEveryStatusButAwaitingApprovalIsRefused(t *testing.T) {
	tests := []struct {
		status plan.Status
		note   string
		edit   func(*plan.Record)
		want   string
	}{
		{status: plan.StatusBlocked, edit: func(r *plan.Record) { r.BlockedReasons = []string{"too many deletions"} }, want: "is blocked by policy and can never be applied: too many deletions"},
		{status: plan.StatusApplied, want: "was already applied; nothing to do"},
		{status: plan.StatusDiscarded, want: "was discarded and can never be applied"},
		{status: plan.StatusFailed, edit: func(r *plan.Record) { r.StatusNote = "Terraform produced no plan" }, want: "failed (Terraform produced no plan) and can never be applied"},
		{status: plan.StatusSuperseded, edit: func(r *plan.Record) { r.StatusNote = "superseded by the apply of plan x" }, want: "is superseded (superseded by the apply of plan x)"},
		{status: plan.StatusNoChanges, want: "has no changes: there is nothing to apply"},
		{status: plan.StatusInterrupted, edit: func(r *plan.Record) { r.StatusNote = "cancelled" }, want: "was interrupted while applying (cancelled)"},
		{status: plan.StatusAwaitingApproval, note: "expired", edit: func(r *plan.Record) { r.ExpiresAt = r.CreatedAt.Add(-time.Minute) }, want: "expired at 2026-12-01T11:59:00Z: call plan_change for a fresh plan"},
	}
	for _, tt := range tests {
		name := string(tt.status) + tt.note
		t.Run(name, func(t *testing.T) {
			tg := newTestGate(t, "")
			rec := tg.commit(t, tt.status, tt.edit)
			st, _ := tg.Config.Stack("web")

			_, err := tg.Approvable(rec, st, tg.now)
			assert.Contains(t, refusalOf(t, err), tt.want)
			assert.Contains(t, refusalOf(t, err), rec.ID)

			_, err = tg.Approve(rec.ID, tg.keys["alice"], "root", audit.Client{})
			assert.Contains(t, refusalOf(t, err), tt.want, "approve refuses it too")

			// A token signed while the plan was valid (an hour earlier).
			issued := tg.now.Add(-time.Hour)
			tok, claims, err := approvals.Issue(tg.keys["alice"], rec.ID, rec.PlanSHA256, rec.Stack, issued.Add(90*time.Minute), issued, 0)
			require.NoError(t, err)
			_, err = tg.Apply(context.Background(), rec.ID, []string{tok}, audit.Client{Name: "t"}, nil)
			assert.Contains(t, refusalOf(t, err), tt.want)
			assert.Equal(t, []string{"apply_refused " + plan.ShortID(rec.ID)}, tg.events(t))
			used, err := tg.Ledger.Used(claims.Nonce)
			require.NoError(t, err)
			assert.False(t, used, "a refused apply spends no token")
			got, err := tg.Store.Get(rec.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.status, got.Status, "a refusal changes no status")
		})
	}
}

// What can make an awaiting plan unapprovable: the policy as configured
// now, and a plan file that is gone or not the one recorded.
func TestApprovableChecksPolicyNowAndThePlanFile(t *testing.T) {
	deletesAll := func(r *plan.Record) {
		r.Deleted = []plan.Deletion{{Address: "terraform_data.db", Action: "delete", Actions: []string{"delete"}}}
		r.Counts.Destroy = 1
	}
	t.Run("policy tightened since the plan", func(t *testing.T) {
		tg := newTestGate(t, "max_deletions = 0")
		rec := tg.commit(t, plan.StatusAwaitingApproval, deletesAll)
		st, _ := tg.Config.Stack("web")
		_, err := tg.Approvable(rec, st, tg.now)
		assert.Contains(t, refusalOf(t, err), "the stack's policy now blocks this plan: the plan destroys 1 resource instance, but stack \"web\" allows no deletions")
	})
	t.Run("more approvals now", func(t *testing.T) {
		tg := newTestGate(t, "deletion_approvals = 2")
		rec := tg.commit(t, plan.StatusAwaitingApproval, deletesAll)
		st, _ := tg.Config.Stack("web")
		a, err := tg.Approvable(rec, st, tg.now)
		require.NoError(t, err)
		assert.Equal(t, 2, a.Required, "the larger of then and now")
		assert.Equal(t, rec.PlanSHA256, a.SHA256)
	})
	t.Run("plan file replaced", func(t *testing.T) {
		tg := newTestGate(t, "")
		rec := tg.commit(t, plan.StatusAwaitingApproval, nil)
		require.NoError(t, os.WriteFile(tg.Store.PlanFilePath(rec.ID), []byte("another plan"), 0o600))
		st, _ := tg.Config.Stack("web")
		_, err := tg.Approvable(rec, st, tg.now)
		reason := refusalOf(t, err)
		assert.Contains(t, reason, "the plan file of "+rec.ID+" changed after it was planned")
		assert.Contains(t, reason, "recorded "+rec.PlanSHA256[:12])
	})
	t.Run("plan file gone", func(t *testing.T) {
		tg := newTestGate(t, "")
		rec := tg.commit(t, plan.StatusAwaitingApproval, nil)
		require.NoError(t, os.Remove(tg.Store.PlanFilePath(rec.ID)))
		st, _ := tg.Config.Stack("web")
		_, err := tg.Approvable(rec, st, tg.now)
		assert.Contains(t, refusalOf(t, err), "has no plan file any more")
	})
}

// Approve signs only for configured approvers with their own key, and
// audits every token it issues (by fingerprint, never the token).
func TestApproveSignsAndAudits(t *testing.T) {
	tg := newTestGate(t, "")
	rec := tg.commit(t, plan.StatusAwaitingApproval, nil)

	_, stranger, err := approvals.GenerateKey()
	require.NoError(t, err)
	_, err = tg.Approve(rec.ID, &approvals.PrivateKey{Approver: "mallory", Key: stranger}, "root", audit.Client{})
	assert.ErrorContains(t, err, `approver "mallory" is not configured`)
	_, err = tg.Approve(rec.ID, &approvals.PrivateKey{Approver: "alice", Key: stranger}, "root", audit.Client{})
	assert.ErrorContains(t, err, `this key does not match approver "alice"'s public_key`)
	assert.Empty(t, tg.events(t), "nothing signed, nothing audited")

	a, err := tg.Approve(rec.ID[:8], tg.keys["alice"], "root", audit.Client{Name: "plangate-cli", Version: "1"})
	require.NoError(t, err)
	tok, err := approvals.Parse(a.Token)
	require.NoError(t, err)
	assert.Equal(t, rec.ID, tok.Claims.PlanID)
	assert.Equal(t, rec.PlanSHA256, tok.Claims.PlanSHA256)
	assert.Equal(t, rec.ExpiresAt.Unix(), tok.Claims.ExpiresAt, "the token lives as long as the plan")
	var ev audit.Event
	require.NoError(t, tg.Audit.Read(func(_ int, e audit.Event, _ []byte) error { ev = e; return nil }))
	assert.Equal(t, audit.EventPlanApproved, ev.Event)
	assert.Equal(t, []string{"alice"}, ev.Approvers)
	assert.Equal(t, []string{tok.Fingerprint()}, ev.TokenFingerprints)
	assert.Equal(t, "root", ev.Actor)
	prior, err := tg.PriorApprovals(rec.ID)
	require.NoError(t, err)
	require.Len(t, prior, 1)
	assert.Equal(t, "alice", prior[0].Approver)

	// An approval the audit log cannot record is not issued.
	require.NoError(t, os.WriteFile(tg.Audit.Path(), []byte("torn"), 0o600))
	_, err = tg.Approve(rec.ID, tg.keys["bob"], "root", audit.Client{})
	assert.ErrorContains(t, err, "no token issued")
}

func TestDiscardTransitions(t *testing.T) {
	tg := newTestGate(t, "")
	for _, from := range []plan.Status{plan.StatusAwaitingApproval, plan.StatusBlocked} {
		rec := tg.commit(t, from, nil)
		got, err := tg.Discard(rec.ID[:8], "not wanted", audit.Client{Name: "agent"})
		require.NoError(t, err)
		assert.Equal(t, plan.StatusDiscarded, got.Status, "from %s", from)
		assert.Equal(t, "not wanted", got.StatusNote)
		assert.NoFileExists(t, tg.Store.PlanFilePath(rec.ID), "a discarded plan keeps no plan file")
		again, err := tg.Discard(rec.ID, "twice", audit.Client{})
		require.NoError(t, err, "discarding twice is harmless")
		assert.Equal(t, "not wanted", again.StatusNote)
	}
	for _, from := range []plan.Status{plan.StatusApplied, plan.StatusFailed, plan.StatusNoChanges, plan.StatusSuperseded, plan.StatusInterrupted} {
		rec := tg.commit(t, from, nil)
		_, err := tg.Discard(rec.ID, "no", audit.Client{})
		var in *plan.InputError
		require.ErrorAs(t, err, &in, "from %s", from)
		assert.Contains(t, in.Msg, "is "+string(from)+", not pending: only plans awaiting approval or blocked can be discarded")
		got, err := tg.Store.Get(rec.ID)
		require.NoError(t, err)
		assert.Equal(t, from, got.Status)
		assert.FileExists(t, tg.Store.PlanFilePath(rec.ID))
	}
	_, err := tg.Discard("0000000z", "no", audit.Client{})
	assert.ErrorIs(t, err, plan.ErrMalformedID)
	evs := tg.events(t)
	assert.Len(t, evs, 4)
	for _, e := range evs {
		assert.True(t, strings.HasPrefix(e, "plan_discarded "), e)
	}
}

// The refusals apply_plan makes before Terraform could start, with the
// plan still awaiting approval.
func TestApplyRefusals(t *testing.T) {
	tg := newTestGate(t, "approvals = 2")
	rec := tg.commit(t, plan.StatusAwaitingApproval, func(r *plan.Record) { r.ApprovalsRequired = 2 })
	other := tg.commit(t, plan.StatusAwaitingApproval, func(r *plan.Record) { r.ApprovalsRequired = 2 })
	ctx := context.Background()
	apply := func(tokens ...string) string {
		t.Helper()
		_, err := tg.Apply(ctx, rec.ID, tokens, audit.Client{}, nil)
		return refusalOf(t, err)
	}

	assert.Contains(t, apply(), "before it can be applied, and no approval token was given")
	assert.Contains(t, apply(tg.token(t, "alice", rec)), "this plan needs 2 different approvers and has 1 (alice)")
	alice := tg.token(t, "alice", rec)
	assert.Contains(t, apply(alice, alice), "is the same approval as token 1 (from alice)")
	assert.Contains(t, apply(tg.token(t, "bob", rec), tg.token(t, "alice", other)), "is for plan "+other.ID+", not "+rec.ID)

	_, err := freeze.Set(tg.Config.StateDir, "web", "incident 4411", "oncall", tg.now)
	require.NoError(t, err)
	assert.Contains(t, apply(tg.token(t, "alice", rec), tg.token(t, "bob", rec)), `stack "web" is frozen by oncall since 2026-12-01T12:00:00Z: "incident 4411". Nothing is applied while the freeze lasts; only a human can lift it`)
	assert.NotContains(t, apply(tg.token(t, "alice", rec), tg.token(t, "bob", rec)), "unfreeze", "the agent is not told how to lift it")

	got, err := tg.Store.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusAwaitingApproval, got.Status)
	for _, e := range tg.events(t) {
		assert.Equal(t, "apply_refused "+plan.ShortID(rec.ID), e)
	}

	_, err = tg.Apply(ctx, "ffffffff", nil, audit.Client{}, nil)
	assert.ErrorIs(t, err, plan.ErrPlanNotFound)
}
