package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// DiscardResult is the structured content of discard_plan.
type DiscardResult struct {
	PlanID string      `json:"plan_id"`
	Stack  string      `json:"stack"`
	Status plan.Status `json:"status"`
}

// DiscardPlan marks a pending plan discarded so that it can never be approved or applied.
func DiscardPlan(d *Deps) server.ServerTool {
	tool := mcp.NewTool("discard_plan",
		mcp.WithDescription("Discard a pending plan (awaiting approval or blocked) that should not be applied, for example after proposing a better one. "+
			"A discarded plan can never be approved or applied. Changes nothing in the infrastructure."),
		planIDProperty("Plan id (or a unique prefix of at least 8 characters)."),
		annotations("Discard a plan", false, false, true, false),
		mcp.WithOutputSchema[DiscardResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			PlanID string `json:"plan_id"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("discard_plan", err), nil
		}
		rec, err := DiscardPlanRecord(d.Store, args.PlanID, "discarded by the agent")
		if err != nil {
			return d.errorResult("discard_plan", err), nil
		}
		d.audit(gate.PlanEvent("plan_discarded", rec, clientOf(ctx)))
		syncFromContext(ctx, d)
		res := DiscardResult{PlanID: rec.ID, Stack: rec.Stack, Status: rec.Status}
		return mcp.NewToolResultStructured(res, fmt.Sprintf("Plan %s for %s is discarded: it can never be applied.", rec.ID, rec.Stack)), nil
	}}
}

// DiscardPlanRecord discards a plan: shared by the tool and the CLI.
func DiscardPlanRecord(store *plan.Store, idOrPrefix, note string) (*plan.Record, error) {
	id, err := store.Resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	rec, err := store.Update(id, func(r *plan.Record) error {
		switch r.Status {
		case plan.StatusAwaitingApproval, plan.StatusBlocked:
			r.Status = plan.StatusDiscarded
			r.Summary.Status = plan.StatusDiscarded
			r.StatusNote = note
			return nil
		case plan.StatusDiscarded:
			return nil // discarding twice is harmless
		default:
			return &plan.InputError{Msg: fmt.Sprintf("plan %s is %s, not pending: only plans awaiting approval or blocked can be discarded", r.ID, r.Status)}
		}
	})
	if err != nil {
		return nil, err
	}
	// Without its plan file a discarded plan cannot be applied, whatever
	// happens to its record later.
	_ = os.Remove(filepath.Join(store.Dir(rec.ID), plan.PlanFile))
	return rec, nil
}
