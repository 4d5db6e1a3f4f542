package gate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
)

// An apply outlives the plangate that started it (plan.ApplySaved runs
// Terraform detached). The plangate that touches the plan next finds it
// applying and, once neither that plangate nor Terraform runs any more,
// records how it ended from the apply's journal.

// RecoverApplies settles every applying plan whose plangate and Terraform
// are gone, and returns the ids of those still running somewhere.
func (g *Gate) RecoverApplies() (running []string) {
	g.retryUnrecorded()
	recs, err := g.Store.List()
	if err != nil {
		g.logger().Warn("listing plans to recover applies", "err", err)
		return nil
	}
	for _, r := range recs {
		if r.Status != plan.StatusApplying {
			continue
		}
		if _, settled := g.recoverApply(r); !settled {
			running = append(running, r.ID)
		}
	}
	return running
}

// WatchApplies settles applies that other processes left running, as
// they end, until ctx ends: a server started while Terraform still runs
// records the outcome without waiting for anyone to ask.
func (g *Gate) WatchApplies(ctx context.Context, every time.Duration) {
	ids := g.RecoverApplies()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.retryUnrecorded()
		var still []string
		for _, id := range ids {
			rec, err := g.Store.Get(id)
			if err != nil || rec.Status != plan.StatusApplying {
				continue
			}
			if _, settled := g.recoverApply(rec); !settled {
				still = append(still, id)
			}
		}
		ids = still
	}
}

// An outcome this process knows but could not write (a full disk): the
// record's status and the audit event are retried until they land.
type pendingOutcome struct {
	mu           sync.Mutex
	status       plan.Status
	note         string
	event        *audit.Event
	statusLanded bool
}

var unrecorded sync.Map // plan id -> *pendingOutcome

func pendingOf(id string) *pendingOutcome {
	p, _ := unrecorded.LoadOrStore(id, &pendingOutcome{})
	return p.(*pendingOutcome)
}

func (p *pendingOutcome) set(fn func(*pendingOutcome)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

// retryUnrecorded writes the outcomes this process could not write.
func (g *Gate) retryUnrecorded() {
	unrecorded.Range(func(k, v any) bool {
		id, p := k.(string), v.(*pendingOutcome)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.status != "" && !p.statusLanded {
			_, err := g.Store.Update(id, func(r *plan.Record) error {
				if r.Status == plan.StatusApplying {
					r.Status, r.StatusNote = p.status, p.note
				}
				return nil
			})
			if err != nil {
				return true
			}
			p.statusLanded = true
			g.logger().Info("recorded an apply's outcome late", "plan_id", id, "status", p.status)
		}
		if p.event != nil && g.Audit != nil {
			if _, err := g.Audit.Append(*p.event); err != nil {
				return true
			}
			p.event = nil
		}
		unrecorded.Delete(id)
		return true
	})
}

// recoverApply settles one applying plan if nobody runs it any more. It
// returns the record as it is now, and whether it is settled.
func (g *Gate) recoverApply(rec *plan.Record) (*plan.Record, bool) {
	if rec.Status != plan.StatusApplying {
		return rec, true
	}
	a := rec.Apply
	if _, known := unrecorded.Load(rec.ID); known {
		return rec, false // this process knows the outcome: retryUnrecorded writes it
	}
	if _, ours := applying.Load(rec.ID); ours {
		return rec, false // this process is applying it
	}
	if a != nil && a.Plangate.Running() && a.Plangate != plan.ThisProcess() {
		return rec, false // another live plangate follows it
	}
	if a != nil && a.Terraform != nil && a.Terraform.Running() {
		return rec, false // Terraform still applies; its journal says how it ends
	}
	j, err := plan.ReadJournal(g.Store.Dir(rec.ID))
	if err != nil {
		g.logger().Warn("reading an apply's journal", "plan_id", rec.ID, "err", err)
		return rec, false
	}
	status, note := journalOutcome(j, rec.Product)
	updated, err := g.Store.Update(rec.ID, func(r *plan.Record) error {
		if r.Status != plan.StatusApplying {
			return errSettled
		}
		r.Status, r.StatusNote = status, note
		return nil
	})
	if err == errSettled {
		return updated, true
	}
	if err != nil {
		g.logger().Warn("recording a recovered apply", "plan_id", rec.ID, "err", err)
		return rec, false
	}
	e := PlanEvent(audit.EventApplyRecovered, updated, audit.Client{})
	e.Reason = string(status) + ": " + note
	if a != nil {
		e.Approvers, e.TokenFingerprints = a.Approvers, a.TokenFingerprints
		if a.AWS != nil {
			e.AWS = a.AWS
		}
	}
	g.append(e)
	// Webhooks hear how it ended, as they would have from the apply.
	ended := e
	ended.Event = audit.EventApplyFailed
	if status == plan.StatusApplied {
		ended.Event = audit.EventApplied
	}
	g.notify(ended)
	g.logger().Info("apply recovered", "plan_id", rec.ID, "status", status)
	if status == plan.StatusApplied {
		g.supersede(updated, audit.Client{})
	}
	return updated, true
}

var errSettled = fmt.Errorf("already settled")

// journalOutcome says how an apply ended from its journal alone.
func journalOutcome(j *plan.Journal, tf tfbin.Product) (plan.Status, string) {
	const check = "check what exists with show_stack before planning again"
	switch {
	case !j.Started:
		return plan.StatusInterrupted, "plangate stopped before " + tf.String() + " started: nothing was applied, but " + check
	case j.Applied && !j.Failed():
		return plan.StatusApplied, "applied; plangate stopped during the apply and recorded it afterwards from the apply's journal"
	case j.Interrupted:
		return plan.StatusInterrupted, "the apply was interrupted (SIGINT) while plangate was gone; " + tf.String() + " stopped gracefully and saved the state: " + check
	case j.Failed():
		var errs []string
		for _, d := range j.Diagnostics {
			if d.Severity == "error" {
				errs = append(errs, d.Summary)
			}
		}
		msg := tf.String() + " reported errors while applying"
		if len(errs) > 0 {
			msg += " (" + strings.Join(errs, "; ") + ")"
		}
		return plan.StatusFailed, msg + "; plangate stopped during the apply and recorded it afterwards. " + check
	default:
		return plan.StatusInterrupted, fmt.Sprintf("the apply stopped without an outcome (plangate and %s are gone; %d resource(s) had completed): the state may hold part of the plan; %s",
			tf, len(j.Done), check)
	}
}

// get reads a plan's record, writing first an outcome this process could
// not write, and settling an apply whose plangate and
// Terraform are gone: a plan is never judged on a stale applying.
func (g *Gate) get(idOrPrefix string) (*plan.Record, error) {
	rec, err := g.Store.Get(idOrPrefix)
	if err != nil || rec.Status != plan.StatusApplying {
		return rec, err
	}
	g.retryUnrecorded()
	if rec, err = g.Store.Get(rec.ID); err != nil || rec.Status != plan.StatusApplying {
		return rec, err
	}
	rec, _ = g.recoverApply(rec)
	return rec, nil
}
