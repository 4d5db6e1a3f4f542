package gate

import (
	"strings"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// PlanEvent is the audit event for a plan: its identity, counts and
// deletions, and who asked.
func PlanEvent(name audit.EventName, rec *plan.Record, client audit.Client) audit.Event {
	counts := rec.Counts
	deletions := rec.Deletions()
	e := audit.Event{
		Event: name, Stack: rec.Stack, PlanID: rec.ID, PlanSHA256: rec.PlanSHA256,
		Counts: &counts, Deletions: &deletions, Deleted: deletedAddresses(rec), AWS: rec.AWS,
	}
	return withClient(e, client)
}

// withClient names the MCP client that asked, when it gave a name.
func withClient(e audit.Event, client audit.Client) audit.Event {
	if client.Name != "" || client.Version != "" {
		c := client
		e.Client = &c
	}
	return e
}

// planCreatedEvent names the audit event for a newly recorded plan.
func planCreatedEvent(rec *plan.Record) audit.EventName {
	switch rec.Status {
	case plan.StatusBlocked:
		return audit.EventPlanBlocked
	case plan.StatusFailed:
		return audit.EventPlanFailed
	case plan.StatusNoChanges:
		return audit.EventPlanNoChanges
	default:
		return audit.EventPlanCreated
	}
}

// withApprovals adds who approved and the fingerprints of their tokens.
func withApprovals(e audit.Event, v *approvals.Verified) audit.Event {
	if v != nil {
		e.Approvers = v.Approvers
		e.TokenFingerprints = v.Fingerprints
	}
	return e
}

// withReason sets the event's reason, followed by Terraform's errors.
func withReason(e audit.Event, reason string, errs []string) audit.Event {
	e.Reason = reason
	if len(errs) > 0 {
		e.Reason = strings.TrimSpace(reason + ": " + strings.Join(errs, "; "))
	}
	return e
}

func deletedAddresses(rec *plan.Record) []string {
	out := make([]string, 0, len(rec.Deleted))
	for _, d := range rec.Deleted {
		a := d.Address
		if d.Deposed != "" {
			a += " (deposed " + d.Deposed + ")"
		}
		out = append(out, a)
	}
	return out
}

// replacedAddresses are the deleted instances the plan creates anew.
func replacedAddresses(rec *plan.Record) []string {
	var out []string
	for _, d := range rec.Deleted {
		if d.Action == "replace" && d.Deposed == "" {
			out = append(out, d.Address)
		}
	}
	return out
}
