package gate

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// Discard marks a pending plan (awaiting approval or blocked) discarded so
// that it can never be approved or applied, and removes its plan file.
// Discarding a discarded plan is harmless; any other status is a
// *plan.InputError. The discard is audited with note as its reason.
func (g *Gate) Discard(idOrPrefix, note string, client audit.Client) (*plan.Record, error) {
	id, err := g.Store.Resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	journal := filepath.Join(g.Store.Dir(id), plan.ApplyJournalFile)
	rec, err := g.Store.Update(id, func(r *plan.Record) error {
		switch r.Status {
		case plan.StatusAwaitingApproval, plan.StatusBlocked:
			// A record that says pending while an apply's journal
			// exists was not updated after the apply: never discard it.
			if _, err := os.Stat(journal); err == nil {
				return &plan.InputError{Msg: fmt.Sprintf("plan %s has been applied (or its apply started): it cannot be discarded; plangate show %s says how it ended", r.ID, r.ID)}
			}
			r.Status, r.StatusNote = plan.StatusDiscarded, note
			return nil
		case plan.StatusDiscarded:
			return nil
		default:
			return &plan.InputError{Msg: fmt.Sprintf("plan %s is %s, not pending: only plans awaiting approval or blocked can be discarded", r.ID, r.Status)}
		}
	})
	if err != nil {
		return nil, err
	}
	// Without its plan file a discarded plan cannot be applied, whatever
	// happens to its record later.
	_ = os.Remove(g.Store.PlanFilePath(rec.ID))
	g.append(PlanEvent(audit.EventPlanDiscarded, rec, client))
	return rec, nil
}
