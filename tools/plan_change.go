package tools

import (
	"context"
	"fmt"
	"strings"

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
		mcp.WithDescription("Propose a change: run `terraform plan` on a stack with the variables you set, save the plan, and return its summary "+
			"(counts, the exact number of resources it deletes and their addresses, a Terraform-style diff). Nothing changes in the infrastructure. "+
			"A human must review the plan and approve it with `plangate approve <plan_id>`; they paste the resulting token back to you for apply_plan. "+
			"Always show the human the first line of the result and every deletion."),
		mcp.WithString("stack", mcp.Required(), mcp.Description("Stack name, from list_stacks."), mcp.MinLength(1), mcp.MaxLength(64)),
		mcp.WithObject("variables", mcp.Description("Values for the stack's agent-settable variables (list_stacks shows names and types), "+
			"as JSON values of the declared types. A variable you leave out keeps the value of the stack's last applied plan (unless a human-set var file sets it); "+
			"null resets it to the stack's own value (its var file's, else the declared default). The result's inputs list every value used and its origin.")),
		annotations("Plan a Terraform change", false, false, false, true),
		mcp.WithOutputSchema[plan.Summary](),
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
		return withNote(d.summaryResult(plans, rec, 0, 0), offer.Note), nil
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
	return withNote(d.summaryResult(plans, rec, 0, 0), offer.Note)
}

// summaryResult renders a plan record as structured content plus text,
// with one page of the diff and of the deletions.
func (d *Deps) summaryResult(plans planReader, rec *plan.Record, offset, deletionsOffset int) *mcp.CallToolResult {
	page, err := plans.ReadDiff(rec.ID, offset, d.diffBudget())
	if err != nil {
		return d.errorResult("plan", err)
	}
	s := rec.Summary(d.now())
	if deletionsOffset < 0 || deletionsOffset > 0 && deletionsOffset >= len(s.Deleted) {
		return mcp.NewToolResultError(fmt.Sprintf("deletions_offset %d is outside the list of %d deletions: use next_deletions_offset from the previous page (or 0)", deletionsOffset, len(s.Deleted)))
	}
	out := s.Page(page, deletionsOffset)
	var b strings.Builder
	plan.WriteReport(&b, &out, d.now())
	return mcp.NewToolResultStructured(out, b.String())
}
