package gate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/plangate/plangate/plan"
)

// What plangate approve prints addresses the human: every refusal of a
// plan's status says to ask the agent, never to call a tool.
func TestForHumanAddressesTheHuman(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, st := range []plan.Status{plan.StatusBlocked, plan.StatusExpired, plan.StatusDiscarded, plan.StatusFailed,
		plan.StatusSuperseded, plan.StatusInterrupted, plan.StatusTampered} {
		rec := &plan.Record{ID: "0123456789abcdef", Status: st, ExpiresAt: now.Add(-time.Minute), BlockedReasons: []string{"too many deletions"}, StatusNote: "why"}
		if st == plan.StatusExpired {
			rec.Status = plan.StatusAwaitingApproval
		}
		reason := StatusRefusal(rec, now)
		human := ForHuman(reason)
		assert.NotEqual(t, reason, human, "%s: the agent's text is rewritten", st)
		assert.NotContains(t, human, "plan_change", "%s", st)
		assert.Contains(t, human, "the agent for a", "%s", st)
	}
}
