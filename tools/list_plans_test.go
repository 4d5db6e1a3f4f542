package tools

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

func TestListPlansFilters(t *testing.T) {
	f := newFixture(t)
	tool := ListPlans(f.deps.Store, f.deps)
	res := call(t, tool, nil)
	assert.Equal(t, "No plans recorded. plan_change makes one.", text(res))

	web := f.commit(t, "web", plan.StatusAwaitingApproval, "", 2)
	f.now = f.now.Add(time.Minute)
	db := f.commit(t, "db", plan.StatusApplied, "", 0)
	f.now = f.now.Add(time.Hour) // web's plan is past its expiry now

	ids := func(args map[string]any) []string {
		t.Helper()
		var out []string
		for _, p := range call(t, tool, args).StructuredContent.(ListPlansResult).Plans {
			out = append(out, p.PlanID+" "+string(p.Status))
		}
		return out
	}
	assert.Equal(t, []string{db.ID + " applied", web.ID + " expired"}, ids(nil), "newest first, status as of now")
	assert.Equal(t, []string{web.ID + " expired"}, ids(map[string]any{"stack": "web"}))
	assert.Equal(t, []string{web.ID + " expired"}, ids(map[string]any{"status": "expired"}))
	assert.Empty(t, ids(map[string]any{"status": "awaiting_approval"}))
	got := call(t, tool, map[string]any{"stack": "web"}).StructuredContent.(ListPlansResult).Plans[0]
	assert.Equal(t, 2, got.Deletions)
	assert.Equal(t, "1h1m0s", got.Age)

	msg := errorText(t, call(t, tool, map[string]any{"stack": "nope"}))
	assert.Equal(t, `unknown stack "nope": the configured stacks are web, db (list_stacks describes them)`, msg)
}

// A plan whose record cannot be read is listed first, as corrupt with the
// reason, never left out; reading it says what is wrong.
func TestListPlansShowsCorruptRecords(t *testing.T) {
	f := newFixture(t)
	tool := ListPlans(f.deps.Store, f.deps)
	web := f.commit(t, "web", plan.StatusAwaitingApproval, "", 0)
	f.now = f.now.Add(time.Minute)
	db := f.commit(t, "db", plan.StatusApplied, "", 0)
	path := filepath.Join(f.deps.Store.Dir(db.ID), plan.RecordFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)/2], 0o600))

	res := call(t, tool, nil)
	plans := res.StructuredContent.(ListPlansResult).Plans
	require.Len(t, plans, 2)
	assert.Equal(t, db.ID, plans[0].PlanID)
	assert.Equal(t, plan.StatusCorrupt, plans[0].Status)
	assert.Equal(t, "db", plans[0].Stack, "what the readable start of the record says")
	assert.True(t, db.CreatedAt.Equal(plans[0].CreatedAt))
	assert.Contains(t, plans[0].Reason, "record.json is not valid JSON: unexpected end of JSON input; the plan can never be approved or applied; move the directory")
	assert.Equal(t, web.ID, plans[1].PlanID)
	assert.Contains(t, text(res), db.ID+"  db       corrupt           record.json is not valid JSON")

	only := func(args map[string]any) []string {
		var out []string
		for _, p := range call(t, tool, args).StructuredContent.(ListPlansResult).Plans {
			out = append(out, p.PlanID)
		}
		return out
	}
	assert.Equal(t, []string{db.ID}, only(map[string]any{"status": "corrupt"}))
	assert.Equal(t, []string{web.ID}, only(map[string]any{"stack": "web"}))
	assert.Equal(t, []string{db.ID}, only(map[string]any{"stack": "db"}))
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	assert.Equal(t, []string{db.ID, web.ID}, only(map[string]any{"stack": "web"}), "a record that names no stack may be any stack's")

	msg := errorText(t, call(t, GetPlan(f.deps.Store, f.deps), map[string]any{"plan_id": db.ID[:8]}))
	assert.Contains(t, msg, "plan "+db.ID+": record.json is not valid JSON: unexpected end of JSON input; the plan can never be approved or applied")
	assert.Contains(t, msg, "This needs a human")
}
