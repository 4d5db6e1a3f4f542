package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/plan"
)

// PlanListing is one plan in list_plans.
type PlanListing struct {
	PlanID    string      `json:"plan_id"`
	Stack     string      `json:"stack" jsonschema:"the plan's stack; for a corrupt plan, what its record says, empty when it says nothing legible"`
	Status    plan.Status `json:"status" jsonschema:"awaiting_approval, no_changes, blocked, applied, failed, discarded, expired, superseded, interrupted, tampered, applying, or corrupt: a record plangate cannot read (see reason); only awaiting_approval can be approved"`
	Counts    plan.Counts `json:"counts"`
	Deletions int         `json:"deletions"`
	CreatedAt time.Time   `json:"created_at" jsonschema:"when the plan was made; for a corrupt plan, what its record says, else when the record last changed"`
	ExpiresAt time.Time   `json:"expires_at"`
	Age       string      `json:"age"`
	// Reason says, for a corrupt plan, what is wrong and what a human does.
	Reason string `json:"reason,omitempty" jsonschema:"for a corrupt plan: what is wrong with its record and what a human does about it"`
}

// ListPlansResult is the structured content of list_plans: one page of
// the plans that match, and how many match in all.
type ListPlansResult struct {
	Plans      []PlanListing `json:"plans"`
	Total      int           `json:"total"`
	Offset     int           `json:"offset,omitempty"`
	NextOffset int           `json:"next_offset,omitempty"`
}

// maxListedPlans is how many plans one list_plans result lists (about
// 400 bytes each, text and structured).
const maxListedPlans = 40

var allStatuses = func() []string {
	out := make([]string, len(plan.Statuses))
	for i, st := range plan.Statuses {
		out[i] = string(st)
	}
	return out
}()

// ListPlans lists recorded plans, newest first.
func ListPlans(plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("list_plans",
		mcp.WithDescription("List recorded plans, newest first: status, counts, deletions, age. "+
			"Unreadable records come first as status corrupt, with the reason: never applicable; tell the human."),
		mcp.WithString("stack", mcp.Description("Only this stack's plans."), mcp.MaxLength(64)),
		mcp.WithString("status", mcp.Description("Only plans with this status."), mcp.Enum(allStatuses...)),
		mcp.WithInteger("offset", mcp.Description("Skip this many (next_offset)."), mcp.Min(0), mcp.Max(1<<30)),
		annotations("List plans", true, false, true, false),
		outputSchema[ListPlansResult](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Stack  string `json:"stack"`
			Status string `json:"status"`
			Offset int    `json:"offset"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("list_plans", err), nil
		}
		if args.Stack != "" {
			if _, err := d.stack(ctx, args.Stack); err != nil {
				return d.errorResult("list_plans", err), nil
			}
		}
		recs, damaged, err := plans.ListAll()
		if err != nil {
			return d.errorResult("list_plans", err), nil
		}
		now := d.now()
		res := ListPlansResult{Plans: []PlanListing{}}
		for _, c := range damaged {
			// A record that names no stack may be any stack's.
			if c.Stack != "" && !AgentFrom(ctx).Allows(c.Stack) || args.Stack != "" && c.Stack != "" && c.Stack != args.Stack || args.Status != "" && args.Status != string(plan.StatusCorrupt) {
				continue
			}
			res.Plans = append(res.Plans, corruptListing(c, now))
		}
		agent := AgentFrom(ctx)
		for _, r := range recs {
			st := r.EffectiveStatus(now)
			if !agent.Allows(r.Stack) || args.Stack != "" && r.Stack != args.Stack || args.Status != "" && string(st) != args.Status {
				continue
			}
			res.Plans = append(res.Plans, PlanListing{
				PlanID: r.ID, Stack: r.Stack, Status: st, Counts: r.Counts, Deletions: r.Deletions(),
				CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, Age: now.Sub(r.CreatedAt).Round(time.Second).String(),
			})
		}
		if args.Offset < 0 || args.Offset > 0 && args.Offset >= len(res.Plans) {
			return mcp.NewToolResultError(fmt.Sprintf("offset %d is outside the %d plans listed: use next_offset from the previous page (or 0)", args.Offset, len(res.Plans))), nil
		}
		return plansResult(res.Plans, args.Offset), nil
	}}
}

// plansResult is one page of plans within ResultBudget.
func plansResult(all []PlanListing, offset int) *mcp.CallToolResult {
	for n := maxListedPlans; ; n /= 2 {
		end := min(len(all), offset+n)
		page := ListPlansResult{Plans: all[offset:end], Total: len(all), Offset: offset}
		if end < len(all) {
			page.NextOffset = end
		}
		res := mcp.NewToolResultStructured(page, formatPlans(page))
		if n <= 1 || resultSize(res) <= ResultBudget {
			return res
		}
	}
}

func corruptListing(c *plan.CorruptRecord, now time.Time) PlanListing {
	made := c.CreatedAt
	if made.IsZero() {
		made = c.ModTime
	}
	return PlanListing{
		PlanID: c.ID, Stack: c.Stack, Status: plan.StatusCorrupt, CreatedAt: made, ExpiresAt: c.ExpiresAt,
		Age: now.Sub(made).Round(time.Second).String(), Reason: c.Reason(),
	}
}

func formatPlans(res ListPlansResult) string {
	if len(res.Plans) == 0 {
		return "No plans recorded. plan_change makes one."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d plan(s), newest first", res.Total)
	if len(res.Plans) < res.Total {
		fmt.Fprintf(&b, "; listed here: %d–%d", res.Offset+1, res.Offset+len(res.Plans))
	}
	b.WriteString(":\n")
	for _, p := range res.Plans {
		if p.Status == plan.StatusCorrupt {
			fmt.Fprintf(&b, "  %s  %-8s %-17s %s\n", p.PlanID, p.Stack, p.Status, p.Reason)
			continue
		}
		fmt.Fprintf(&b, "  %s  %-8s %-17s +%d ~%d -%d  deletes %d  (%s ago)\n",
			p.PlanID, p.Stack, p.Status, p.Counts.Add, p.Counts.Change, p.Counts.Destroy, p.Deletions, p.Age)
	}
	if res.NextOffset != 0 {
		fmt.Fprintf(&b, "(list_plans with offset %d lists the next ones)\n", res.NextOffset)
	}
	return b.String()
}
