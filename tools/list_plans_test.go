package tools

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
