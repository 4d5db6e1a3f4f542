package review

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/plangate/plangate/gate"
)

// The Approvals line counts distinct approvers: a second approval by the
// same approver does not lower what is still needed, and the count never
// goes below zero.
func TestApprovalsLineCountsDistinctApprovers(t *testing.T) {
	at := time.Date(2026, 12, 2, 21, 0, 0, 0, time.FixedZone("CET", 3600))
	alice := gate.PriorApproval{Approver: "alice", At: at}
	bob := gate.PriorApproval{Approver: "bob", At: at.Add(time.Minute)}
	assert.Equal(t, "needs 2 distinct approval(s); 2 still needed", approvalsLine(2, nil))
	assert.Equal(t, "needs 2 distinct approval(s); 1 still needed; approved so far by alice at 2026-12-02T20:00:00Z, alice at 2026-12-02T20:00:00Z",
		approvalsLine(2, []gate.PriorApproval{alice, alice}))
	assert.Equal(t, "needs 1 distinct approval(s); 0 still needed; approved so far by alice at 2026-12-02T20:00:00Z, bob at 2026-12-02T20:01:00Z",
		approvalsLine(1, []gate.PriorApproval{alice, bob}))
}
