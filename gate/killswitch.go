package gate

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// Frozen is what a freeze did.
type Frozen struct {
	Freeze *freeze.Freeze `json:"freeze"`
	// Message is the freeze as the agent will see it.
	Message string `json:"message"`
	// Stopped lists the plans whose applies were interrupted (--stop);
	// StopErrors says which could not be.
	Stopped    []string `json:"stopped,omitempty"`
	StopErrors []string `json:"stop_errors,omitempty"`
}

// Freeze sets the kill switch on stack ("" every stack) as by, and with
// stop interrupts the applies in flight on it (SIGINT to their
// Terraform). It is audited (freeze, naming what it stopped).
func (g *Gate) Freeze(stack, reason, by string, stop bool) (*Frozen, error) {
	cfg, err := g.Current()
	if err != nil {
		return nil, err
	}
	if stack != "" {
		if _, ok := cfg.Stack(stack); !ok {
			return nil, fmt.Errorf("unknown stack %q: the configured stacks are %v", stack, cfg.StackNames())
		}
	}
	f, err := freeze.Set(cfg.StateDir, stack, reason, by, g.now())
	if err != nil {
		return nil, err
	}
	out := &Frozen{Freeze: f, Message: f.Error()}
	auditReason := reason
	if stop {
		out.Stopped, out.StopErrors = g.stopApplies(stack)
		if len(out.Stopped) > 0 {
			auditReason += " (--stop: interrupted the apply of " + strings.Join(out.Stopped, ", ") + ")"
		}
	}
	if g.Audit == nil {
		return out, fmt.Errorf("frozen, but there is no audit log")
	}
	e := audit.Event{Event: audit.EventFreeze, Stack: stack, Actor: by, Reason: auditReason}
	if _, err := g.Audit.Append(e); err != nil {
		return out, fmt.Errorf("frozen, but the audit log failed: %w", err)
	}
	g.notify(e)
	return out, nil
}

// stopApplies sends SIGINT to the Terraform of every apply in flight on
// the stack ("" every stack).
func (g *Gate) stopApplies(stack string) (stopped, failed []string) {
	recs, err := g.Store.List()
	if err != nil {
		return nil, []string{"could not list the plans to stop their applies: " + err.Error()}
	}
	for _, r := range recs {
		if r.Status != plan.StatusApplying || stack != "" && r.Stack != stack || r.Apply == nil || r.Apply.Terraform == nil || !r.Apply.Terraform.Running() {
			continue
		}
		if err := syscall.Kill(r.Apply.Terraform.PID, syscall.SIGINT); err != nil {
			failed = append(failed, fmt.Sprintf("could not interrupt the apply of plan %s (terraform pid %d): %v", r.ID, r.Apply.Terraform.PID, err))
			continue
		}
		stopped = append(stopped, r.ID)
	}
	return stopped, failed
}

// WaitStopped waits (up to limit) for interrupted applies to end, and
// returns each plan as it ended.
func (g *Gate) WaitStopped(ids []string, limit time.Duration) []*plan.Record {
	deadline := time.Now().Add(limit)
	var out []*plan.Record
	for _, id := range ids {
		for time.Now().Before(deadline) {
			// The plangate that ran it records the outcome; if it is
			// gone, this one does.
			g.RecoverApplies()
			cur, err := g.Store.Get(id)
			if err != nil {
				break
			}
			if cur.Status != plan.StatusApplying {
				out = append(out, cur)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return out
}

// Unfreeze lifts the freeze of stack ("" the all-stacks one) on the
// strength of req, an approver-signed unfreeze request for it. The
// request acts once (its nonce is spent in the ledger), and the unfreeze
// is audited with the approver. had is false when nothing was frozen
// (then nothing is spent).
func (g *Gate) Unfreeze(stack, req string) (approver string, had bool, err error) {
	cfg, err := g.Current()
	if err != nil {
		return "", false, err
	}
	f, err := freeze.Check(cfg.StateDir, stack)
	if err != nil {
		return "", false, err
	}
	if f == nil || f.Stack != stack {
		return "", false, nil
	}
	subject := stack
	if subject == "" {
		subject = approvals.SubjectAllStacks
	}
	now := g.now()
	claims, err := approvals.VerifyRequest(req, approvals.ActionUnfreeze, subject, cfg.Approvers, now)
	if err != nil {
		return "", true, err
	}
	// A signed request acts once: its nonce is spent like a token's.
	if err := g.Ledger.Consume([]approvals.NonceUse{{Nonce: claims.Nonce, Approver: claims.Approver, Fingerprint: approvals.Fingerprint(req), UsedAt: now}}); err != nil {
		return "", true, err
	}
	had, err = freeze.Clear(cfg.StateDir, stack)
	if err != nil || !had {
		return claims.Approver, had, err
	}
	// The request's fingerprint, never the request, goes on the record.
	ev := audit.Event{Event: audit.EventUnfreeze, Stack: stack, Actor: claims.Approver, TokenFingerprints: []string{approvals.Fingerprint(req)}}
	if g.Audit == nil {
		return claims.Approver, true, fmt.Errorf("unfrozen, but there is no audit log")
	}
	if _, err := g.Audit.Append(ev); err != nil {
		return claims.Approver, true, fmt.Errorf("unfrozen, but the audit log failed: %w", err)
	}
	return claims.Approver, true, nil
}
