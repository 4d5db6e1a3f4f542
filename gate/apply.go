package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// Outcome is the result of an apply that ran.
type Outcome struct {
	PlanID     string             `json:"plan_id"`
	Stack      string             `json:"stack"`
	Status     plan.Status        `json:"status"`
	Counts     plan.Counts        `json:"counts"`
	Deletions  int                `json:"deletions"`
	Deleted    []string           `json:"deleted" jsonschema:"every instance the plan destroys, replaced ones included"`
	Replaced   []string           `json:"replaced,omitempty" jsonschema:"the deleted instances that were created anew (replaced)"`
	Approvers  []string           `json:"approvers"`
	Outputs    []plan.StateOutput `json:"outputs"`
	Errors     []string           `json:"errors,omitempty"`
	Superseded []string           `json:"superseded,omitempty"`
	AWS        *plan.AWSIdentity  `json:"aws,omitempty" jsonschema:"the AWS identity the apply ran as (the apply role's session), checked with STS after the approvals verified"`
	Note       string             `json:"note,omitempty"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt time.Time          `json:"finished_at"`
}

// Apply verifies everything about the plan and its approval tokens and, if
// all holds, applies the saved plan. A refusal is a *Refusal (audited); a
// plan that Terraform fails to apply is an Outcome with status failed.
func (g *Gate) Apply(ctx context.Context, idOrPrefix string, tokens []string, client audit.Client, events func(plan.UIMessage)) (*Outcome, error) {
	id, err := g.Store.Resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	rec, err := g.get(id)
	if err != nil {
		return nil, err
	}
	cfg, err := g.Current()
	if err != nil {
		return nil, err
	}
	st, ok := cfg.Stack(rec.Stack)
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
	if rec, err = g.get(id); err != nil {
		return nil, err
	}
	// The config may have changed while this call waited for the stack:
	// what counts is the config as it is when the apply starts.
	if st, err = g.stackOf(rec); err != nil {
		var refusal *Refusal
		if errors.As(err, &refusal) {
			return nil, g.refuse(rec, client, nil, refusal.Reason+": nothing can be applied to it")
		}
		return nil, err
	}
	now := g.now()
	verified, planFile, err := g.check(rec, st, tokens, client, now)
	if err != nil {
		return nil, err
	}
	// What runs is the plan file: its own account must be the record's,
	// which the approvals and the policy were checked against.
	if _, err := g.review(ctx, rec, st, client); err != nil {
		var refusal *Refusal
		if errors.As(err, &refusal) {
			return nil, g.refuse(rec, client, verified, refusal.Reason+". The approval tokens were not used")
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The apply credentials come into play only now, with the approvals
	// verified, and only in the plan's account. A refusal here leaves the
	// tokens unspent.
	var applyCreds plan.Credentials
	var identity *plan.AWSIdentity
	guard := g.AWS.For(st)
	switch {
	case guard == nil && rec.AWS != nil:
		return nil, g.refuse(rec, client, verified, fmt.Sprintf("plan %s was made with the AWS identity guard (%s), but stack %q has no aws block in plangate.hcl any more: nothing ran and the approval tokens were not used. A human restores the aws block, or the agent calls plan_change for a new plan",
			rec.ID, rec.AWS, st.Name))
	case guard != nil && rec.AWS == nil:
		return nil, g.refuse(rec, client, verified, fmt.Sprintf("plan %s was made before stack %q had an aws block, so nobody checked which AWS account it was planned in: nothing ran. Call plan_change for a new plan and have it approved",
			rec.ID, st.Name))
	case guard != nil:
		session, err := guard.Apply(ctx, rec.ID)
		if err == nil {
			err = awsguard.CheckApplyAccount(awsguard.Identity{Account: rec.AWS.Account, ARN: rec.AWS.ARN}, session)
		}
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err() // cancelled while asking AWS: nothing ran, nothing to audit
		}
		if err != nil {
			return nil, g.refuse(rec, client, verified, strings.TrimSuffix(err.Error(), ".")+". The approval tokens were not used: once this is fixed, call apply_plan again with the same tokens")
		}
		g.logger().Info("aws identity checked", "stack", st.Name, "plan_id", rec.ID, "aws", session)
		applyCreds, identity = session.Apply, identityOf(session)
	}

	out := &Outcome{
		PlanID: rec.ID, Stack: rec.Stack, Counts: rec.Counts, Deletions: rec.Deletions(),
		Deleted: deletedAddresses(rec), Replaced: replacedAddresses(rec), Approvers: verified.Approvers, Outputs: []plan.StateOutput{}, StartedAt: now,
		AWS: identity,
	}
	// Apply events carry the apply's identity, plan events the plan's.
	event := func(name audit.EventName, reason string, errs []string) audit.Event {
		e := withReason(withApprovals(PlanEvent(name, rec, client), verified), reason, errs)
		if identity != nil {
			e.AWS = identity
		}
		return e
	}

	// Fail closed, in this order: apply_started in the audit log, the
	// tokens spent in the ledger, the record applying, then Terraform.
	// Each write is durable before the next step; if one fails, nothing
	// runs and the result names it.
	if g.Audit == nil {
		return nil, &Refusal{PlanID: rec.ID, Reason: "nothing ran and the approval tokens were not used: plangate has no audit log to record the apply in"}
	}
	if _, err := g.Audit.Append(event(audit.EventApplyStarted, "", nil)); err != nil {
		g.logger().Error("audit log: apply_started", "plan_id", rec.ID, "err", err)
		return nil, &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("nothing ran and the approval tokens were not used: the audit log could not be written (%v). A human fixes it (plangate audit verify), then call apply_plan again with the same tokens", err)}
	}
	if err := g.Ledger.Consume(verified.Uses); err != nil {
		var ref *approvals.RefusalError
		if errors.As(err, &ref) {
			return nil, g.refuse(rec, client, verified, ref.Reason)
		}
		return nil, g.refuse(rec, client, verified, fmt.Sprintf("nothing ran and the approval tokens were not used: the approvals ledger could not be written (%v). A human fixes it, then call apply_plan again with the same tokens", err))
	}
	run := &plan.ApplyRun{StartedAt: now, Plangate: plan.ThisProcess(), Approvers: verified.Approvers, TokenFingerprints: verified.Fingerprints, AWS: identity}
	if _, err := g.Store.Update(rec.ID, func(r *plan.Record) error {
		if r.Status != plan.StatusAwaitingApproval || r.Apply != nil {
			return fmt.Errorf("plan %s is %s now", r.ID, r.Status)
		}
		r.Status, r.StatusNote, r.Apply = plan.StatusApplying, "", run
		return nil
	}); err != nil {
		reason := fmt.Sprintf("nothing ran: the plan's record could not be marked applying (%v). The approval tokens are spent (the ledger was written first, so that they can never apply twice): "+
			"once a human fixes the state dir, the plan needs new approvals (plangate approve %s)", err, rec.ID)
		g.append(event(audit.EventApplyFailed, reason, nil))
		return nil, &Refusal{PlanID: rec.ID, Reason: reason}
	}
	g.logger().Info("applying plan", "plan_id", rec.ID, "stack", rec.Stack, "approvers", verified.Approvers)
	applying.Store(rec.ID, true)
	defer applying.Delete(rec.ID)

	creds := plan.WithCredentials(applyCreds)
	res, runErr := g.Runner.ApplySaved(ctx, st, planFile, creds, plan.Events(events), plan.OnStart(func(p plan.Process) {
		if _, err := g.Store.Update(rec.ID, func(r *plan.Record) error {
			if r.Apply != nil {
				r.Apply.Terraform = &p
			}
			return nil
		}); err != nil {
			g.logger().Warn("recording terraform's pid", "plan_id", rec.ID, "err", err)
		}
	}))
	out.FinishedAt = g.now()
	switch {
	case runErr != nil && res == nil:
		// Terraform never ran (init failed, terraform missing): nothing
		// was applied, and the plan's apply counts as done.
		note := "apply could not start: " + runErr.Error()
		g.append(event(audit.EventApplyFailed, runErr.Error(), nil))
		g.finish(out, rec.ID, plan.StatusFailed, note)
		return nil, runErr
	case res.Failed && ctx.Err() == nil && plan.LockErrorFrom(st.Name, st.Dir, res.Diagnostics) != nil:
		// Terraform stopped before changing anything (it could not take
		// the state lock): the plan is as it was, and may be approved
		// again; the tokens are spent.
		locked := plan.LockErrorFrom(st.Name, st.Dir, res.Diagnostics)
		locked.Product = rec.Product
		reason := locked.Error() + ". Nothing was applied and the plan still awaits approval, but the approval tokens are spent: " +
			"once the lock is free, a human approves it again with `plangate approve " + rec.ID + "`"
		if err := g.reopen(rec.ID); err != nil {
			g.logger().Error("reopening a plan after a state lock", "plan_id", rec.ID, "err", err)
			g.finish(out, rec.ID, plan.StatusFailed, "the state was locked by another run: nothing was applied")
			reason = locked.Error() + ". Nothing was applied; plangate could not reopen the plan for approval (" + err.Error() + "): call plan_change for a new plan"
		}
		g.append(event(audit.EventApplyRefused, reason, nil))
		return nil, &Refusal{PlanID: rec.ID, Reason: reason}
	case res.Failed:
		// Terraform's errors may quote values whose sensitive mark was
		// lost: mask with every secret the state and config hold. The
		// call's context may be cancelled (interrupted apply).
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		masker, stateErr := g.Runner.SecretsLocked(mctx, st, creds)
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
		tf := rec.Product
		out.Note = tf.String() + " reported errors while applying"
		name := audit.EventApplyFailed
		if ctx.Err() != nil || res.Interrupted {
			out.Status = plan.StatusInterrupted
			out.Note = "the apply was interrupted; " + tf.String() + " stopped gracefully (SIGINT), saved the state and released its lock. Run show_stack to see what exists, and plan again"
			if ctx.Err() == nil {
				out.Note = "the apply was interrupted from outside plangate (plangate freeze --stop, or a signal to " + tf.String() + "); " + tf.String() + " stopped gracefully, saved the state and released its lock. Run show_stack to see what exists, and plan again"
			}
			name = audit.EventApplyInterrupted
		} else if isStale(res.Diagnostics) {
			out.Status = plan.StatusSuperseded
			out.Note = tf.String() + " refused the plan: the state changed after it was planned (another apply). Call plan_change for a fresh plan"
		}
		g.finish(out, rec.ID, out.Status, out.Note)
		g.recordEvent(out, event(name, out.Note, out.Errors))
		return out, nil
	}

	out.Status = plan.StatusApplied
	g.finish(out, rec.ID, plan.StatusApplied, "applied with approval of "+strings.Join(verified.Approvers, ", "))
	g.recordEvent(out, event(audit.EventApplied, "", nil))
	out.Superseded = g.supersede(rec, client)
	if view, err := g.Runner.StateLocked(ctx, st, creds); err == nil {
		out.Outputs = view.Outputs
	} else {
		g.logger().Warn("reading outputs after apply", "stack", st.Name, "err", err)
	}
	return out, nil
}

// reopen puts a plan whose apply Terraform refused before changing
// anything (the state lock) back to awaiting approval: its journal goes,
// so that the next approved apply can start.
func (g *Gate) reopen(id string) error {
	if err := plan.ClearJournal(g.Store.Dir(id)); err != nil {
		return err
	}
	_, err := g.Store.Update(id, func(r *plan.Record) error {
		r.Status, r.StatusNote, r.Apply = plan.StatusAwaitingApproval, "", nil
		return nil
	})
	return err
}

// finish records an apply's outcome; if the record cannot be written,
// the result says so (the next plangate reads the outcome again from the
// apply's journal, so the plan is never left looking unapplied).
func (g *Gate) finish(out *Outcome, id string, s plan.Status, note string) {
	if _, err := g.Store.Update(id, func(r *plan.Record) error {
		r.Status, r.StatusNote = s, note
		return nil
	}); err != nil {
		g.logger().Error("recording the apply's outcome", "plan_id", id, "status", s, "err", err)
		out.Note = joinNote(out.Note, fmt.Sprintf("plangate could not record the outcome in the plan's record (%v): it shows applying until plangate records it (it retries every few seconds, and at every look at the plan)", err))
		pendingOf(id).set(func(p *pendingOutcome) { p.status, p.note = s, note })
	}
}

// recordEvent audits an apply's outcome, saying so in the result if the
// audit log cannot be written.
func (g *Gate) recordEvent(out *Outcome, e audit.Event) {
	defer g.notify(e)
	if g.Audit == nil {
		return
	}
	if _, err := g.Audit.Append(e); err != nil {
		g.logger().Error("writing audit log", "event", e.Event, "err", err)
		out.Note = joinNote(out.Note, fmt.Sprintf("the audit log could not be written (%v): plangate retries the %s event every few seconds", err, e.Event))
		pendingOf(out.PlanID).set(func(p *pendingOutcome) { p.event = &e })
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + ". " + b
}

// check runs every check before the ledger, in order: the kill switch,
// whether the plan can be approved (Approvable), and the approval tokens.
// A refusal is an audited *Refusal.
func (g *Gate) check(rec *plan.Record, st *config.Stack, tokens []string, client audit.Client, now time.Time) (*approvals.Verified, string, error) {
	cfg, err := g.Current()
	if err != nil {
		return nil, "", err
	}
	if f, err := freeze.Check(cfg.StateDir, st.Name); err != nil {
		return nil, "", err
	} else if f != nil {
		return nil, "", g.refuse(rec, client, nil, f.Refusal())
	}
	chk, err := g.Approvable(rec, st, now)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		return nil, "", g.refuse(rec, client, nil, refusal.Reason)
	}
	if err != nil {
		return nil, "", err
	}
	verified, err := approvals.Verify(tokens, approvals.PlanFacts{
		ID: rec.ID, Stack: rec.Stack, SHA256: chk.SHA256, ExpiresAt: chk.ExpiresAt, Required: chk.Required,
	}, cfg.Approvers, g.Ledger, now)
	if err != nil {
		var ref *approvals.RefusalError
		if errors.As(err, &ref) {
			return nil, "", g.refuse(rec, client, nil, ref.Reason+g.pendingApproverNote(tokens))
		}
		return nil, "", err
	}
	return verified, chk.PlanFile, nil
}

func (g *Gate) refuse(rec *plan.Record, client audit.Client, v *approvals.Verified, reason string) error {
	g.append(withReason(withApprovals(PlanEvent(audit.EventApplyRefused, rec, client), v), reason, nil))
	g.logger().Info("apply refused", "plan_id", rec.ID, "stack", rec.Stack, "reason", reason)
	return &Refusal{PlanID: rec.ID, Reason: reason}
}

func isStale(diags []plan.Diagnostic) bool {
	for _, d := range diags {
		if strings.Contains(d.Summary, "Saved plan is stale") {
			return true
		}
	}
	return false
}

// pendingApproverNote explains a token refusal whose approver the file
// adds but nobody accepted: "" when no token is such.
func (g *Gate) pendingApproverNote(tokens []string) string {
	s, err := g.ConfigState()
	if err != nil || s == nil {
		return ""
	}
	for _, text := range tokens {
		if tok, err := approvals.Parse(text); err == nil && s.PendingApprover(tok.Claims.Approver) {
			return fmt.Sprintf(". Approver %q is in plangate.hcl but not accepted: a change that adds an approver waits until an accepted approver accepts it, so its tokens count for nothing until then", tok.Claims.Approver)
		}
	}
	return ""
}
