package gate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/notify"
	"github.com/plangate/plangate/plan"
)

// A plan's life through a gate with a webhook, with real Terraform: each
// event reaches the receiver once, and no body carries the sensitive
// variable's value or the approval token.
func TestNotificationsCarryNoSecret(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

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
	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	g, cfg := newPlanner(t, map[string]string{"main.tf": module}, `variables = ["token", "n"]
  notify { webhook = "`+srv.URL+`/services/T0/B0/HOOKSECRET" }
  policy { max_deletions = 0 }
}
approver "alice" {
  public_key = "`+config.FormatPublicKey(pub)+`"`)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g.Ledger = ledger
	n := notify.New(notify.Options{Backoff: []time.Duration{time.Millisecond}, OnFailure: g.NotifyFailed})
	g.Notify = n
	g.ReviewURL = func(id string) string { return "https://plangate.example.com/review/plans/" + id }
	st, _ := cfg.Stack("s")
	ctx := context.Background()

	const secret = "agent-set-s3cr3t-value"
	rec, err := g.Propose(ctx, st, map[string]any{"token": secret, "n": 2}, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, rec.Status)
	a, err := g.Approve(rec.ID, &approvals.PrivateKey{Approver: "alice", Key: priv}, "root", audit.Client{})
	require.NoError(t, err)
	_, err = g.Apply(ctx, rec.ID, []string{a.Token}, audit.Client{}, nil)
	require.NoError(t, err)
	blocked, err := g.Propose(ctx, st, map[string]any{"token": secret, "n": 0}, audit.Client{})
	require.NoError(t, err)
	require.Equal(t, plan.StatusBlocked, blocked.Status)
	_, err = g.Freeze("s", "incident", "oncall", false)
	require.NoError(t, err)

	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, n.Close(closeCtx))

	mu.Lock()
	defer mu.Unlock()
	var events []string
	for _, b := range bodies {
		var m notify.Message
		require.NoError(t, json.Unmarshal([]byte(b), &m))
		events = append(events, m.Event)
		assert.Equal(t, "s", m.Stack)
		assert.NotEmpty(t, m.Text)
		assert.NotContains(t, b, secret, "a sensitive variable's value")
		assert.NotContains(t, b, a.Token, "an approval token")
		assert.NotContains(t, b, "HOOKSECRET")
		if m.PlanID != "" {
			assert.Equal(t, "https://plangate.example.com/review/plans/"+m.PlanID, m.ReviewURL, "each plan's own page")
			assert.Contains(t, m.Text, "review: "+m.ReviewURL)
		} else {
			assert.Empty(t, m.ReviewURL, "a freeze has no plan to review")
		}
		if m.Event == notify.EventPlanBlocked {
			assert.ElementsMatch(t, []string{"terraform_data.item[0]", "terraform_data.item[1]"}, m.Deletions)
			assert.Equal(t, blocked.ID, m.PlanID)
		}
	}
	assert.Equal(t, []string{notify.EventPlanAwaitingApproval, notify.EventPlanApplied, notify.EventPlanBlocked, notify.EventStackFrozen}, events)
}

// A webhook that refuses is audited as notify_failed, naming its host only.
func TestNotifyFailedIsAudited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	t.Cleanup(srv.Close)
	g, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule},
		`notify { webhook = "`+srv.URL+`/services/HOOKSECRET" }`)
	n := notify.New(notify.Options{OnFailure: g.NotifyFailed})
	g.Notify = n
	st, _ := cfg.Stack("s")
	rec, err := g.Propose(context.Background(), st, nil, audit.Client{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.Close(ctx))

	var last audit.Event
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error { last = e; return nil }))
	assert.Equal(t, audit.EventNotifyFailed, last.Event)
	assert.Equal(t, rec.ID, last.PlanID)
	assert.Contains(t, last.Reason, "403")
	assert.NotContains(t, last.Reason, "HOOKSECRET")
}

// An apply whose plangate died is settled from its journal by the next
// one, and the webhook hears how it ended: applied, or failed.
func TestRecoveredAppliesAreAnnounced(t *testing.T) {
	var mu sync.Mutex
	var events []notify.Message
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		events = append(events, m)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	g, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `notify { webhook = "`+srv.URL+`/hook" }`)
	st, _ := cfg.Stack("s")
	ctx := context.Background()
	var ids []string
	for i := 0; i < 2; i++ {
		rec, err := g.Propose(ctx, st, nil, audit.Client{})
		require.NoError(t, err)
		ids = append(ids, rec.ID)
		_, err = g.Store.Update(rec.ID, func(r *plan.Record) error { r.Status = plan.StatusApplying; return nil })
		require.NoError(t, err)
	}
	// The first one's Terraform finished; the second never started.
	require.NoError(t, os.WriteFile(filepath.Join(g.Store.Dir(ids[0]), plan.ApplyJournalFile),
		[]byte(`{"@level":"info","@message":"Apply complete!","type":"change_summary","changes":{"add":2,"change":0,"import":0,"remove":0,"operation":"apply"}}`+"\n"), 0o600))

	n := notify.New(notify.Options{Backoff: []time.Duration{time.Millisecond}})
	g.Notify = n
	g.RecoverApplies()
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, n.Close(closeCtx))

	mu.Lock()
	defer mu.Unlock()
	got := map[string]string{}
	for _, m := range events {
		got[m.PlanID] = m.Event
	}
	assert.Equal(t, map[string]string{ids[0]: notify.EventPlanApplied, ids[1]: notify.EventApplyFailed}, got)
}
