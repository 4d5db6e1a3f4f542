package gate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// GuardError is a run that the AWS identity guard refused before Terraform
// started: credentials in the wrong account, none or expired, a role that
// cannot be assumed, STS unreachable. Err (awsguard's) says what a human
// should do. Nothing was recorded.
type GuardError struct {
	Stack string
	Err   error
}

func (e *GuardError) Error() string { return fmt.Sprintf("stack %q: %v", e.Stack, e.Err) }
func (e *GuardError) Unwrap() error { return e.Err }

// identityOf is the plan.AWSIdentity of an awsguard session.
func identityOf(s *awsguard.Session) *plan.AWSIdentity {
	if s == nil {
		return nil
	}
	id := &plan.AWSIdentity{Account: s.Identity.Account, ARN: s.Identity.ARN}
	if s.RoleARN != "" {
		id.RoleARN, id.AssumedBy = s.RoleARN, s.Base.ARN
	}
	return id
}

// Propose plans a change to the stack with the given agent-set variables
// and records it: the only way a plan comes into being. The plan is
// audited as asked by client. Problems with the input are
// *plan.InputError; a plan that Terraform rejects is recorded with status
// failed (not an error); a run the AWS guard refuses is a *GuardError
// (audited: nothing ran). If ctx ends, nothing is recorded.
func (g *Gate) Propose(ctx context.Context, st *config.Stack, vars map[string]any, client audit.Client, opts ...plan.PlanOption) (*plan.Record, error) {
	rec, err := g.propose(ctx, st, vars, client, opts, false)
	var refused *GuardError
	var scanned *ConfigRefusal
	if (errors.As(err, &refused) || errors.As(err, &scanned)) && ctx.Err() == nil {
		// A plan refused before Terraform ran (the AWS identity guard's
		// wrong account, code the policy does not allow) is evidence
		// worth keeping.
		g.append(withClient(audit.Event{Event: audit.EventPlanRefused, Stack: st.Name, Reason: err.Error()}, client))
	}
	if err != nil {
		return nil, err
	}
	e := PlanEvent(planCreatedEvent(rec), rec, client)
	e.Reason = strings.Join(append(slices.Clone(rec.BlockedReasons), rec.Errors...), "; ")
	g.append(e)
	return rec, nil
}

// propose makes and records a plan; refreshOnly makes it a drift check
// (drift.go): a refresh-only plan, recorded as one, never approvable.
func (g *Gate) propose(ctx context.Context, st *config.Stack, vars map[string]any, client audit.Client, opts []plan.PlanOption, refreshOnly bool) (*plan.Record, error) {
	// What would run while Terraform plans is checked before it starts:
	// the configuration now, and what init downloads before the plan.
	// Which program runs (its version output; no code of the stack's):
	// the refusals name it. A missing one is reported by the plan below.
	tf, _ := g.Runner.Identify(ctx)
	if err := checkConfig(st, "", tf); err != nil {
		return nil, err
	}
	decls, err := plan.StackVariables(st)
	if err != nil {
		return nil, err
	}
	checked, err := plan.CheckVariables(st, decls, vars)
	if err != nil {
		return nil, err
	}
	opts = append(opts, plan.BeforePlan(func(dataDir string) error { return checkConfig(st, dataDir, tf) }))
	read := (*plan.Draft).ReadPlanJSON
	if refreshOnly {
		opts = append(opts, plan.RefreshOnly())
		read = (*plan.Draft).ReadDriftJSON
	}
	files := plan.VarFileValues(st)
	unlock, err := g.Runner.Lock(ctx, st)
	if err != nil {
		return nil, err
	}
	defer unlock()

	// Variables the agent leaves out keep the last applied plan's values
	// (read under the stack lock: no apply comes in between).
	uncarried := plan.Uncarried(decls, checked, files)
	last, err := g.lastApplied(st, uncarried)
	if err != nil {
		return nil, err
	}
	carried, err := g.carried(ctx, st, last, decls, uncarried)
	if err != nil {
		return nil, err
	}
	var lastID string
	if last != nil {
		lastID = last.ID
	}
	if err := plan.CheckCarried(decls, carried, lastID); err != nil {
		return nil, err
	}
	inputs, err := plan.ResolveInputs(decls, checked, files, carried, lastID)
	if err != nil {
		return nil, err
	}

	draft, err := g.Store.NewDraft()
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			draft.Abort()
		}
	}()

	var varFile string
	if len(inputs.Vars) > 0 {
		if varFile, err = draft.WriteVarFile(inputs.Vars); err != nil {
			return nil, err
		}
		opts = append(opts, plan.VarFile(varFile))
	}

	// Who Terraform will act as, checked before it starts: nothing runs
	// in the wrong account or without the plan role.
	var identity *plan.AWSIdentity
	if guard := g.AWS.For(st); guard != nil {
		session, err := guard.Plan(ctx, draft.ID)
		if err != nil {
			return nil, &GuardError{Stack: st.Name, Err: err}
		}
		g.logger().Info("aws identity checked", "stack", st.Name, "plan_id", draft.ID, "aws", session)
		identity = identityOf(session)
		opts = append(opts, plan.WithCredentials(session.Apply))
	}

	out, err := g.Runner.Plan(ctx, st, draft.Dir, opts...)
	// The plan file carries the values from here on; the variables file
	// would only be a second copy of anything sensitive.
	if varFile != "" {
		_ = os.Remove(varFile)
	}
	if err != nil {
		return nil, err
	}
	if out.Failed && out.PlanFile == "" {
		if le := plan.LockErrorFrom(st.Name, st.Dir, out.Diagnostics); le != nil {
			le.Product = g.Runner.Product()
			return nil, le
		}
	}
	if out.PlanFile != "" {
		_ = os.Chmod(out.PlanFile, 0o600)
	}
	now := g.now()
	rec := &plan.Record{
		Stack:            st.Name,
		Workspace:        st.Workspace,
		Variables:        plan.RedactSensitive(decls, checked),
		CreatedAt:        now,
		ExpiresAt:        now.Add(st.Policy.PlanTTL),
		UpdatedAt:        now,
		TerraformVersion: g.Runner.Version(),
		Product:          g.Runner.Product(),
		Deleted:          []plan.Deletion{},
		AWS:              identity,
	}
	if client.Name != "" || client.Version != "" {
		rec.RequestedBy = &plan.Requester{Name: client.Name, Version: client.Version}
	}
	for _, d := range out.Warnings() {
		rec.Warnings = append(rec.Warnings, d.String())
	}
	for _, d := range out.Errors() {
		rec.Errors = append(rec.Errors, d.String())
	}

	// Terraform's diagnostics quote values (a precondition's error_message,
	// say) without their sensitive marks: mask every secret the plan, the
	// stack's sensitive variables and the agent's sensitive values hold.
	masker := plan.NewMasker()
	var a *plan.Analysis
	if out.JSONFile != "" {
		// The diff renders as Terraform's does with the providers'
		// schemas, which need no cloud: no credentials.
		schemas := plan.SchemasFrom(func() ([]byte, error) { return g.Runner.ProviderSchemas(ctx, st, awsguard.NoCredentials) })
		if a, err = read(draft, out.JSONFile, plan.ForProduct(rec.Product), schemas); err != nil {
			return nil, err
		}
		if a.SchemaProblem != "" {
			g.logger().Warn(a.SchemaProblem, "plan_id", draft.ID, "stack", st.Name)
		}
		masker = a.Masker()
		if out.PlanFile != "" {
			if err := a.ReadCodeSource(out.PlanFile); err != nil {
				g.logger().Warn("reading the configuration in the plan file", "plan_id", draft.ID, "err", err)
			}
		}
		record(rec, st, a, out)
		if refreshOnly {
			recordDrift(rec, a, out)
		}
		if rec.PlanSHA256, err = plan.FileSHA256(out.PlanFile); err != nil {
			return nil, err
		}
	} else {
		rec.Status = plan.StatusFailed
		rec.StatusNote = rec.Product.String() + " produced no plan"
		if refreshOnly {
			recordDrift(rec, nil, out)
		}
		if err := draft.WriteEmptyDiff(); err != nil {
			return nil, err
		}
	}
	for _, v := range plan.SensitiveValues(st, decls, inputs.Vars) {
		masker.AddValue(v)
	}
	rec.Inputs = inputs.Shown(a, masker)
	rec.Warnings = append(rec.Warnings, overridden(last, rec.Inputs)...)
	for i, w := range rec.Warnings {
		rec.Warnings[i] = masker.MaskText(w)
	}
	for i, e := range rec.Errors {
		rec.Errors[i] = masker.MaskText(e)
	}
	if rec.Status == plan.StatusFailed || rec.Status == plan.StatusDriftCheck {
		// A failed plan must never be applied, whatever its file says;
		// nor a drift check, whatever its record comes to say.
		_ = os.Remove(draft.PlanFile())
		rec.PlanSHA256 = ""
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := draft.Commit(rec); err != nil {
		return nil, err
	}
	committed = true
	g.logger().Info("plan recorded", "plan_id", rec.ID, "stack", st.Name, "status", rec.Status,
		"add", rec.Counts.Add, "change", rec.Counts.Change, "destroy", rec.Counts.Destroy)
	return rec, nil
}

// record fills the record with what the analysis says the plan does and
// what the stack's policy says of it, and decides its status.
func record(rec *plan.Record, st *config.Stack, a *plan.Analysis, out *plan.PlanOutput) {
	rec.Counts = a.Counts
	if a.Deleted != nil {
		rec.Deleted = a.Deleted
	}
	rec.Drift = a.Drift
	rec.Warnings = append(rec.Warnings, a.Warnings...)
	rec.ManagedResources = a.ManagedResourceCount()

	rec.Providers = a.Providers
	rec.RunsCode = runsCode(a, st)
	v := approvals.Evaluate(st, policyFacts(rec))
	rec.ApprovalsRequired = v.ApprovalsRequired
	rec.ProtectedHits = v.ProtectedHits
	rec.BlockedReasons = v.BlockedReasons

	// Terraform prints its own count while planning; if ours differs, the
	// number a human would approve on is in doubt, and the plan is blocked.
	if ts := out.TerraformSummary; ts != nil && !out.Failed && !a.Errored {
		if ts.Add != a.Counts.Add || ts.Change != a.Counts.Change || ts.Remove != a.Counts.Destroy {
			rec.BlockedReasons = append(rec.BlockedReasons, fmt.Sprintf(
				"plangate counted %d to add, %d to change, %d to destroy but %s reported %d, %d, %d: the deletion count cannot be trusted, so this plan cannot be approved (please report this as a plangate bug)",
				a.Counts.Add, a.Counts.Change, a.Counts.Destroy, rec.Product, ts.Add, ts.Change, ts.Remove))
		}
	}

	switch {
	case out.Failed || a.Errored:
		rec.Status = plan.StatusFailed
		rec.StatusNote = rec.Product.String() + " reported errors while planning; the plan is incomplete and can never be approved"
	case !a.HasChanges():
		rec.Status = plan.StatusNoChanges
		rec.StatusNote = "no changes: the infrastructure matches the configuration"
	case len(rec.BlockedReasons) > 0:
		rec.Status = plan.StatusBlocked
		rec.StatusNote = "blocked by policy"
	default:
		rec.Status = plan.StatusAwaitingApproval
	}
}

// policyFacts are the facts of a plan that policy judges: what it
// destroys, in a stack of what size, and the code it runs.
func policyFacts(rec *plan.Record) approvals.Facts {
	f := approvals.Facts{Deleted: make([]approvals.Deleted, len(rec.Deleted)), Managed: rec.ManagedResources, Providers: rec.Providers}
	for i, d := range rec.Deleted {
		f.Deleted[i] = approvals.Deleted{Address: d.Address, PreviousAddress: d.PreviousAddress, Replace: d.Action == "replace", Deposed: d.Deposed}
	}
	for _, c := range planCode(rec) {
		f.Code = append(f.Code, approvals.Code{Address: c.Address, Kind: c.Kind})
	}
	return f
}

// planCode is the record's runs_code without the provider entries: what
// the plan file itself says runs (provider entries depend on the policy
// in force when the plan was made).
func planCode(rec *plan.Record) []plan.CodeRun {
	var out []plan.CodeRun
	for _, c := range rec.RunsCode {
		if c.Kind != plan.CodeProvider {
			out = append(out, c)
		}
	}
	return out
}

// runsCode is the code a plan runs besides the providers, as the summary
// lists it: the plan's provisioners and external data sources, and every
// provider the stack's policy does not allow.
func runsCode(a *plan.Analysis, st *config.Stack) []plan.CodeRun {
	out := slices.Clone(a.Code)
	for _, src := range a.Providers {
		if !st.Policy.ProviderAllowed(src) {
			out = append(out, plan.CodeRun{Address: fmt.Sprintf("provider[%q]", src), Kind: plan.CodeProvider, Detail: src, Phase: plan.PhasePlan})
		}
	}
	return out
}
