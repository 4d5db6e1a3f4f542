package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// Review is a plan as its approver sees it: what the plan file itself
// says it does, read again from the file's bytes (terraform show -json),
// never from what plangate recorded of it.
type Review struct {
	Record *plan.Record
	Stack  *config.Stack
	// SHA256 is the hash of the plan file the facts were read from: the
	// hash an approval signs.
	SHA256 string
	// Analysis is the plan file's own account; it renders the diff.
	Analysis *plan.Analysis
}

// Review reads a plan's file again and checks that what it does is what
// the record says: the same counts, deletions and stack size. A plan whose
// file says otherwise is marked tampered, audited (plan_tampered, as asked
// by client) and refused: what a human would approve would not be what
// runs.
func (g *Gate) Review(ctx context.Context, idOrPrefix string, client audit.Client) (*Review, error) {
	rec, err := g.get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	st, err := g.stackOf(rec)
	if err != nil {
		return nil, err
	}
	unlock, err := g.Runner.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return g.review(ctx, rec, st, client)
}

// review is Review for a caller that holds the stack lock.
func (g *Gate) review(ctx context.Context, rec *plan.Record, st *config.Stack, client audit.Client) (*Review, error) {
	file, sum, err := g.recordedPlanFile(rec)
	if err != nil {
		return nil, err
	}
	// Show needs no cloud: it gets no AWS credentials, not even plangate's.
	raw, err := g.Runner.ShowPlanLocked(ctx, st, file, awsguard.NoCredentials)
	if err != nil {
		return nil, fmt.Errorf("reading plan %s's file with %s show: %w", rec.ID, rec.Product.Command(), err)
	}
	// The bytes shown must still be the bytes hashed.
	if again, err := plan.FileSHA256(file); err != nil || again != sum {
		return nil, &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("the plan file of %s changed while it was being read: it will not be approved; ask the agent for a new plan", rec.ID)}
	}
	a, err := plan.AnalyzeBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", rec.ID, err)
	}
	if err := a.ReadCodeSource(file); err != nil {
		return nil, fmt.Errorf("plan %s: reading the configuration saved in its plan file: %w", rec.ID, err)
	}
	if diff := factsDiffer(rec, a); diff != "" {
		g.tampered(rec, a, client, diff)
		return nil, &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("plan %s's file does not do what its record says (%s): the file or the record was changed after the plan was made, so it will never be approved or applied; ask the agent for a new plan", rec.ID, diff)}
	}
	return &Review{Record: rec, Stack: st, SHA256: sum, Analysis: a}, nil
}

// factsDiffer says how the plan file's own facts differ from the record's;
// empty when they agree.
func factsDiffer(rec *plan.Record, a *plan.Analysis) string {
	var out []string
	if a.Counts != rec.Counts {
		c, r := a.Counts, rec.Counts
		out = append(out, fmt.Sprintf("the file plans %d to add, %d to change, %d to destroy; the record says %d, %d, %d", c.Add, c.Change, c.Destroy, r.Add, r.Change, r.Destroy))
	}
	addresses := func(d []plan.Deletion) []string {
		var s []string
		for _, x := range d {
			s = append(s, x.Address+" "+x.Deposed)
		}
		return s
	}
	if !slices.Equal(addresses(a.Deleted), addresses(rec.Deleted)) {
		out = append(out, "the file deletes other resources than the record lists")
	}
	if recCode := planCode(rec); !slices.Equal(a.Code, recCode) {
		out = append(out, fmt.Sprintf("the file runs %d pieces of code besides the providers; the record lists %d, or other ones", len(a.Code), len(recCode)))
	}
	if !slices.Equal(a.Providers, rec.Providers) {
		out = append(out, fmt.Sprintf("the file uses providers %v; the record says %v", a.Providers, rec.Providers))
	}
	if a.ManagedResourceCount() != rec.ManagedResources {
		out = append(out, fmt.Sprintf("the file's state holds %d resources; the record says %d", a.ManagedResourceCount(), rec.ManagedResources))
	}
	return strings.Join(out, "; ")
}

// tampered marks the plan tampered and audits what its file does against
// what its record says.
func (g *Gate) tampered(rec *plan.Record, a *plan.Analysis, client audit.Client, diff string) {
	g.setStatus(rec.ID, plan.StatusTampered, diff)
	e := PlanEvent(audit.EventPlanTampered, rec, client)
	c, r := a.Counts, rec.Counts
	e.Reason = fmt.Sprintf("the plan file does not do what its record says: file +%d ~%d -%d (deletes %d), record +%d ~%d -%d (deletes %d): %s",
		c.Add, c.Change, c.Destroy, len(a.Deleted), r.Add, r.Change, r.Destroy, rec.Deletions(), diff)
	g.append(e)
	g.logger().Warn("plan tampered", "plan_id", rec.ID, "stack", rec.Stack, "diff", diff)
}

// stackOf returns the plan's stack as configured now, refusing a plan
// whose stack is gone from the config.
func (g *Gate) stackOf(rec *plan.Record) (*config.Stack, error) {
	cfg, err := g.Current()
	if err != nil {
		return nil, err
	}
	st, ok := cfg.Stack(rec.Stack)
	if !ok {
		return nil, &Refusal{PlanID: rec.ID, Reason: fmt.Sprintf("stack %q of plan %s is no longer in %s", rec.Stack, rec.ID, cfg.Path)}
	}
	return st, nil
}
