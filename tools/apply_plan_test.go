package tools

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// Refusals come back as isError results that start "apply refused: " and
// say what a human must do; lookup problems name the id.
func TestApplyPlanRefusals(t *testing.T) {
	f := newFixture(t)
	tool := ApplyPlan(f.deps.Gate, f.deps.Store, f.deps)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, "", 0)

	msg := errorText(t, call(t, tool, map[string]any{"plan_id": rec.ID}))
	assert.Equal(t, "apply refused: plan "+rec.ID+" needs approval from 1 approver before it can be applied, and no approval token was given: "+
		"ask a human approver to run `plangate approve "+rec.ID+"`, then pass the token it prints on its last line in approval_tokens", msg)

	msg = errorText(t, call(t, tool, map[string]any{"plan_id": rec.ID, "approval_tokens": []any{"pgt1.not-a-token"}}))
	assert.Contains(t, msg, "apply refused: the approval token is not valid: it has 2 dot-separated parts, not 3")

	applied := f.commit(t, "web", plan.StatusApplied, "", 0)
	msg = errorText(t, call(t, tool, map[string]any{"plan_id": applied.ID, "approval_tokens": []any{"pgt1.x"}}))
	assert.Equal(t, "apply refused: plan "+applied.ID+" was already applied; nothing to do", msg)

	assert.Contains(t, errorText(t, call(t, tool, map[string]any{"plan_id": "0123abcd"})), `no such plan "0123abcd"`)
	assert.Contains(t, errorText(t, call(t, tool, map[string]any{"plan_id": rec.ID, "approval_tokens": "pgt1.x"})), "invalid arguments")
}

// An apply result says replaced for what was replaced, destroyed for what
// is gone.
func TestApplyResultNamesReplacedAndDestroyed(t *testing.T) {
	text := formatOutcome(&ApplyResult{Outcome: gate.Outcome{
		PlanID: "0123456789abcdef", Stack: "web", Status: plan.StatusApplied, Counts: plan.Counts{Add: 1, Destroy: 2},
		Deleted: []string{"terraform_data.a", "terraform_data.b"}, Replaced: []string{"terraform_data.a"}, Approvers: []string{"alice"},
	}})
	assert.Contains(t, text, "Replaced: terraform_data.a\n")
	assert.Contains(t, text, "Destroyed: terraform_data.b\n")
	assert.NotContains(t, text, "Destroyed: terraform_data.a")
}
