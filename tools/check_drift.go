package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

// driftChecker checks stacks for drift: gate.Gate.
type driftChecker interface {
	CheckDrift(ctx context.Context, st *config.Stack, client audit.Client, opts ...plan.PlanOption) (*plan.Record, error)
}

// DriftResult is check_drift's structured content.
type DriftResult struct {
	CheckID string `json:"check_id"`
	Stack   string `json:"stack"`
	plan.DriftCounts
	// Resources lists drifted resources one by one, at most
	// MaxListedDrift (fewer if the result would be too big); ByType
	// counts all of them when they are not all listed.
	Resources []plan.DriftedResource `json:"resources"`
	ByType    []plan.DriftGroup      `json:"by_type,omitempty"`
	Errors    []string               `json:"errors,omitempty"`
	// DiffNextOffset is where get_plan(check_id, offset) continues the
	// diff that the text carries; 0 when the text has all of it.
	DiffNextOffset int `json:"diff_next_offset,omitempty"`
}

// MaxListedDrift is how many drifted resources one result lists one by one.
const MaxListedDrift = 50

// MaxDriftResultBytes bounds a check_drift result: text and structured
// content together, JSON-encoded as sent.
const MaxDriftResultBytes = ResultBudget

// maxDriftGroups bounds the by-type counts; the rest are summed in one.
const maxDriftGroups = 40

// driftOutputSchema is check_drift's output schema, kept lean: the
// model reads the text; clients read these fields.
const driftOutputSchema = `{"type":"object","properties":{"check_id":{"type":"string"},"stack":{"type":"string"},` +
	`"changed":{"type":"integer"},"deleted":{"type":"integer"},"resources":{"type":"array","items":{"type":"object","properties":{` +
	`"address":{"type":"string"},"action":{"enum":["update","delete"]},"attributes":{"type":"array","items":{"type":"string"}}},` +
	`"required":["address","action"]}},"by_type":{"type":"array"},"errors":{"type":"array"},"diff_next_offset":{"type":"integer"}},` +
	`"required":["check_id","stack","changed","deleted","resources"]}`

// CheckDrift runs a refresh-only plan on a stack and reports what changed
// outside Terraform. It changes nothing and records a drift check that can
// never be approved or applied.
func CheckDrift(c driftChecker, plans planReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("check_drift",
		mcp.WithDescription("Check a stack for drift: run a refresh-only `terraform plan` and list each resource changed or deleted outside Terraform, "+
			"with its changed attributes (sensitive values masked). Changes nothing, runs on frozen stacks, and can never be approved or applied; "+
			"to undo drift, use plan_change."),
		stackProperty(),
		annotations("Check drift", true, false, true, true),
		mcp.WithRawOutputSchema(json.RawMessage(driftOutputSchema)),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Stack string `json:"stack"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("check_drift", err), nil
		}
		st, err := d.stack(ctx, args.Stack)
		if err != nil {
			return d.errorResult("check_drift", err), nil
		}
		prog := newProgress(ctx, req, 0, false)
		rec, err := c.CheckDrift(ctx, st, clientOf(ctx), plan.Events(prog.event))
		prog.finish("")
		if err != nil {
			return d.errorResult("check_drift", err), nil
		}
		syncFromContext(ctx, d)
		var frozen string
		if cfg, err := d.current(); err == nil {
			if f, err := freeze.Check(cfg.StateDir, st.Name); err == nil && f != nil {
				frozen = f.Refusal()
			}
		}
		return d.driftResult(plans, rec, frozen), nil
	}}
}

// driftResult renders a drift check as structured content plus text,
// within MaxDriftResultBytes: as many drifted resources one by one as fit
// (at most MaxListedDrift), counts by type when not all are listed, and
// as much of the diff as fits in the text.
func (d *Deps) driftResult(plans planReader, rec *plan.Record, frozen string) *mcp.CallToolResult {
	dc := rec.DriftCheck
	if dc == nil {
		dc = &plan.DriftCheck{Resources: []plan.DriftedResource{}}
	}
	out := DriftResult{CheckID: rec.ID, Stack: rec.Stack, DriftCounts: dc.DriftCounts, Errors: rec.Errors}
	all := listOrder(dc.Resources)
	build := func(listed int, page plan.DiffPage) *mcp.CallToolResult {
		out.Resources = all[:listed]
		out.ByType = nil
		if listed < len(all) {
			out.ByType = capGroups(plan.GroupDrift(all))
		}
		out.DiffNextOffset = page.Next
		return mcp.NewToolResultStructured(out, driftText(rec, &out, len(all), frozen, page))
	}
	// The listing first, in at most half the budget; the diff gets the rest.
	listed := min(len(all), MaxListedDrift)
	for listed > 0 && resultSize(build(listed, plan.DiffPage{})) > MaxDriftResultBytes/2 {
		listed = listed * 3 / 4
	}
	base := resultSize(build(listed, plan.DiffPage{}))
	for limit := MaxDriftResultBytes - base; limit >= 256; limit /= 2 {
		page, err := plans.ReadDiff(rec.ID, 0, limit)
		if err != nil {
			return d.errorResult("check_drift", err)
		}
		if page.Next != 0 {
			page.Text += "\n" // the truncation notice follows on its own line
		}
		if res := build(listed, page); resultSize(res) <= MaxDriftResultBytes {
			return res
		}
	}
	// No page of the diff fits: the text says where it is.
	return build(listed, plan.DiffPage{Total: -1})
}

// listOrder is the order a result lists drifted resources: deletions
// first, then changes, each in address order (as recorded).
func listOrder(rs []plan.DriftedResource) []plan.DriftedResource {
	out := make([]plan.DriftedResource, 0, len(rs))
	for _, r := range rs {
		if r.Action == plan.DriftDeleted {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		if r.Action != plan.DriftDeleted {
			out = append(out, r)
		}
	}
	return out
}

func capGroups(gs []plan.DriftGroup) []plan.DriftGroup {
	if len(gs) <= maxDriftGroups {
		return gs
	}
	rest := plan.DriftGroup{Type: fmt.Sprintf("(%d other types)", len(gs)-maxDriftGroups+1)}
	for _, g := range gs[maxDriftGroups-1:] {
		rest.Count += g.Count
	}
	return append(gs[:maxDriftGroups-1:maxDriftGroups-1], rest)
}

// resultSize is the size of a result as sent: its JSON encoding.
func resultSize(res *mcp.CallToolResult) int {
	b, err := json.Marshal(res)
	if err != nil {
		return MaxDriftResultBytes + 1
	}
	return len(b)
}

// driftText is the readable report of a drift check.
func driftText(rec *plan.Record, out *DriftResult, total int, frozen string, page plan.DiffPage) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	failed := len(rec.Errors) > 0
	p("%s\n", plan.DriftHeadline(rec.Product, rec.Stack, rec.DriftCheck, failed))
	p("Check id: %s — a drift check, not a plan: nothing was changed, and it can never be approved or applied\n", rec.ID)
	if rec.AWS != nil {
		p("AWS: %s\n", rec.AWS)
	}
	if frozen != "" {
		p("Frozen: %s. This read-only check ran all the same.\n", frozen)
	}
	if total > 0 {
		p("\nDrifted resources (%d", total)
		if len(out.Resources) < total {
			p("; listed here: %d", len(out.Resources))
		}
		p("):\n")
		for _, r := range out.Resources {
			if r.Action == plan.DriftDeleted {
				p("  - %s: deleted outside %s\n", r.Address, rec.Product)
				continue
			}
			attrs := strings.Join(r.Attributes, ", ")
			if r.AttributesMore > 0 {
				attrs += fmt.Sprintf(" and %d more", r.AttributesMore)
			}
			if attrs == "" {
				attrs = "changed"
			}
			p("  ~ %s: %s\n", r.Address, attrs)
		}
		if len(out.ByType) > 0 {
			p("  All %d by type:\n", total)
			for _, g := range out.ByType {
				what := "changed"
				if g.Action == plan.DriftDeleted {
					what = "deleted"
				}
				if g.Action == "" {
					what = "changed or deleted"
				}
				p("    %6d  %s %s\n", g.Count, g.Type, what)
			}
		}
	}
	if len(rec.Errors) > 0 {
		p("\nTerraform errors:\n")
		for _, e := range rec.Errors {
			p("  - %s\n", strings.ReplaceAll(e, "\n", "\n    "))
		}
	}
	if len(rec.Warnings) > 0 {
		p("\nWarnings:\n")
		for _, w := range rec.Warnings {
			p("  - %s\n", strings.ReplaceAll(w, "\n", "\n    "))
		}
	}
	if page.Text != "" {
		p("%s", page.Text)
	}
	if page.Total < 0 {
		p("\n[the diff did not fit in this result: call get_plan with plan_id %q for it]\n", plan.ShortID(rec.ID))
	}
	if page.Next != 0 {
		p("[diff truncated: showed bytes 0–%d of %d; call get_plan with plan_id %q and offset %d for the rest]\n", page.Next, page.Total, plan.ShortID(rec.ID), page.Next)
	}
	p("\n")
	switch {
	case failed:
		p("Next: fix the problem Terraform reported (or tell the human about it), then call check_drift again.\n")
	case total == 0:
		p("Next: nothing to do: the real infrastructure matches the state.\n")
	default:
		p("Next: tell the human what drifted. To undo it, call plan_change: its plan puts the configuration back (recreating what was deleted) and needs their approval. To keep it, the configuration must change.\n")
	}
	return b.String()
}
