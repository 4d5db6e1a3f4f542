package gate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
)

// ConfigEvent is the audit event of an acceptance: who (the approver, or
// plangate itself on first use and for stricter settings), which file
// (its SHA-256), and for stricter settings what changed.
func ConfigEvent(a *config.Accepted, changes []config.Change) audit.Event {
	e := audit.Event{Event: audit.EventConfigAccepted, ConfigSHA256: a.ConfigSHA256, Actor: a.Approver}
	switch a.How {
	case config.AcceptedFirstUse:
		e.Actor, e.Reason = "plangate", "first use: the first config plangate saw is accepted as it is"
	case config.AcceptedStricter:
		parts := make([]string, len(changes))
		for i, c := range changes {
			parts[i] = c.String()
		}
		e.Actor, e.Reason = "plangate", "stricter settings apply at once: "+strings.Join(parts, "; ")
	case config.AcceptedByApprover:
		e.Approvers = []string{a.Approver}
		e.Reason = "accepted by approver " + a.Approver
		if a.Request != "" {
			e.TokenFingerprints = []string{a.Request}
		}
	}
	return e
}

// AcceptConfig makes the file as it is in s the accepted config, on the
// strength of req: a signed config-accept request whose subject is the
// file's SHA-256, from an approver who may accept it (State.Signers). The
// request's nonce is spent in the ledger first, so a request accepts
// once; the acceptance is audited (config_accepted) before it returns.
func (g *Gate) AcceptConfig(s *config.State, req string, now time.Time) (*config.Accepted, error) {
	if g.Live == nil {
		return nil, errors.New("this plangate has no live config to accept")
	}
	claims, err := approvals.VerifyRequest(req, approvals.ActionConfigAccept, s.FileSHA256, s.Signers(), now)
	if err != nil {
		return nil, err
	}
	fp := approvals.Fingerprint(req)
	if err := g.Ledger.Consume([]approvals.NonceUse{{Nonce: claims.Nonce, Approver: claims.Approver, Fingerprint: fp, UsedAt: now}}); err != nil {
		return nil, fmt.Errorf("nothing was accepted: %w", err)
	}
	a, err := g.Live.Accept(s, claims.Approver, fp)
	if err != nil {
		return nil, err
	}
	// An acceptance nobody can see is undone.
	var auditErr error
	if g.Audit == nil {
		auditErr = errors.New("there is no audit log")
	} else if _, err := g.Audit.Append(ConfigEvent(a, nil)); err != nil {
		auditErr = err
	}
	if auditErr != nil {
		if err := g.Live.Revert(s, a); err != nil {
			return a, fmt.Errorf("accepted, but the audit log could not record it (%v), and undoing the acceptance failed too (%v): check %s", auditErr, err, s.RecordPath)
		}
		return nil, fmt.Errorf("the audit log could not record the acceptance (%v), so it was undone", auditErr)
	}
	return a, nil
}
