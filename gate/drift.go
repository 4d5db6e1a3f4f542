package gate

import (
	"context"
	"errors"
	"fmt"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// CheckDrift runs a refresh-only plan on the stack, as Propose runs a
// plan (the same configuration scan, stack lock, inputs, AWS plan role and
// environment), and records what it found: a record with status
// drift_check, which can never be approved or applied, and no plan file.
// It is audited drift_checked with the counts. A frozen stack is checked
// all the same: nothing is applied. Errors are Propose's.
func (g *Gate) CheckDrift(ctx context.Context, st *config.Stack, client audit.Client, opts ...plan.PlanOption) (*plan.Record, error) {
	rec, err := g.propose(ctx, st, nil, client, opts, true)
	var refused *GuardError
	var scanned *ConfigRefusal
	if (errors.As(err, &refused) || errors.As(err, &scanned)) && ctx.Err() == nil {
		g.append(withClient(audit.Event{Event: audit.EventPlanRefused, Stack: st.Name, Reason: "drift check: " + err.Error()}, client))
	}
	if err != nil {
		return nil, err
	}
	e := withClient(audit.Event{Event: audit.EventDriftChecked, Stack: rec.Stack, PlanID: rec.ID, AWS: rec.AWS}, client)
	if rec.DriftCheck != nil {
		counts := rec.DriftCheck.DriftCounts
		e.Drift = &counts
	}
	e.Reason = plan.DriftHeadline(rec.Product, rec.Stack, rec.DriftCheck, len(rec.Errors) > 0)
	g.append(e)
	return rec, nil
}

// recordDrift makes a freshly planned record a drift check: what the
// refresh found (a nil analysis: Terraform produced no plan), and a status
// that no approval or apply accepts, whatever the refresh-only plan would
// do if applied.
func recordDrift(rec *plan.Record, a *plan.Analysis, out *plan.PlanOutput) {
	rec.Status = plan.StatusDriftCheck
	rec.StatusNote = "a drift check: it can never be approved or applied"
	rec.ApprovalsRequired = 0
	rec.BlockedReasons = nil
	rec.ProtectedHits = nil
	rec.DriftCheck = &plan.DriftCheck{Resources: []plan.DriftedResource{}}
	if a != nil {
		rec.DriftCheck = a.DriftCheck()
	}
	if out.Failed || a == nil || a.Errored {
		rec.StatusNote = fmt.Sprintf("a drift check that %s could not finish (see its errors); it can never be approved or applied", rec.Product)
	}
}

// driftRefusal says why a drift check is never approved or applied.
func driftRefusal(rec *plan.Record) string {
	return fmt.Sprintf("%s is a drift check (check_drift), not a plan: it can never be approved or applied, "+
		"because applying its refresh-only plan would rewrite the state to accept the changes made outside %s. "+
		"To undo the drift, call plan_change for a new plan", rec.ID, rec.Product)
}
