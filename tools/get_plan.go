package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// GetPlan returns a recorded plan's summary and pages through its diff and
// its full list of deletions.
func GetPlan(plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("get_plan",
		mcp.WithDescription("A recorded plan in pages: status, counts, deletions, diff. "+
			"Page on with offset = next_offset while diff_truncated, deletions_offset = next_deletions_offset while set."),
		planIDProperty("Plan id or a unique 8+ char prefix."),
		mcp.WithInteger("offset", mcp.Description("Diff byte offset."), mcp.Min(0), mcp.Max(1<<31)),
		mcp.WithInteger("deletions_offset", mcp.Description("Deletions index."), mcp.Min(0), mcp.Max(1<<30)),
		mcp.WithBoolean("structured_diff", mcp.Description("Diff page in structuredContent, not text.")),
		annotations("Get a plan", true, false, true, false),
		summarySchema(),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			PlanID          string `json:"plan_id"`
			Offset          int    `json:"offset"`
			DeletionsOffset int    `json:"deletions_offset"`
			StructuredDiff  bool   `json:"structured_diff"`
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
		return d.summaryResult(plans, rec, args.Offset, args.DeletionsOffset, args.StructuredDiff), nil
	}}
}
