package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// proposer makes plans: gate.Gate.
type proposer interface {
	Propose(ctx context.Context, st *config.Stack, vars map[string]any, client audit.Client, opts ...plan.PlanOption) (*plan.Record, error)
}

// PlanChange runs terraform plan on a stack with agent-set variables and
// records the saved plan for a human to approve.
func PlanChange(p proposer, plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("plan_change",
		mcp.WithDescription("Propose a change: `terraform plan` a stack with your variables and save the plan; nothing changes yet. "+
			"Returns counts, the exact deletions and a diff. Show the human the first line and every deletion; "+
			"they approve with `plangate approve <plan_id>` and paste you the token for apply_plan."),
		stackProperty(),
		mcp.WithObject("variables", mcp.Description("The stack's settable variables (list_stacks). "+
			"One left out keeps its last applied value; null resets it.")),
		annotations("Plan a Terraform change", false, false, false, true),
		summarySchema(),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Stack     string         `json:"stack"`
			Variables map[string]any `json:"variables"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("plan_change", err), nil
		}
		st, err := d.stack(ctx, args.Stack)
		if err != nil {
			return d.errorResult("plan_change", err), nil
		}
		if req.Params.RequestState != "" {
			// The retry of a call that offered the review page: the plan
			// is made; answer with it, never plan twice.
			return d.resumePlanChange(ctx, req, plans, st.Name), nil
		}
		prog := newProgress(ctx, req, 0, false)
		rec, err := p.Propose(ctx, st, args.Variables, clientOf(ctx), plan.Events(prog.event))
		prog.finish("")
		if err != nil {
			return d.errorResult("plan_change", err), nil
		}
		syncFromContext(ctx, d)
		offer := d.offerReview(ctx, req, rec, rec.ID)
		if offer.Pending != nil {
			return offer.Pending, nil
		}
		return d.summaryResult(plans, rec, 0, 0, false, offer.Note), nil
	}}
}

// resumePlanChange answers the retry of a plan_change that asked the
// client to open the review page: the plan its signed state names.
func (d *Deps) resumePlanChange(ctx context.Context, req mcp.CallToolRequest, plans planReader, stack string) *mcp.CallToolResult {
	id, err := d.openState(req.Params.RequestState)
	if err != nil {
		return d.errorResult("plan_change", err)
	}
	rec, err := plans.Get(id)
	if err != nil {
		return d.errorResult("plan_change", err)
	}
	if rec.Stack != stack {
		return d.errorResult("plan_change", errBadState)
	}
	offer := d.offerReview(ctx, req, rec, rec.ID)
	if offer.Pending != nil {
		return offer.Pending
	}
	return d.summaryResult(plans, rec, 0, 0, false, offer.Note)
}
