package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// applier applies approved plans: gate.Gate.
type applier interface {
	Apply(ctx context.Context, idOrPrefix string, tokens []string, client audit.Client, events func(plan.UIMessage)) (*gate.Outcome, error)
}

// ApplyPlan applies a saved plan that enough humans approved.
func ApplyPlan(a applier, plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("apply_plan",
		mcp.WithDescription("Apply exactly a saved plan, never a fresh one, once its approval tokens, status, expiry, policy and kill switch check out. "+
			"Only humans make tokens (`plangate approve <plan_id>`, or a passkey on the review page) and paste them to you."),
		planIDProperty("Plan id (or a unique 8+ character prefix)."),
		mcp.WithArray("approval_tokens",
			mcp.Description("The tokens humans pasted, one per approver (the plan says how many)."),
			mcp.Items(map[string]any{"type": "string", "minLength": 1, "maxLength": 4096}), mcp.MaxItems(16)),
		annotations("Apply an approved plan", false, true, false, true),
		outputSchemaOf[ApplyResult]([]string{"plan_id", "stack", "status", "counts", "deletions", "deleted"},
			[]string{"replaced", "deleted_truncated", "approvers", "outputs", "errors", "superseded", "note"}),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			PlanID         string   `json:"plan_id"`
			ApprovalTokens []string `json:"approval_tokens"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("apply_plan", err), nil
		}
		total := 0
		var note string
		if rec, err := plans.Get(args.PlanID); err == nil {
			if err := allowStack(ctx, rec.Stack); err != nil {
				return d.errorResult("apply_plan", err), nil
			}
			c := rec.Counts
			total = c.Add + c.Change + c.Destroy
			if len(args.ApprovalTokens) == 0 {
				// Nothing to apply with yet: offer the human the page
				// where they approve; the refusal below still says how.
				offer := d.offerReview(ctx, req, rec, "")
				if offer.Pending != nil {
					return offer.Pending, nil
				}
				note = offer.Note
			}
		}
		prog := newProgress(ctx, req, total, true)
		out, err := a.Apply(ctx, args.PlanID, args.ApprovalTokens, clientOf(ctx), prog.event)
		prog.finish("")
		syncFromContext(ctx, d)
		if err != nil {
			var ref *gate.Refusal
			if errors.As(err, &ref) {
				return withNote(mcp.NewToolResultError("apply refused: "+ref.Reason), note), nil
			}
			return d.errorResult("apply_plan", err), nil
		}
		res := applyResult(out)
		res.IsError = out.Status != plan.StatusApplied
		return res, nil
	}}
}

// ApplyResult is the structured content of apply_plan: the outcome, its
// lists of addresses bounded (every deletion is counted in deletions, and
// get_plan pages through all of them).
type ApplyResult struct {
	gate.Outcome
	// DeletedTruncated is set when deleted (or replaced) lists only the
	// first MaxListedDeletions.
	DeletedTruncated bool     `json:"deleted_truncated,omitempty"`
	Omitted          []string `json:"omitted,omitempty"`
}

// applyResult is the outcome as a tool result within ResultBudget.
func applyResult(o *gate.Outcome) *mcp.CallToolResult {
	return fitBudget(plan.MaxListedDeletions, func(n int, clipped bool) *mcp.CallToolResult {
		r := ApplyResult{Outcome: *o}
		if len(o.Deleted) > n || len(o.Replaced) > n {
			r.Deleted = o.Deleted[:min(n, len(o.Deleted))]
			r.Replaced = o.Replaced[:min(n, len(o.Replaced))]
			r.DeletedTruncated = true
			r.Omitted = append(r.Omitted, fmt.Sprintf("deleted: %d of %d listed (replaced: %d of %d); get_plan %s with deletions_offset pages every address",
				len(r.Deleted), len(o.Deleted), len(r.Replaced), len(o.Replaced), plan.ShortID(o.PlanID)))
		}
		if clipped {
			r.Outputs = clipOutputValues(o.Outputs, &r.Omitted)
			r.Errors = append([]string(nil), r.Errors[:min(len(r.Errors), maxListed)]...)
			for i, e := range r.Errors {
				r.Errors[i] = plan.Truncate(e, maxMessage)
			}
		}
		return mcp.NewToolResultStructured(r, formatOutcome(&r))
	})
}

func formatOutcome(r *ApplyResult) string {
	o := &r.Outcome
	var b strings.Builder
	switch o.Status {
	case plan.StatusApplied:
		fmt.Fprintf(&b, "Applied plan %s… to %s: %d added, %d changed, %d destroyed (approved by %s).\n",
			plan.ShortID(o.PlanID), o.Stack, o.Counts.Add, o.Counts.Change, o.Counts.Destroy, strings.Join(o.Approvers, ", "))
		replaced := map[string]bool{}
		for _, a := range o.Replaced {
			replaced[a] = true
		}
		var destroyed []string
		for _, a := range o.Deleted {
			if !replaced[a] {
				destroyed = append(destroyed, a)
			}
		}
		if len(o.Replaced) > 0 {
			fmt.Fprintf(&b, "Replaced: %s\n", strings.Join(o.Replaced, ", "))
		}
		if len(destroyed) > 0 {
			fmt.Fprintf(&b, "Destroyed: %s\n", strings.Join(destroyed, ", "))
		}
		if o.Note != "" {
			// Recording trouble, said plainly.
			fmt.Fprintf(&b, "NOTE: %s.\n", o.Note)
		}
	default:
		fmt.Fprintf(&b, "Apply of plan %s… to %s did not complete: %s — %s.\n", plan.ShortID(o.PlanID), o.Stack, o.Status, o.Note)
		for _, e := range o.Errors {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
	}
	if len(o.Superseded) > 0 {
		fmt.Fprintf(&b, "Superseded (made against the old state; plan again if still wanted): %s\n", strings.Join(o.Superseded, ", "))
	}
	for _, n := range r.Omitted {
		fmt.Fprintf(&b, "Left out (to fit this result): %s\n", n)
	}
	if len(o.Outputs) > 0 {
		b.WriteString("Outputs:\n")
		for _, out := range o.Outputs {
			v, _ := json.Marshal(out.Value)
			if out.Sensitive {
				v = []byte(plan.SensitiveMask)
			}
			fmt.Fprintf(&b, "  %s = %s\n", out.Name, v)
		}
	}
	return b.String()
}
