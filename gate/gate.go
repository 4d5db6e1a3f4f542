// Package gate owns every state change of a plan: it proposes plans
// (Terraform plans them, policy judges them, the store records them), says
// whether one can be approved, discards them, and applies them only after
// checking the kill switch, the plan's status and expiry, the stack's
// policy as configured now, the plan file's hash and the human approvals.
// Every change lands in the audit log.
//
// The plan package runs Terraform and reads what it writes; approvals
// checks tokens and evaluates policy over its own facts; gate is where
// they meet, and the only package that changes a plan's status.
package gate

import (
	"log/slog"
	"sync"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// Gate proposes, discards and applies plans.
type Gate struct {
	// Config is the config of a gate without Live (tests, one-shot tools).
	Config *config.Config
	// Live, when set, is plangate.hcl re-read on every call and merged
	// with the last accepted config (config.Merge): what the gate
	// enforces. It takes precedence over Config.
	Live   *config.Live
	Store  *plan.Store
	Runner *plan.Runner
	Ledger *approvals.Ledger
	Audit  *audit.Log
	Logger *slog.Logger
	// AWS makes the identity guard of stacks with an aws block (nil: the
	// default options).
	AWS *awsguard.Guards
	// Notify, when set, is sent the events webhooks announce (notify.go);
	// nil means no notifications.
	Notify Notifier
	// ReviewURL, when set, gives the review page of a plan (without its
	// secret) for the notifications' review_url.
	ReviewURL func(planID string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// applying holds the ids of the plans this process is applying now (any
// Gate of it): another Gate of the same process must not settle them.
var applying sync.Map

// Refusal is a request that plangate refused: an apply, an approval or a
// discard of a plan that cannot have it. Reason says why and what a human
// can do; it never contains a token.
type Refusal struct {
	PlanID string
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

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
	return slog.New(slog.DiscardHandler)
}

// append writes an audit event, logging (not failing the call) if it can't.
func (g *Gate) append(e audit.Event) {
	if g.Audit == nil {
		return
	}
	if _, err := g.Audit.Append(e); err != nil {
		g.logger().Error("writing audit log", "event", e.Event, "err", err)
	}
	g.notify(e)
}

// Current returns the config the gate enforces at this moment.
func (g *Gate) Current() (*config.Config, error) {
	if g.Live == nil {
		return g.Config, nil
	}
	s, err := g.Live.Load()
	if err != nil {
		return nil, err
	}
	return s.Config, nil
}

// ConfigState returns the live config's reading (nil without Live): the
// changes that wait for acceptance, and the file as written.
func (g *Gate) ConfigState() (*config.State, error) {
	if g.Live == nil {
		return nil, nil
	}
	return g.Live.Load()
}
