package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// DiscardResult is the structured content of discard_plan.
type DiscardResult struct {
	PlanID string      `json:"plan_id"`
	Stack  string      `json:"stack"`
	Status plan.Status `json:"status"`
}

// discarder discards pending plans: gate.Gate.
type discarder interface {
	Discard(idOrPrefix, note string, client audit.Client) (*plan.Record, error)
}

// DiscardPlan marks a pending plan discarded so that it can never be approved or applied.
func DiscardPlan(plans discarder, d *Deps) server.ServerTool {
	tool := mcp.NewTool("discard_plan",
		mcp.WithDescription("Discard a pending plan (awaiting approval or blocked), e.g. after proposing a better one: it can never be approved or applied. "+
			"Changes no infrastructure."),
		planIDProperty("Plan id (or a unique 8+ character prefix)."),
		annotations("Discard a plan", false, false, true, false),
		outputSchema[DiscardResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			PlanID string `json:"plan_id"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("discard_plan", err), nil
		}
		if d.Store != nil {
			if r, err := d.Store.Get(args.PlanID); err == nil {
				if err := allowStack(ctx, r.Stack); err != nil {
					return d.errorResult("discard_plan", err), nil
				}
			}
		}
		rec, err := plans.Discard(args.PlanID, "discarded by the agent", clientOf(ctx))
		if err != nil {
			return d.errorResult("discard_plan", err), nil
		}
		syncFromContext(ctx, d)
		res := DiscardResult{PlanID: rec.ID, Stack: rec.Stack, Status: rec.Status}
		return mcp.NewToolResultStructured(res, fmt.Sprintf("Plan %s for %s is discarded: it can never be applied.", rec.ID, rec.Stack)), nil
	}}
}
