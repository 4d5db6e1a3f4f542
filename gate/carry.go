package gate

import (
	"context"
	"fmt"
	"strings"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// Variables carry forward: one the agent leaves out keeps the value of the
// stack's last applied plan, so that a plan about one thing never quietly
// reverts another applied change. Non-sensitive values come from the
// record, which shows them anyway; sensitive ones were never written
// anywhere but Terraform's own plan file, and are read back from it (its
// SHA-256 checked against the record) with terraform show. plangate keeps
// no second copy of a secret.

// lastApplied is the stack's latest plan (in the stack's workspace) that
// was applied, or nil. Applied plans follow each other in the order they
// were made: an apply supersedes every plan made before it.
//
// A record plangate cannot read may be a later applied plan of the stack:
// when one may be (its readable start does not say it is another stack's
// or workspace's, and it may have been made after the last applied one)
// and carry names variables that would take a carried (or default) value,
// it is an *plan.InputError. plangate does not carry values from an older
// plan over what a newer one may have applied.
func (g *Gate) lastApplied(st *config.Stack, carry []string) (*plan.Record, error) {
	recs, damaged, err := g.Store.ListAll()
	if err != nil {
		return nil, err
	}
	var last *plan.Record
	for _, r := range recs { // newest first
		if r.Stack == st.Name && workspace(r.Workspace) == workspace(st.Workspace) && r.Status == plan.StatusApplied {
			last = r
			break
		}
	}
	if len(carry) == 0 {
		return last, nil
	}
	var doubts []*plan.CorruptRecord
	for _, c := range damaged {
		if c.Stack != "" && c.Stack != st.Name || c.Workspace != "" && c.Workspace != workspace(st.Workspace) {
			continue
		}
		if last != nil && !c.MadeAfter(last.CreatedAt) {
			continue
		}
		doubts = append(doubts, c)
	}
	if len(doubts) == 0 {
		return last, nil
	}
	return nil, carryDoubt(st, last, doubts, carry)
}

// carryDoubt refuses to carry values past damaged records.
func carryDoubt(st *config.Stack, last *plan.Record, doubts []*plan.CorruptRecord, carry []string) error {
	c := doubts[0]
	var b strings.Builder
	fmt.Fprintf(&b, "plan_change refused: the record of plan %s cannot be read (%s)", c.ID, c.Problem)
	if len(doubts) > 1 {
		fmt.Fprintf(&b, ", nor can %d other plan record(s)", len(doubts)-1)
	}
	if last != nil {
		fmt.Fprintf(&b, ", and it may be a plan of stack %q made after its last applied plan %s", st.Name, last.ID)
	} else {
		fmt.Fprintf(&b, ", and it may be an applied plan of stack %q", st.Name)
	}
	fmt.Fprintf(&b, ". You left out %s: plangate would give them the values of an older plan (or the stack's own), which may revert what that plan applied, so it does not guess. "+
		"Pass %s explicitly (null for the stack's own value), or tell a human: they check %s and move it aside (out of the plans directory), then plan again",
		quoteNames(carry), strings.Join(carry, ", "), c.Dir)
	return &plan.InputError{Msg: b.String()}
}

func workspace(ws string) string {
	if ws == "" {
		return config.DefaultWorkspace
	}
	return ws
}

// carried returns the values the last applied plan last used for those of
// names it set on purpose (by the agent, or carried), in clear. A
// sensitive value that cannot be read back (the plan file pruned,
// replaced, or unreadable by this Terraform) is an *plan.InputError that
// names the variables: plangate never guesses a value, and never falls
// back to a default the agent did not ask for.
func (g *Gate) carried(ctx context.Context, st *config.Stack, last *plan.Record, decls []plan.Variable, names []string) (map[string]any, error) {
	out := map[string]any{}
	if last == nil || len(names) == 0 {
		return out, nil
	}
	sensitive := map[string]bool{}
	for _, d := range decls {
		sensitive[d.Name] = d.Sensitive
	}
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	var fromFile []string
	for _, in := range last.Inputs {
		if !wanted[in.Name] || !in.Carries() {
			continue
		}
		if sensitive[in.Name] || plan.MaskedAnywhere(in.Value) {
			fromFile = append(fromFile, in.Name)
			continue
		}
		out[in.Name] = in.Value
	}
	if len(fromFile) == 0 {
		return out, nil
	}
	values, err := g.appliedValues(ctx, st, last)
	if err != nil {
		return nil, &plan.InputError{Msg: fmt.Sprintf(
			"the last applied plan %s of stack %q set %s, which you left out, but plangate cannot read the value it applied: %v. "+
				"plangate does not guess, nor fall back to a default you did not ask for: pass %s explicitly (the value to keep), or null for the stack's own value (its var files', else the declared default)",
			last.ID, st.Name, quoteNames(fromFile), err, strings.Join(fromFile, ", "))}
	}
	for _, n := range fromFile {
		v, ok := values.ClearVariable(n)
		if !ok {
			return nil, &plan.InputError{Msg: fmt.Sprintf("the plan file of the last applied plan %s of stack %q holds no value for %s: pass it explicitly, or null for the stack's own value", last.ID, st.Name, n)}
		}
		out[n] = v
	}
	return out, nil
}

// appliedValues reads the plan file of an applied plan, checked against
// its record. The caller holds the stack lock.
func (g *Gate) appliedValues(ctx context.Context, st *config.Stack, rec *plan.Record) (*plan.Analysis, error) {
	file := g.Store.PlanFilePath(rec.ID)
	sum, err := plan.FileSHA256(file)
	if err != nil {
		return nil, fmt.Errorf("its plan file is gone (%s)", file)
	}
	if sum != rec.PlanSHA256 {
		return nil, fmt.Errorf("its plan file is not the one recorded (SHA-256 %s…, recorded %s…)", shortSum(sum), shortSum(rec.PlanSHA256))
	}
	// Show needs no cloud: it gets no AWS credentials, not even plangate's.
	raw, err := g.Runner.ShowPlanLocked(ctx, st, file, awsguard.NoCredentials)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s show of its plan file failed: %s", rec.Product.Command(), plan.Truncate(strings.TrimSpace(err.Error()), 400))
	}
	a, err := plan.AnalyzeBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("its plan file: %w", err)
	}
	return a, nil
}

// overridden warns of each variable that the last applied plan set on
// purpose but that a var file sets now (the agent left it out): a var
// file takes precedence over a carried-forward value, so the plan may
// revert what was applied.
func overridden(last *plan.Record, inputs []plan.Input) []string {
	if last == nil {
		return nil
	}
	prior := map[string]plan.Input{}
	for _, in := range last.Inputs {
		if in.Carries() {
			prior[in.Name] = in
		}
	}
	var out []string
	for _, in := range inputs {
		p, ok := prior[in.Name]
		if !ok || in.Origin != plan.OriginVarFile {
			continue
		}
		masked := plan.MaskedAnywhere(p.Value) || plan.MaskedAnywhere(in.Value)
		if !masked && plan.SameValue(p.Value, in.Value) {
			continue
		}
		w := fmt.Sprintf("variable %q: the last applied plan %s set it (%s)", in.Name, plan.ShortID(last.ID), p.Origin)
		if masked {
			w += fmt.Sprintf(", but %s sets it too and a var file takes precedence over a carried-forward value: this plan uses the file's value, which may differ", in.Source)
		} else {
			w += fmt.Sprintf(" to %s, but %s sets %s and a var file takes precedence over a carried-forward value: this plan uses %s", plan.FormatInputValue(p.Value), in.Source, plan.FormatInputValue(in.Value), plan.FormatInputValue(in.Value))
		}
		out = append(out, w+fmt.Sprintf(". Pass %s explicitly to keep the applied value", in.Name))
	}
	return out
}

func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
