package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/plan"
)

// GetPlan returns a recorded plan's summary and pages through its diff and
// its full list of deletions.
func GetPlan(plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("get_plan",
		mcp.WithDescription("Get a recorded plan: its status, counts, deletions and the Terraform-style diff, paged. "+
			"When diff_truncated is true, call again with offset = next_offset; when a plan deletes more than 200 resources, "+
			"page through every deleted address with deletions_offset = next_deletions_offset."),
		planIDProperty("Plan id from plan_change or list_plans (a unique prefix of at least 8 characters is enough)."),
		mcp.WithInteger("offset", mcp.Description("Byte offset into the diff (next_offset of the previous page). Default 0."), mcp.Min(0), mcp.Max(1<<40)),
		mcp.WithInteger("deletions_offset", mcp.Description("Index into the list of deleted addresses (next_deletions_offset of the previous page). Default 0."), mcp.Min(0), mcp.Max(1<<30)),
		annotations("Get a plan", true, false, true, false),
		mcp.WithOutputSchema[plan.Summary](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			PlanID          string `json:"plan_id"`
			Offset          int    `json:"offset"`
			DeletionsOffset int    `json:"deletions_offset"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("get_plan", err), nil
		}
		rec, err := plans.Get(args.PlanID)
		if err == nil {
			err = allowStack(ctx, rec.Stack)
		}
		if err != nil {
			return d.errorResult("get_plan", err), nil
		}
		return d.summaryResult(plans, rec, args.Offset, args.DeletionsOffset), nil
	}}
}
