package gate

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// StatusRefusal says why a plan in its current status cannot be approved
// or applied; empty when it is awaiting approval.
func StatusRefusal(rec *plan.Record, now time.Time) string {
	switch rec.EffectiveStatus(now) {
	case plan.StatusAwaitingApproval:
		return ""
	case plan.StatusBlocked:
		return fmt.Sprintf("plan %s is blocked by policy and can never be applied: %s. Propose a smaller change, or ask a human to change the policy in plangate.hcl", rec.ID, strings.Join(rec.BlockedReasons, "; "))
	case plan.StatusExpired:
		return fmt.Sprintf("plan %s expired at %s: call plan_change for a fresh plan and have it approved", rec.ID, rec.ExpiresAt.Format(time.RFC3339))
	case plan.StatusApplied:
		return fmt.Sprintf("plan %s was already applied; nothing to do", rec.ID)
	case plan.StatusDiscarded:
		return fmt.Sprintf("plan %s was discarded and can never be applied; call plan_change for a new plan", rec.ID)
	case plan.StatusFailed:
		return fmt.Sprintf("plan %s failed (%s) and can never be applied; fix the problem and call plan_change again", rec.ID, rec.StatusNote)
	case plan.StatusSuperseded:
		return fmt.Sprintf("plan %s is superseded (%s): call plan_change for a fresh plan", rec.ID, rec.StatusNote)
	case plan.StatusNoChanges:
		return fmt.Sprintf("plan %s has no changes: there is nothing to apply", rec.ID)
	case plan.StatusInterrupted:
		return fmt.Sprintf("plan %s was interrupted while applying (%s): call plan_change for a fresh plan", rec.ID, rec.StatusNote)
	case plan.StatusApplying:
		since := ""
		if rec.Apply != nil {
			since = " since " + rec.Apply.StartedAt.Format(time.RFC3339)
		}
		return fmt.Sprintf("plan %s is being applied%s (or its apply stopped and is not recorded yet): a plan is applied at most once, so it can never be approved or applied again; its status will say how the apply ended (plangate show %s). Call plan_change for any further change", rec.ID, since, rec.ID)
	case plan.StatusDriftCheck:
		return driftRefusal(rec)
	case plan.StatusTampered:
		return fmt.Sprintf("plan %s was tampered with (%s) and can never be approved or applied: a human should find out who changed it; call plan_change for a new plan", rec.ID, rec.StatusNote)
	default:
		return fmt.Sprintf("plan %s is %s and cannot be applied", rec.ID, rec.Status)
	}
}

// Approvable is what the gate found of a plan that can be approved now.
type Approvable struct {
	// Verdict is the stack's policy, as configured now, on the plan.
	Verdict approvals.Verdict
	// Required is the number of distinct approvers the plan needs: the
	// larger of what policy said when it was made and what it says now.
	Required int
	// PlanFile is the saved plan file, and SHA256 its hash as just read.
	PlanFile string
	SHA256   string
	// ExpiresAt is when the plan and its tokens stop being good: the
	// record's expiry, or sooner if plan_ttl was shortened since.
	ExpiresAt time.Time
}

// expiresAt is a plan's expiry under the stack's plan_ttl as configured
// now: a shorter ttl applies to plans already made.
func expiresAt(rec *plan.Record, st *config.Stack) time.Time {
	if st.Policy.PlanTTL > 0 && !rec.CreatedAt.IsZero() {
		if t := rec.CreatedAt.Add(st.Policy.PlanTTL); t.Before(rec.ExpiresAt) {
			return t
		}
	}
	return rec.ExpiresAt
}

// Approvable says whether a plan can be approved now — and, given enough
// approvals, applied: its status and expiry, the stack's policy as
// configured now (a human may have tightened it since the plan), and its
// plan file, which must still be the one recorded. It is the one check
// that both `plangate approve` and apply_plan make. A plan that cannot is
// a *Refusal saying why; other errors are the store's.
func (g *Gate) Approvable(rec *plan.Record, st *config.Stack, now time.Time) (*Approvable, error) {
	if reason := StatusRefusal(rec, now); reason != "" {
		return nil, &Refusal{PlanID: rec.ID, Reason: reason}
	}
	exp := expiresAt(rec, st)
	if !now.Before(exp) {
		return nil, &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("plan %s expired at %s: plan_ttl of stack %q is %s now. Call plan_change for a fresh plan and have it approved",
			rec.ID, exp.Format(time.RFC3339), st.Name, st.Policy.PlanTTL)}
	}
	verdict := approvals.Evaluate(st, policyFacts(rec))
	if verdict.Blocked() {
		return nil, &Refusal{PlanID: rec.ID, Reason: "the stack's policy now blocks this plan: " + strings.Join(verdict.BlockedReasons, "; ")}
	}
	planFile, sum, err := g.recordedPlanFile(rec)
	if err != nil {
		return nil, err
	}
	return &Approvable{
		Verdict:   verdict,
		Required:  max(verdict.ApprovalsRequired, rec.ApprovalsRequired),
		PlanFile:  planFile,
		SHA256:    sum,
		ExpiresAt: exp,
	}, nil
}

// recordedPlanFile returns the plan's file and its SHA-256, refusing a plan
// whose file is gone or is not the one recorded.
func (g *Gate) recordedPlanFile(rec *plan.Record) (file, sum string, err error) {
	file = g.Store.PlanFilePath(rec.ID)
	sum, err = plan.FileSHA256(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("plan %s has no plan file any more: it cannot be approved or applied; a new plan must be made (plan_change)", rec.ID)}
	}
	if err != nil {
		return "", "", fmt.Errorf("plan %s: reading the plan file: %w", rec.ID, err)
	}
	if sum != rec.PlanSHA256 {
		return "", "", &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("the plan file of %s changed after it was planned (SHA-256 %s…, recorded %s…): it will not be approved or applied; a new plan must be made (plan_change) and approved", rec.ID, shortSum(sum), shortSum(rec.PlanSHA256))}
	}
	return file, sum, nil
}

// setStatus records a plan's new status, logging if it cannot.
func (g *Gate) setStatus(id string, s plan.Status, note string) {
	if _, err := g.Store.Update(id, func(r *plan.Record) error {
		r.Status, r.StatusNote = s, note
		return nil
	}); err != nil {
		g.logger().Error("recording plan status", "plan_id", id, "status", s, "err", err)
	}
}

// supersede marks the stack's other pending plans superseded: they were
// made against a state that no longer exists, and Terraform would refuse them.
func (g *Gate) supersede(applied *plan.Record, client audit.Client) []string {
	recs, damaged, err := g.Store.ListAll()
	if err != nil {
		g.logger().Warn("listing plans to supersede", "err", err)
		return nil
	}
	for _, c := range damaged {
		// It cannot be approved or applied either: nothing to supersede,
		// but a human should know it is there.
		if c.Stack == "" || c.Stack == applied.Stack {
			g.logger().Warn("a plan record cannot be read, so it was not marked superseded", "plan_id", c.ID, "problem", c.Problem, "dir", c.Dir)
		}
	}
	var ids []string
	for _, r := range recs {
		if r.ID == applied.ID || r.Stack != applied.Stack {
			continue
		}
		if r.Status != plan.StatusAwaitingApproval && r.Status != plan.StatusBlocked {
			continue
		}
		note := "superseded by the apply of plan " + applied.ID
		if _, err := g.Store.Update(r.ID, func(x *plan.Record) error {
			x.Status, x.StatusNote = plan.StatusSuperseded, note
			return nil
		}); err != nil {
			g.logger().Warn("superseding plan", "plan_id", r.ID, "err", err)
			continue
		}
		ids = append(ids, r.ID)
		e := PlanEvent(audit.EventPlanSuperseded, r, client)
		e.Reason = note
		g.append(e)
	}
	return ids
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// agentPhrases turn a refusal written for the agent into one for a human
// at plangate approve: the human does not call tools, they ask the agent.
var agentPhrases = strings.NewReplacer(
	"Call plan_change for a fresh plan and have it approved", "Ask the agent for a new plan",
	"call plan_change for a fresh plan and have it approved", "ask the agent for a new plan",
	"call plan_change for a fresh plan", "ask the agent for a new plan",
	"call plan_change for a new plan", "ask the agent for a new plan",
	"Call plan_change for a new plan and have it approved", "Ask the agent for a new plan",
	"fix the problem and call plan_change again", "fix the problem and ask the agent for a new plan",
	"a new plan must be made (plan_change) and approved", "ask the agent for a new plan",
	"a new plan must be made (plan_change)", "ask the agent for a new plan",
	"Propose a smaller change, or ask a human to change the policy in plangate.hcl", "Ask the agent for a smaller change, or change the policy in plangate.hcl",
	"the agent calls plan_change for a new plan", "ask the agent for a new plan",
)

// ForHuman rewrites a refusal for the human who reads it in a terminal
// (plangate approve, show): "ask the agent for a new plan", never "call
// plan_change".
func ForHuman(reason string) string { return agentPhrases.Replace(reason) }
