package tools

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plangate/plangate/plan"
)

// ResultBudget bounds every tool result on the wire: the text block and
// the structured content together, as JSON-RPC carries them (escapes
// included), whatever the plan or state size. Long lists come in pages
// (get_plan, list_plans, show_stack) and are counted exactly.
const ResultBudget = 24 << 10

// minDiffPage is the smallest diff page a result carries while the diff
// goes on, so that paging with next_offset always moves forward.
const minDiffPage = 1 << 10

// summarySchema is the output schema of plan_change and get_plan: the
// plan summary's contract fields and those a client pages with.
func summarySchema() mcp.ToolOption {
	return outputSchemaOf[plan.Summary]([]string{"plan_id", "stack", "status", "counts", "deletions", "deleted"},
		[]string{"deleted_groups", "next_deletions_offset", "runs_code", "protected_hits", "blocked_reasons", "approvals_required",
			"diff", "diff_in_text", "diff_truncated", "next_offset", "approve_command", "inputs"})
}

// summaryResult renders a plan record as a tool result within
// ResultBudget: the text block carries the readable report and one diff
// page, the structured content the summary without the page (diff_in_text;
// with structuredDiff the other way round, for clients that read only
// structured content). Deletions come MaxListedDeletions at a time, every
// one of them grouped when they don't all fit; the diff page gets what the
// rest leaves of the budget, notes (lines appended to the text) included.
func (d *Deps) summaryResult(plans planReader, rec *plan.Record, offset, deletionsOffset int, structuredDiff bool, notes ...string) *mcp.CallToolResult {
	s := rec.Summary(d.now())
	if deletionsOffset < 0 || deletionsOffset > 0 && deletionsOffset >= len(s.Deleted) {
		return mcp.NewToolResultError(fmt.Sprintf("deletions_offset %d is outside the list of %d deletions: use next_deletions_offset from the previous page (or 0)", deletionsOffset, len(s.Deleted)))
	}
	limit, listed := d.diffBudget(), plan.MaxListedDeletions
	full, level := s, 0
	for {
		page, err := plans.ReadDiff(rec.ID, offset, limit)
		if err != nil {
			return d.errorResult("plan", err)
		}
		out := s.PageOf(page, deletionsOffset, listed)
		res := d.renderSummary(out, structuredDiff)
		for _, n := range notes {
			res = withNote(res, n)
		}
		size := resultSize(res)
		over := size - ResultBudget
		switch {
		case over <= 0:
			return res
		case limit > minDiffPage && page.Text != "":
			// The diff page gives way first: shrink it by what is over,
			// scaled by how much its escapes add.
			esc := escapedLen(page.Text)
			limit = max(minDiffPage, len(page.Text)-(over+256)*len(page.Text)/max(esc, 1))
		case level < len(trimLevels):
			s = full
			trimLists(&s, trimLevels[level])
			level++
		case listed > 1:
			listed /= 2
		default:
			// One deletion and a minimal diff page: only an address or a
			// message of many KiB gets here; send it rather than hide it.
			return res
		}
	}
}

// renderSummary is the tool result of one summary page.
func (d *Deps) renderSummary(out plan.Summary, structuredDiff bool) *mcp.CallToolResult {
	var b strings.Builder
	if structuredDiff {
		text := out
		text.Diff = ""
		plan.WriteReport(&b, &text, d.now())
		if out.Diff != "" {
			fmt.Fprintf(&b, "\n[diff bytes %d–%d of %d: in structuredContent.diff]\n", out.DiffOffset, out.DiffOffset+len(out.Diff), out.DiffTotal)
		}
		return mcp.NewToolResultStructured(out, b.String())
	}
	plan.WriteReport(&b, &out, d.now())
	out.DiffInText = out.Diff != ""
	out.Diff = ""
	return mcp.NewToolResultStructured(out, b.String())
}

// fitBudget builds a result listing n items, then, while it is over
// ResultBudget, once with the long texts clipped and then with half as
// many items each time; one item is the floor (a single address of many
// KiB is returned as it is).
func fitBudget(n int, build func(n int, clipped bool) *mcp.CallToolResult) *mcp.CallToolResult {
	clipped := false
	for {
		res := build(n, clipped)
		switch {
		case resultSize(res) <= ResultBudget:
			return res
		case !clipped:
			clipped = true
		case n > 1:
			n /= 2
		default:
			return res
		}
	}
}

// escapedLen is the length of s as a JSON string's contents.
func escapedLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}

// listCap caps the lists of a summary besides the deletions, and the
// length of each message in them.
type listCap struct{ items, chars int }

// trimLevels are the caps trimLists applies, one after the other, to a
// result that does not fit otherwise; the full lists are in the plan
// resource.
var trimLevels = []listCap{{10, 512}, {3, 160}}

// Caps of apply_plan's lists and show_stack's output values.
const (
	maxListed  = 10
	maxMessage = 512
)

// trimLists shortens the summary's lists besides the deletions (drift,
// warnings, errors, code runs) and clips long messages, noting in Omitted
// what was left out and where the whole is.
func trimLists(s *plan.Summary, c listCap) {
	maxListed, maxMessage := c.items, c.chars
	where := "the full report is the resource " + planURIPrefix + s.PlanID
	note := func(what string, listed, total int) {
		s.Omitted = append(s.Omitted, fmt.Sprintf("%s: %d of %d listed; %s", what, listed, total, where))
	}
	if n := len(s.Drift); n > maxListed {
		s.Drift = s.Drift[:maxListed]
		note("drift", maxListed, n)
	}
	if n := len(s.RunsCode); n > maxListed {
		note("runs_code", maxListed, n)
	}
	s.RunsCode = append([]plan.CodeRun{}, s.RunsCode[:min(len(s.RunsCode), maxListed)]...)
	clipAll := func(what string, list []string) []string {
		out := make([]string, 0, min(len(list), maxListed))
		clipped := false
		for i, m := range list {
			if i == maxListed {
				break
			}
			if len(m) > maxMessage {
				m, clipped = plan.Truncate(m, maxMessage), true
			}
			out = append(out, m)
		}
		if len(list) > maxListed || clipped {
			note(what+" (long ones clipped)", len(out), len(list))
		}
		return out
	}
	s.Warnings = clipAll("warnings", s.Warnings)
	s.Errors = clipAll("errors", s.Errors)
	s.BlockedReasons = clipAll("blocked_reasons", s.BlockedReasons)
	for i, r := range s.RunsCode {
		if len(r.Detail) > maxMessage {
			s.RunsCode[i].Detail = plan.Truncate(r.Detail, maxMessage)
		}
	}
}
