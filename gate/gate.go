// Package gate is the one way a plan is applied. It checks the kill
// switch, the plan's status and expiry, the stack's policy as configured
// now, the plan file's hash and the human approvals, records the approval
// tokens' nonces as used, and only then runs `terraform apply` on the saved
// plan. Every step lands in the audit log.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// Gate applies approved plans.
type Gate struct {
	Config *config.Config
	Store  *plan.Store
	Runner *plan.Runner
	Ledger *approvals.Ledger
	Audit  *audit.Log
	Logger *slog.Logger
	// AWS makes the identity guard of stacks with an aws block (nil: the
	// default options).
	AWS *awsguard.Guards
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Refusal is an apply that plangate refused. Reason says why and what a
// human can do; it never contains a token.
type Refusal struct {
	PlanID string
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Outcome is the result of an apply that ran.
type Outcome struct {
	PlanID     string             `json:"plan_id"`
	Stack      string             `json:"stack"`
	Status     plan.Status        `json:"status"`
	Counts     plan.Counts        `json:"counts"`
	Deletions  int                `json:"deletions"`
	Deleted    []string           `json:"deleted"`
	Approvers  []string           `json:"approvers"`
	Outputs    []plan.StateOutput `json:"outputs"`
	Errors     []string           `json:"errors,omitempty"`
	Superseded []string           `json:"superseded,omitempty"`
	AWS        *plan.AWSIdentity  `json:"aws,omitempty" jsonschema:"the AWS identity the apply ran as (the apply role's session), checked with STS after the approvals verified"`
	Note       string             `json:"note,omitempty"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt time.Time          `json:"finished_at"`
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

func (g *Gate) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Apply verifies everything about the plan and its approval tokens and, if
// all holds, applies the saved plan. A refusal is a *Refusal (audited); a
// plan that Terraform fails to apply is an Outcome with status failed.
func (g *Gate) Apply(ctx context.Context, idOrPrefix string, tokens []string, client audit.Client, events func(plan.UIMessage)) (*Outcome, error) {
	id, err := g.Store.Resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	rec, err := g.Store.Get(id)
	if err != nil {
		return nil, err
	}
	st, ok := g.Config.Stack(rec.Stack)
	if !ok {
		return nil, g.refuse(rec, client, nil, fmt.Sprintf("stack %q of plan %s is no longer in plangate.hcl: nothing can be applied to it", rec.Stack, rec.ID))
	}

	if len(tokens) == 0 {
		// Nothing to verify, so nothing to wait for: refuse (audited)
		// without queueing behind the stack's running plan or apply.
		if _, _, err := g.check(rec, st, tokens, client, g.now()); err != nil {
			return nil, err
		}
	}

	// One apply per stack at a time: two racing apply_plan calls with the
	// same token serialize here, and the second finds the nonce used.
	unlock, err := g.Runner.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if rec, err = g.Store.Get(id); err != nil {
		return nil, err
	}
	now := g.now()
	verified, planFile, err := g.check(rec, st, tokens, client, now)
	if err != nil {
		return nil, err
	}
	// The apply credentials come into play only now, with the approvals
	// verified, and only in the plan's account. A refusal here leaves the
	// tokens unspent.
	var creds plan.Credentials
	var identity *plan.AWSIdentity
	guard := g.AWS.For(st)
	switch {
	case guard == nil && rec.Summary.AWS != nil:
		return nil, g.refuse(rec, client, verified, fmt.Sprintf("plan %s was made with the AWS identity guard (%s), but stack %q has no aws block in plangate.hcl any more: nothing ran and the approval tokens were not used. A human restores the aws block, or the agent calls plan_change for a new plan",
			rec.ID, rec.Summary.AWS, st.Name))
	case guard != nil && rec.Summary.AWS == nil:
		return nil, g.refuse(rec, client, verified, fmt.Sprintf("plan %s was made before stack %q had an aws block, so nobody checked which AWS account it was planned in: nothing ran. Call plan_change for a new plan and have it approved",
			rec.ID, st.Name))
	case guard != nil:
		session, err := guard.Apply(ctx, rec.ID)
		if err == nil {
			err = awsguard.CheckApplyAccount(awsguard.Identity{Account: rec.Summary.AWS.Account, ARN: rec.Summary.AWS.ARN}, session)
		}
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err() // cancelled while asking AWS: nothing ran, nothing to audit
		}
		if err != nil {
			return nil, g.refuse(rec, client, verified, strings.TrimSuffix(err.Error(), ".")+". The approval tokens were not used: once this is fixed, call apply_plan again with the same tokens")
		}
		g.logger().Info("aws identity checked", "stack", st.Name, "plan_id", rec.ID, "aws", session)
		creds, identity = session.Apply, plan.IdentityOf(session)
	}

	// The tokens are spent before terraform starts, durably: a crash from
	// here on can never let them be used twice.
	if err := g.Ledger.Consume(verified.Uses); err != nil {
		var ref *approvals.RefusalError
		if errors.As(err, &ref) {
			return nil, g.refuse(rec, client, verified, ref.Reason)
		}
		return nil, err
	}

	out := &Outcome{
		PlanID: rec.ID, Stack: rec.Stack, Counts: rec.Summary.Counts, Deletions: rec.Summary.Deletions,
		Deleted: deletedAddresses(rec), Approvers: verified.Approvers, Outputs: []plan.StateOutput{}, StartedAt: now,
		AWS: identity,
	}
	// Apply events carry the apply's identity, plan events the plan's.
	event := func(name, reason string, errs []string) audit.Event {
		e := g.eventWithErrors(name, rec, client, verified, reason, errs)
		if identity != nil {
			e.AWS = identity
		}
		return e
	}
	g.append(event("apply_started", "", nil))
	g.logger().Info("applying plan", "plan_id", rec.ID, "stack", rec.Stack, "approvers", verified.Approvers)

	run := plan.WithCredentials(creds)
	res, runErr := g.Runner.ApplySaved(ctx, st, planFile, events, run)
	out.FinishedAt = g.now()
	switch {
	case runErr != nil && res == nil:
		// Terraform never ran (init failed, terraform missing): the plan
		// stays as it was; the tokens are spent.
		g.append(event("apply_failed", runErr.Error(), nil))
		g.setStatus(rec.ID, plan.StatusFailed, "apply could not start: "+runErr.Error())
		return nil, runErr
	case res.Failed && ctx.Err() == nil && plan.LockErrorFrom(st.Name, st.Dir, res.Diagnostics) != nil:
		// Terraform stopped before changing anything: the plan stays
		// valid, but the tokens are spent.
		locked := plan.LockErrorFrom(st.Name, st.Dir, res.Diagnostics)
		reason := locked.Error() + ". Nothing was applied and the plan still awaits approval, but the approval tokens are spent: " +
			"once the lock is free, a human approves it again with `plangate approve " + rec.ID + "`"
		g.append(event("apply_refused", reason, nil))
		return nil, &Refusal{PlanID: rec.ID, Reason: reason}
	case res.Failed:
		// Terraform's errors may quote values whose sensitive mark was
		// lost: mask with every secret the state and config hold. The
		// call's context may be cancelled (interrupted apply).
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		masker, stateErr := g.Runner.SecretsLocked(mctx, st, run)
		if stateErr != nil && guard != nil {
			// The apply session may have expired with the apply: read
			// the state as the plan role.
			if s, err := guard.Read(mctx, st.Name); err == nil {
				masker, stateErr = g.Runner.SecretsLocked(mctx, st, plan.WithCredentials(s.Apply))
			}
		}
		cancel()
		for _, d := range res.Diagnostics {
			if d.Severity != "error" {
				continue
			}
			if stateErr != nil {
				// Without the state's secrets to mask, only the summary
				// (Terraform's own words, with the resource) goes out.
				d.Detail = "(details withheld: plangate could not read the state to mask its secrets)"
			}
			out.Errors = append(out.Errors, masker.MaskText(d.String()))
		}
		out.Status = plan.StatusFailed
		out.Note = "Terraform reported errors while applying"
		name := "apply_failed"
		if ctx.Err() != nil {
			out.Status = plan.StatusInterrupted
			out.Note = "the apply was interrupted; Terraform stopped gracefully (SIGINT), saved the state and released its lock. Run show_stack to see what exists, and plan again"
			name = "apply_interrupted"
		} else if isStale(res.Diagnostics) {
			out.Status = plan.StatusSuperseded
			out.Note = "Terraform refused the plan: the state changed after it was planned (another apply). Call plan_change for a fresh plan"
		}
		g.setStatus(rec.ID, out.Status, out.Note)
		g.append(event(name, out.Note, out.Errors))
		return out, nil
	}

	out.Status = plan.StatusApplied
	g.setStatus(rec.ID, plan.StatusApplied, "applied with approval of "+strings.Join(verified.Approvers, ", "))
	g.append(event("applied", "", nil))
	out.Superseded = g.supersede(rec, client)
	if view, err := g.Runner.StateLocked(ctx, st, run); err == nil {
		out.Outputs = view.Outputs
	} else {
		g.logger().Warn("reading outputs after apply", "stack", st.Name, "err", err)
	}
	return out, nil
}

// check runs every check before the ledger, in order: the kill switch, the
// plan's status and expiry, the stack's policy as configured now, the plan
// file's hash, and the approval tokens. A refusal is an audited *Refusal.
func (g *Gate) check(rec *plan.Record, st *config.Stack, tokens []string, client audit.Client, now time.Time) (*approvals.Verified, string, error) {
	if f, err := freeze.Check(g.Config.StateDir, st.Name); err != nil {
		return nil, "", err
	} else if f != nil {
		return nil, "", g.refuse(rec, client, nil, f.Error())
	}
	if reason := StatusRefusal(rec, now); reason != "" {
		return nil, "", g.refuse(rec, client, nil, reason)
	}

	// Policy as configured now: a human may have tightened it since the plan.
	verdict := approvals.EvaluateFacts(st, rec.Summary.Deleted, rec.ManagedResources)
	if len(verdict.BlockedReasons) > 0 {
		return nil, "", g.refuse(rec, client, nil, "the stack's policy now blocks this plan: "+strings.Join(verdict.BlockedReasons, "; "))
	}
	required := max(verdict.ApprovalsRequired, rec.Summary.ApprovalsRequired)

	planFile := filepath.Join(g.Store.Dir(rec.ID), plan.PlanFile)
	sum, err := plan.FileSHA256(planFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", g.refuse(rec, client, nil, fmt.Sprintf("plan %s has no plan file any more: it cannot be applied; call plan_change for a new plan", rec.ID))
		}
		return nil, "", err
	}
	if sum != rec.PlanSHA256 {
		return nil, "", g.refuse(rec, client, nil, fmt.Sprintf("the plan file of %s changed after it was planned (SHA-256 %s…, recorded %s…): it will not be applied; call plan_change for a new plan and have it approved", rec.ID, sum[:12], shortSum(rec.PlanSHA256)))
	}

	verified, err := approvals.Verify(tokens, approvals.PlanFacts{
		ID: rec.ID, Stack: rec.Stack, SHA256: sum, ExpiresAt: rec.ExpiresAt, Required: required,
	}, g.Config.Approvers, g.Ledger, now)
	if err != nil {
		var ref *approvals.RefusalError
		if errors.As(err, &ref) {
			return nil, "", g.refuse(rec, client, nil, ref.Reason)
		}
		return nil, "", err
	}
	return verified, planFile, nil
}

// StatusRefusal says why a plan in its current status cannot be approved
// or applied; empty when it is awaiting approval.
func StatusRefusal(rec *plan.Record, now time.Time) string {
	switch rec.EffectiveStatus(now) {
	case plan.StatusAwaitingApproval:
		return ""
	case plan.StatusBlocked:
		return fmt.Sprintf("plan %s is blocked by policy and can never be applied: %s. Propose a smaller change, or ask a human to change the policy in plangate.hcl", rec.ID, strings.Join(rec.Summary.BlockedReasons, "; "))
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
	default:
		return fmt.Sprintf("plan %s is %s and cannot be applied", rec.ID, rec.Status)
	}
}

func isStale(diags []plan.Diagnostic) bool {
	for _, d := range diags {
		if strings.Contains(d.Summary, "Saved plan is stale") {
			return true
		}
	}
	return false
}

// supersede marks the stack's other pending plans superseded: they were
// made against a state that no longer exists, and Terraform would refuse them.
func (g *Gate) supersede(applied *plan.Record, client audit.Client) []string {
	recs, err := g.Store.List()
	if err != nil {
		g.logger().Warn("listing plans to supersede", "err", err)
		return nil
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
			x.Status, x.Summary.Status, x.StatusNote = plan.StatusSuperseded, plan.StatusSuperseded, note
			return nil
		}); err != nil {
			g.logger().Warn("superseding plan", "plan_id", r.ID, "err", err)
			continue
		}
		ids = append(ids, r.ID)
		g.append(g.event("plan_superseded", r, client, nil, note))
	}
	return ids
}

func (g *Gate) setStatus(id string, s plan.Status, note string) {
	if _, err := g.Store.Update(id, func(r *plan.Record) error {
		r.Status, r.Summary.Status, r.StatusNote = s, s, note
		return nil
	}); err != nil {
		g.logger().Error("recording plan status", "plan_id", id, "status", s, "err", err)
	}
}

func (g *Gate) refuse(rec *plan.Record, client audit.Client, v *approvals.Verified, reason string) error {
	g.append(g.event("apply_refused", rec, client, v, reason))
	g.logger().Info("apply refused", "plan_id", rec.ID, "stack", rec.Stack, "reason", reason)
	return &Refusal{PlanID: rec.ID, Reason: reason}
}

func (g *Gate) append(e audit.Event) {
	if g.Audit == nil {
		return
	}
	if _, err := g.Audit.Append(e); err != nil {
		g.logger().Error("writing audit log", "event", e.Event, "err", err)
	}
}

func (g *Gate) event(name string, rec *plan.Record, client audit.Client, v *approvals.Verified, reason string) audit.Event {
	return g.eventWithErrors(name, rec, client, v, reason, nil)
}

func (g *Gate) eventWithErrors(name string, rec *plan.Record, client audit.Client, v *approvals.Verified, reason string, errs []string) audit.Event {
	e := PlanEvent(name, rec, client)
	e.Reason = reason
	if len(errs) > 0 {
		e.Reason = strings.TrimSpace(reason + ": " + strings.Join(errs, "; "))
	}
	if v != nil {
		e.Approvers = v.Approvers
		e.TokenFingerprints = v.Fingerprints
	}
	return e
}

// PlanEvent is the audit event for a plan: its identity, counts and
// deletions, and who asked.
func PlanEvent(name string, rec *plan.Record, client audit.Client) audit.Event {
	counts := rec.Summary.Counts
	deletions := rec.Summary.Deletions
	e := audit.Event{
		Event: name, Stack: rec.Stack, PlanID: rec.ID, PlanSHA256: rec.PlanSHA256,
		Counts: &counts, Deletions: &deletions, Deleted: deletedAddresses(rec), AWS: rec.Summary.AWS,
	}
	if client.Name != "" || client.Version != "" {
		c := client
		e.Client = &c
	}
	return e
}

// PlanCreatedEvent names the audit event for a newly recorded plan.
func PlanCreatedEvent(rec *plan.Record) string {
	switch rec.Status {
	case plan.StatusBlocked:
		return "plan_blocked"
	case plan.StatusFailed:
		return "plan_failed"
	case plan.StatusNoChanges:
		return "plan_no_changes"
	default:
		return "plan_created"
	}
}

func deletedAddresses(rec *plan.Record) []string {
	out := make([]string, 0, len(rec.Summary.Deleted))
	for _, d := range rec.Summary.Deleted {
		a := d.Address
		if d.Deposed != "" {
			a += " (deposed " + d.Deposed + ")"
		}
		out = append(out, a)
	}
	return out
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
