package gate

import (
	"fmt"
	"strings"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/notify"
)

// Notifier takes a webhook message without blocking; *notify.Notifier is one.
type Notifier interface {
	Send(webhook string, msg notify.Message)
}

// notifyEvents are the audit events webhooks announce, and the names
// they announce them by.
var notifyEvents = map[audit.EventName]string{
	audit.EventPlanCreated: notify.EventPlanAwaitingApproval,
	audit.EventPlanBlocked: notify.EventPlanBlocked,
	audit.EventApplied:     notify.EventPlanApplied,
	audit.EventApplyFailed: notify.EventApplyFailed,
	audit.EventFreeze:      notify.EventStackFrozen,
}

// notify hands an audited event to the webhook of its stack, as the config
// is now. The message is built from the audit event's facts only — stack,
// plan id, counts and deleted addresses — never its reason, which may
// carry Terraform's words, nor anything of the plan's values.
func (g *Gate) notify(e audit.Event) {
	name, ok := notifyEvents[e.Event]
	if g.Notify == nil || !ok {
		return
	}
	cfg, err := g.Current()
	if err != nil {
		g.logger().Warn("no notification: the config cannot be read", "event", e.Event, "err", err)
		return
	}
	webhook := cfg.WebhookFor(e.Stack)
	if webhook == "" {
		return
	}
	m := notify.Message{Event: name, Stack: e.Stack, PlanID: e.PlanID}
	if c := e.Counts; c != nil {
		m.Counts = &notify.Counts{Add: c.Add, Change: c.Change, Destroy: c.Destroy}
	}
	m.SetDeletions(e.Deleted)
	if g.ReviewURL != nil && e.PlanID != "" {
		m.ReviewURL = g.ReviewURL(e.PlanID)
	}
	m.Text = notifyText(m)
	g.Notify.Send(webhook, m)
}

// notifyText is the message's Slack text: one line of the same facts.
func notifyText(m notify.Message) string {
	stack := m.Stack
	if stack == "" {
		stack = "every stack"
	}
	var b strings.Builder
	switch m.Event {
	case notify.EventPlanAwaitingApproval:
		fmt.Fprintf(&b, "plangate: plan %s of %s awaits approval", m.PlanID, stack)
	case notify.EventPlanBlocked:
		fmt.Fprintf(&b, "plangate: plan %s of %s is blocked by policy", m.PlanID, stack)
	case notify.EventPlanApplied:
		fmt.Fprintf(&b, "plangate: plan %s of %s applied", m.PlanID, stack)
	case notify.EventApplyFailed:
		fmt.Fprintf(&b, "plangate: the apply of plan %s of %s failed", m.PlanID, stack)
	case notify.EventStackFrozen:
		fmt.Fprintf(&b, "plangate: %s frozen: applies stop until unfrozen", stack)
	}
	if c := m.Counts; c != nil {
		fmt.Fprintf(&b, " (%d to add, %d to change, %d to destroy)", c.Add, c.Change, c.Destroy)
	}
	if n := len(m.Deletions) + m.More; n > 0 {
		fmt.Fprintf(&b, "; deletes %s", strings.Join(m.Deletions, ", "))
		if m.More > 0 {
			fmt.Fprintf(&b, " and %d more", m.More)
		}
	}
	if m.ReviewURL != "" {
		fmt.Fprintf(&b, " — review: %s", m.ReviewURL)
	}
	return b.String()
}

// NotifyFailed audits a notification given up on, naming the webhook's host only.
func (g *Gate) NotifyFailed(f notify.Failure) {
	g.append(audit.Event{Event: audit.EventNotifyFailed, Stack: f.Stack, PlanID: f.PlanID,
		Reason: fmt.Sprintf("%s notification to %s not delivered after %d attempts: %v", f.Event, f.Host, f.Attempts, f.Err)})
}
