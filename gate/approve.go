package gate

import (
	"fmt"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// CheckKey checks that key is the key of an approver configured now.
func (g *Gate) CheckKey(key *approvals.PrivateKey) error {
	cfg, err := g.Current()
	if err != nil {
		return err
	}
	a, ok := cfg.Approver(key.Approver)
	if !ok {
		if s, _ := g.ConfigState(); s != nil && s.PendingApprover(key.Approver) {
			return fmt.Errorf("approver %q was added to %s (or given a new key) but is not accepted yet: "+
				"an accepted approver reviews the change with plangate config status and accepts it with plangate config accept", key.Approver, cfg.Path)
		}
		return fmt.Errorf("approver %q is not configured in %s: paste the block printed by plangate keygen into it", key.Approver, cfg.Path)
	}
	if a.Passkey != nil {
		return fmt.Errorf("approver %q approves with a passkey in %s, not a key file: approve on the review page (plangate review)", key.Approver, cfg.Path)
	}
	if !a.PublicKey.Equal(key.Public()) {
		return fmt.Errorf("this key does not match approver %q's public_key in %s", key.Approver, cfg.Path)
	}
	return nil
}

// Approval is a signed approval of one plan.
type Approval struct {
	// Token is the approval token: the human pastes it to the agent. It
	// is a secret until used: never log it.
	Token  string
	Claims *approvals.Claims
	Record *plan.Record
	// Required is the distinct approvals the plan needs, as checked when
	// this one was recorded.
	Required int
}

// Approve signs an approval token for the plan as key's approver, if the
// plan can be approved at this moment (Approvable, on the record as it is
// now: the human may have taken a while to decide), and records the
// approval in the audit log. No token is returned unless the audit entry
// is written. actor is the OS user who approved.
func (g *Gate) Approve(idOrPrefix string, key *approvals.PrivateKey, actor string, client audit.Client) (*Approval, error) {
	if err := g.CheckKey(key); err != nil {
		return nil, err
	}
	rec, err := g.get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	st, err := g.stackOf(rec)
	if err != nil {
		return nil, err
	}
	now := g.now()
	chk, err := g.Approvable(rec, st, now)
	if err != nil {
		return nil, err
	}
	token, _, err := approvals.Issue(key, rec.ID, chk.SHA256, rec.Stack, chk.ExpiresAt, now, chk.ExpiresAt.Sub(now))
	if err != nil {
		return nil, err
	}
	t, err := approvals.Parse(token)
	if err != nil {
		return nil, err
	}
	// The plan as just checked: its file is hashed once.
	a, err := g.recordApproval(rec, chk, t, actor, client)
	if err != nil {
		return nil, fmt.Errorf("%w; no token issued", err)
	}
	return a, nil
}

// PriorApproval is an approval of a plan already signed (the audit log
// holds every one; the tokens themselves are the approvers').
type PriorApproval struct {
	Approver string
	At       time.Time
}

// PriorApprovals lists the approvals the audit log records for the plan,
// oldest first: the approve screen says so before a second one is signed.
func (g *Gate) PriorApprovals(id string) ([]PriorApproval, error) {
	if g.Audit == nil {
		return nil, nil
	}
	var out []PriorApproval
	err := g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		if e.Event == audit.EventPlanApproved && e.PlanID == id {
			for _, a := range e.Approvers {
				out = append(out, PriorApproval{Approver: a, At: e.Time})
			}
		}
		return nil
	})
	return out, err
}
