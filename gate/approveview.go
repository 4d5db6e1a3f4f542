package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// ApproveView is what a human reviews before signing an approval: the
// facts derived from the plan file's own bytes, and what else bears on
// the decision. plangate approve renders it, on the server's machine or,
// fetched over the wire (plangate server), on the approver's own.
type ApproveView struct {
	Record *plan.Record  `json:"record"`
	Stack  *config.Stack `json:"stack"`
	// Summary is the plan's summary with its diff, both derived from the
	// plan file (as recorded when the plan cannot be approved).
	Summary plan.Summary `json:"summary"`
	// SHA256 is the hash of the bytes the facts were derived from.
	SHA256 string `json:"sha256,omitempty"`
	// Check is the approval check as of now; nil when Refusal is set.
	Check *Approvable `json:"check,omitempty"`
	// Refusal says, to a human, why the plan cannot be approved.
	Refusal string `json:"refusal,omitempty"`
	// StateDirWarning: the state_dir lies inside a git work tree.
	StateDirWarning string `json:"state_dir_warning,omitempty"`
	// ConfigNote: plangate.hcl changes await acceptance.
	ConfigNote string `json:"config_note,omitempty"`
	// NoFacts: the plan file does not say what the record does (or is
	// gone): Summary is empty, since nothing in it could be trusted.
	NoFacts bool            `json:"no_facts,omitempty"`
	Prior   []PriorApproval `json:"prior,omitempty"`
	// Frozen describes a freeze in force on the stack ("" none).
	Frozen string `json:"frozen,omitempty"`
	// Approvers are the names of the approvers in force.
	Approvers []string `json:"approvers"`
}

// ApproveView builds the view of a plan for its approver. A plan that
// cannot be approved is a view with Refusal set (its summary as
// recorded); errors are the store's, Terraform's or the config's.
func (g *Gate) ApproveView(ctx context.Context, idOrPrefix string, colour bool, client audit.Client) (*ApproveView, error) {
	cfg, err := g.Current()
	if err != nil {
		return nil, err
	}
	rec, err := g.get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	now := g.now()
	v := &ApproveView{Record: rec, Approvers: []string{}}
	for _, a := range cfg.Approvers {
		v.Approvers = append(v.Approvers, a.Name)
	}
	if st, ok := cfg.Stack(rec.Stack); ok {
		v.Stack = st
	}
	recorded := func(reason string) (*ApproveView, error) {
		page, err := g.Store.ReadDiff(rec.ID, 0, plan.AllOfIt)
		if err != nil {
			return nil, err
		}
		v.Summary = rec.Summary(now).WithDiff(page)
		v.Refusal = ForHuman(reason)
		return v, nil
	}
	if reason := StatusRefusal(rec, now); reason != "" {
		return recorded(reason)
	}
	// What the human reads is what the plan file itself says, read
	// again from its bytes: never the record, diff.txt or plan.json.
	rv, err := g.Review(ctx, rec.ID, client)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		if rec, err = g.Store.Get(rec.ID); err == nil {
			v.Record = rec
		}
		v.Refusal, v.NoFacts = ForHuman(refusal.Reason), true
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	rec, v.Record, v.Stack, v.SHA256 = rv.Record, rv.Record, rv.Stack, rv.SHA256
	var diff strings.Builder
	render := []plan.RenderOption{plan.ForProduct(rec.Product)}
	// The schemas kept when the plan was made shape the text, never what
	// it says (plan/schema.go); a plan without them renders as JSON.
	if s, err := plan.LoadSchemas(g.Store.Dir(rec.ID)); err == nil {
		render = append(render, plan.WithSchemas(s))
	} else {
		g.logger().Warn("the plan's provider schemas cannot be read: rendering its values as JSON", "plan_id", rec.ID, "err", err)
	}
	if colour {
		render = append(render, plan.WithColour())
	}
	if err := rv.Analysis.RenderDiff(&diff, render...); err != nil {
		return nil, err
	}
	v.Summary = rec.Summary(now).WithDiff(plan.DiffPage{Text: diff.String(), Total: diff.Len()})
	// The inputs' values too are the file's; their origins, the record's.
	v.Summary.Inputs = rv.Analysis.Inputs(v.Summary.Inputs)
	v.StateDirWarning = cfg.StateDirWarning()
	if cs, err := g.ConfigState(); err == nil && cs != nil {
		v.ConfigNote = cs.PendingNote()
	}
	chk, err := g.Approvable(rec, rv.Stack, now)
	if errors.As(err, &refusal) {
		v.Refusal = ForHuman(refusal.Reason)
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	v.Check = chk
	if prior, err := g.PriorApprovals(rec.ID); err == nil {
		v.Prior = prior
	}
	if f, err := freeze.Check(cfg.StateDir, rv.Stack.Name); err == nil && f != nil {
		v.Frozen = f.Error()
	}
	return v, nil
}

// RecordApproval records an approval token signed elsewhere (on the
// approver's own machine; the server holds only public keys): it checks
// that the token is an approver's, for this plan's file, stack and
// expiry, and that the plan can be approved now, then audits it
// (plan_approved). The token is not spent: apply_plan spends it.
func (g *Gate) RecordApproval(idOrPrefix, token, actor string, client audit.Client) (*Approval, error) {
	cfg, err := g.Current()
	if err != nil {
		return nil, err
	}
	t, err := approvals.Parse(token)
	if err != nil {
		return nil, err
	}
	c := t.Claims
	a, ok := cfg.Approver(c.Approver)
	if !ok {
		if s, _ := g.ConfigState(); s != nil && s.PendingApprover(c.Approver) {
			return nil, fmt.Errorf("the token is signed as approver %q, who was added to %s (or given a new key or passkey) but is not accepted yet: "+
				"an accepted approver reviews the change with plangate config status and accepts it with plangate config accept; until then %s's approvals count for nothing", c.Approver, cfg.Path, c.Approver)
		}
		return nil, fmt.Errorf("the token is signed as approver %q, who is not an approver of this plangate (approvers: %s)", c.Approver, strings.Join(approverNames(cfg), ", "))
	}
	if _, err := t.VerifyBy(a); err != nil {
		return nil, fmt.Errorf("the token claims to be from %s, but %s", c.Approver, err)
	}
	rec, err := g.get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	st, err := g.stackOf(rec)
	if err != nil {
		return nil, err
	}
	chk, err := g.Approvable(rec, st, g.now())
	if err != nil {
		return nil, err
	}
	return g.recordApproval(rec, chk, t, actor, client)
}

// recordApproval checks that token t is for rec as chk found it (file,
// stack, expiry) and audits it: what RecordApproval and Approve share.
func (g *Gate) recordApproval(rec *plan.Record, chk *Approvable, t *approvals.Token, actor string, client audit.Client) (*Approval, error) {
	c := t.Claims
	switch {
	case c.PlanID != rec.ID || c.Stack != rec.Stack:
		return nil, fmt.Errorf("the token is for plan %s of stack %s, not plan %s of stack %s", c.PlanID, c.Stack, rec.ID, rec.Stack)
	case c.PlanSHA256 != chk.SHA256:
		return nil, fmt.Errorf("the token signs plan file SHA-256 %s…, but the plan's file is %s…: review the plan again", shortSum(c.PlanSHA256), shortSum(chk.SHA256))
	case time.Unix(c.ExpiresAt, 0).After(chk.ExpiresAt):
		return nil, fmt.Errorf("the token expires after the plan does (%s): sign it again", chk.ExpiresAt.Format(time.RFC3339))
	case !time.Unix(c.ExpiresAt, 0).After(g.now()):
		return nil, errors.New("the token has expired: sign it again")
	}
	ev := PlanEvent(audit.EventPlanApproved, rec, client)
	ev.Approvers = []string{c.Approver}
	ev.TokenFingerprints = []string{t.Fingerprint()}
	ev.Actor = actor
	if g.Audit == nil {
		return nil, errors.New("no audit log: the approval is not recorded")
	}
	if _, err := g.Audit.Append(ev); err != nil {
		return nil, fmt.Errorf("audit log: %w (the approval is not recorded)", err)
	}
	return &Approval{Token: t.Text, Claims: &c, Record: rec, Required: chk.Required}, nil
}

func approverNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Approvers))
	for i, a := range cfg.Approvers {
		out[i] = a.Name
	}
	return out
}
