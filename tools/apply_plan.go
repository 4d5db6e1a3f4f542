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
		mcp.WithDescription("Apply a saved plan — only `terraform apply` of exactly that plan, never a fresh one — after verifying the human approval tokens, "+
			"the plan's status and expiry, the stack's policy and the kill switch. You cannot create approval tokens: a human reviews the plan, "+
			"runs `plangate approve <plan_id>` and pastes the token to you. Call this only with such tokens."),
		planIDProperty("Plan id (or a unique prefix of at least 8 characters) from plan_change."),
		mcp.WithArray("approval_tokens",
			mcp.Description("Approval tokens (pgt1.…) pasted by human approvers, one per approver; the plan says how many distinct approvers it needs. "+
				"Without them the apply is refused, and the refusal says who must approve."),
			mcp.Items(map[string]any{"type": "string", "minLength": 1, "maxLength": 4096}), mcp.MaxItems(16)),
		annotations("Apply an approved plan", false, true, false, true),
		mcp.WithOutputSchema[gate.Outcome](),
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
		res := mcp.NewToolResultStructured(out, formatOutcome(out))
		res.IsError = out.Status != plan.StatusApplied
		return res, nil
	}}
}

func formatOutcome(o *gate.Outcome) string {
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
