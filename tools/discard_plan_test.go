package tools

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

func TestDiscardPlan(t *testing.T) {
	f := newFixture(t)
	tool := DiscardPlan(f.deps.Gate, f.deps)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, "", 0)
	res := call(t, tool, map[string]any{"plan_id": rec.ID[:8]})
	require.False(t, res.IsError, text(res))
	assert.Equal(t, DiscardResult{PlanID: rec.ID, Stack: "web", Status: plan.StatusDiscarded}, res.StructuredContent)
	assert.Equal(t, "Plan "+rec.ID+" for web is discarded: it can never be applied.", text(res))

	applied := f.commit(t, "web", plan.StatusApplied, "", 0)
	msg := errorText(t, call(t, tool, map[string]any{"plan_id": applied.ID}))
	assert.Equal(t, "plan "+applied.ID+" is applied, not pending: only plans awaiting approval or blocked can be discarded", msg)
	assert.Contains(t, errorText(t, call(t, tool, map[string]any{"plan_id": "abcdef01"})), "no such plan")

	var events []audit.EventName
	require.NoError(t, f.deps.Gate.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		events = append(events, e.Event)
		return nil
	}))
	assert.Equal(t, []audit.EventName{audit.EventPlanDiscarded}, events, "only the discard that happened is audited")
}
