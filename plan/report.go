package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// MaxListedDeletions is how many deleted addresses one tool result lists
// one by one; above it the result also groups every deletion by module and
// type with exact counts, and get_plan pages through the full list. 50
// deletions take about 11 KiB of a result (text line and structured entry
// each; docs/performance.md), half of the 24 KiB a tool result may take.
const MaxListedDeletions = 50

// MaxDeletionGroups is how many groups a result lists: past it, deletions
// are grouped by type alone (module "*"), and past that the smallest types
// are counted together as type "(other types)". The counts stay exact.
const MaxDeletionGroups = 20

// DefaultDiffBudget bounds the diff carried in one tool result.
const DefaultDiffBudget = 16 << 10

// ShortID is the 8-character prefix of a plan id, accepted wherever an id is.
func ShortID(id string) string {
	if len(id) > MinPrefix {
		return id[:MinPrefix]
	}
	return id
}

// Headline is the first line of every plan report: the counts, and the
// deletions named, so that nobody reads past a deletion.
func (s *Summary) Headline() string {
	if s.headline != "" {
		return s.headline
	}
	c := s.Counts
	line := fmt.Sprintf("Plan %s… for %s: %d to add, %d to change, %d to destroy", ShortID(s.PlanID), s.Stack, c.Add, c.Change, c.Destroy)
	switch s.Status {
	case StatusFailed:
		return line + " — FAILED: " + s.product.String() + " reported errors; this plan can never be applied"
	case StatusNoChanges:
		return line + " — no changes: the infrastructure matches the configuration"
	case StatusDriftCheck:
		return fmt.Sprintf("Drift check %s… of %s: %d drifted — not a plan: it can never be approved or applied", ShortID(s.PlanID), s.Stack, len(s.Drift))
	}
	if s.Deletions == 0 {
		line += " — no deletions"
	} else {
		var names []string
		for i, d := range s.Deleted {
			if i == 3 {
				break
			}
			what := "deleted"
			if d.Action == "replace" {
				what = "replaced"
			}
			addr := d.Address
			if d.Deposed != "" {
				addr += " (deposed " + d.Deposed + ")"
			}
			names = append(names, addr+", "+what)
		}
		more := ""
		if s.Deletions > len(names) {
			more = fmt.Sprintf("; and %d more", s.Deletions-len(names))
		}
		line += fmt.Sprintf(" — DELETES %d (%s%s)", s.Deletions, strings.Join(names, "; "), more)
	}
	if s.Status == StatusBlocked {
		line += " — BLOCKED by policy"
	}
	return line
}

// RunsCodeLine is the report's second line when the plan runs code
// besides the providers: "RUNS CODE: …", naming the first of it. Empty
// when it runs none.
func (s *Summary) RunsCodeLine() string {
	if len(s.RunsCode) == 0 {
		return ""
	}
	first := s.RunsCode[0]
	detail := first.Detail
	if r := []rune(detail); len(r) > 120 {
		detail = string(r[:117]) + "..."
	}
	line := fmt.Sprintf("RUNS CODE: %s %s at %s: %s", first.Address, first.Kind, first.Phase, strings.ReplaceAll(detail, "\n", " "))
	if n := len(s.RunsCode) - 1; n > 0 {
		line += fmt.Sprintf("; and %d more", n)
	}
	return line + " (not counted above; listed below)"
}

// WithDiff returns a copy of the summary carrying the given diff page,
// and every deletion.
func (s Summary) WithDiff(page DiffPage) Summary {
	s.Diff = page.Text
	s.DiffOffset = page.Offset
	s.DiffTotal = page.Total
	s.NextOffset = page.Next
	// True while the diff continues: a client may page until it is false.
	s.DiffTruncated = page.Next != 0
	return s
}

// Page returns a copy of the summary fit for a tool result: one page of at
// most MaxListedDeletions deletions from deletionsOffset (with every
// deletion grouped by module and type, exact counts, when they don't all
// fit) and the given diff page.
func (s Summary) Page(page DiffPage, deletionsOffset int) Summary {
	return s.PageOf(page, deletionsOffset, MaxListedDeletions)
}

// PageOf is Page listing at most n (at least 1) deletions.
func (s Summary) PageOf(page DiffPage, deletionsOffset, n int) Summary {
	n = max(1, n)
	s.headline = s.Headline()
	total := len(s.Deleted)
	deletionsOffset = max(0, min(deletionsOffset, total))
	if deletionsOffset > 0 || total > n {
		s.DeletedGroups = BoundGroups(GroupDeletions(s.Deleted), MaxDeletionGroups)
		s.DeletedTruncated = true
	}
	end := min(total, deletionsOffset+n)
	s.Deleted = s.Deleted[deletionsOffset:end]
	s.DeletedOffset = deletionsOffset
	s.NextDeletionsOffset = 0
	if end < total {
		s.NextDeletionsOffset = end
	}
	return s.WithDiff(page)
}

// BoundGroups returns at most max groups counting every deletion of
// groups: by module and type while they are few enough, else by type
// alone (module "*"), the smallest types past max-1 counted together as
// type "(other types)".
func BoundGroups(groups []Group, max int) []Group {
	if len(groups) <= max {
		return groups
	}
	byType := map[string]int{}
	for _, g := range groups {
		byType[g.Type] += g.Count
	}
	out := make([]Group, 0, len(byType))
	for t, n := range byType {
		out = append(out, Group{Module: "*", Type: t, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Type < out[j].Type
	})
	if len(out) > max {
		rest := Group{Module: "*", Type: "(other types)"}
		for _, g := range out[max-1:] {
			rest.Count += g.Count
		}
		out = append(out[:max-1], rest)
	}
	return out
}

// ReportOption changes how WriteReport writes a plan.
type ReportOption func(*reportConfig)

type reportConfig struct {
	approver bool
	colour   bool
}

// ForApprover writes the report for the human deciding whether to approve:
// without the advice to the agent on what to do next.
func ForApprover() ReportOption { return func(c *reportConfig) { c.approver = true } }

// Colour colours the report for a terminal, as Terraform colours its own
// output: the headline, the deletions and what blocks the plan. The diff
// is written as the summary holds it (RenderDiff with Colour colours it).
func Colour() ReportOption { return func(c *reportConfig) { c.colour = true } }

// ANSI escapes, as Terraform's colorstring writes them.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// paint wraps text in the given escapes when on, else returns it as it is.
func paint(on bool, text string, escapes ...string) string {
	if !on || text == "" {
		return text
	}
	return strings.Join(escapes, "") + text + ansiReset
}

// WriteReport writes the human-readable report of a plan: headline,
// status, deletions, the inputs, drift, warnings and errors, the diff page, and
// (unless ForApprover) what must happen next.
func WriteReport(w io.Writer, s *Summary, now time.Time, opts ...ReportOption) {
	var c reportConfig
	for _, o := range opts {
		o(&c)
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	headColour := ansiGreen
	if s.Deletions > 0 || s.Status == StatusBlocked || s.Status == StatusFailed {
		headColour = ansiRed
	}
	p("%s\n", paint(c.colour, s.Headline(), ansiBold, headColour))
	if line := s.RunsCodeLine(); line != "" {
		p("%s\n", paint(c.colour, line, ansiBold, ansiYellow))
	}
	p("Plan id: %s\n", s.PlanID)
	if s.AWS != nil {
		p("AWS: %s\n", s.AWS)
	}
	switch s.Status {
	case StatusAwaitingApproval:
		p("Status: awaiting approval — needs %d approval(s); expires %s (in %s)\n",
			s.ApprovalsRequired, s.ExpiresAt.Format(time.RFC3339), s.ExpiresAt.Sub(now).Round(time.Minute))
	default:
		p("Status: %s\n", s.Status)
	}
	if s.Deletions > 0 {
		if s.DeletedTruncated {
			p("\n%s\n", paint(c.colour, fmt.Sprintf("Deletions (%d; listed here: %d–%d):", s.Deletions, s.DeletedOffset+1, s.DeletedOffset+len(s.Deleted)), ansiBold, ansiRed))
		} else {
			p("\n%s\n", paint(c.colour, fmt.Sprintf("Deletions (%d):", s.Deletions), ansiBold, ansiRed))
		}
		for _, d := range s.Deleted {
			line := "  - " + d.Address
			if d.PreviousAddress != "" {
				line += " (moved from " + d.PreviousAddress + ")"
			}
			if d.Deposed != "" {
				line += " (deposed object " + d.Deposed + ")"
			}
			line += " [" + strings.Join(d.Actions, ",")
			if d.Reason != "" {
				line += "; " + d.Reason
			}
			p("%s\n", paint(c.colour, line+"]", ansiRed))
		}
		if s.DeletedTruncated {
			p("  All %d deletions by module and type:\n", s.Deletions)
			for _, g := range s.DeletedGroups {
				mod := g.Module
				switch mod {
				case "":
					mod = "(root module)"
				case "*":
					mod = "(any module)"
				}
				p("    %6d  %s %s\n", g.Count, mod, g.Type)
			}
			if s.NextDeletionsOffset != 0 {
				p("  (get_plan with deletions_offset %d lists the next ones)\n", s.NextDeletionsOffset)
			}
		}
	}
	if len(s.RunsCode) > 0 {
		p("\n%s\n", paint(c.colour, fmt.Sprintf("Code this plan runs besides the providers (%d):", len(s.RunsCode)), ansiBold, ansiYellow))
		for _, r := range s.RunsCode {
			p("%s\n", paint(c.colour, fmt.Sprintf("  ! %s %s, at %s: %s", r.Address, r.Kind, r.Phase, indentRest(r.Detail, "      ")), ansiYellow))
		}
	}
	if len(s.ProtectedHits) > 0 {
		p("\n%s\n", paint(c.colour, "Protected resources hit: "+strings.Join(s.ProtectedHits, ", "), ansiRed))
	}
	if len(s.BlockedReasons) > 0 {
		p("\n%s\n", paint(c.colour, "Blocked:", ansiBold, ansiRed))
		for _, r := range s.BlockedReasons {
			p("%s\n", paint(c.colour, "  - "+r, ansiRed))
		}
	}
	writeInputs(w, s.Inputs)
	if len(s.Drift) > 0 {
		p("\nDrift (changed outside %s, not part of this plan's actions): %d\n", s.product, len(s.Drift))
		for i, d := range s.Drift {
			if i == 20 {
				p("  … %d more\n", len(s.Drift)-20)
				break
			}
			p("  ~ %s [%s]\n", d.Address, strings.Join(d.Actions, ","))
		}
	}
	if len(s.Errors) > 0 {
		p("\n%s errors:\n", s.product)
		for _, e := range s.Errors {
			p("  - %s\n", indentRest(e, "    "))
		}
	}
	if len(s.Warnings) > 0 {
		p("\nWarnings:\n")
		for _, e := range s.Warnings {
			p("  - %s\n", indentRest(e, "    "))
		}
	}
	if len(s.Omitted) > 0 {
		p("\nLeft out of this result (to fit it):\n")
		for _, o := range s.Omitted {
			p("  - %s\n", o)
		}
	}
	if s.DiffOffset > 0 {
		p("\n[diff continued: bytes %d–%d of %d; offset 0 starts it]\n", s.DiffOffset, s.DiffOffset+len(s.Diff), s.DiffTotal)
	}
	if s.Diff != "" {
		p("\n%s", s.Diff)
		if !strings.HasSuffix(s.Diff, "\n") {
			p("\n")
		}
	}
	if s.NextOffset != 0 {
		p("\n[diff truncated: showed bytes %d–%d of %d; call get_plan with plan_id %q and offset %d for the rest]\n",
			s.DiffOffset, s.NextOffset, s.DiffTotal, ShortID(s.PlanID), s.NextOffset)
	}
	if c.approver {
		return
	}
	p("\n")
	switch s.Status {
	case StatusAwaitingApproval:
		p("Next: show the human this summary and every deletion above. Only a human can approve: they review the plan and run\n")
		p("  plangate approve %s\n", s.PlanID)
		p("then paste the approval token it prints back into this chat. Call apply_plan with plan_id and approval_tokens only after that. ")
		p("Do not try to create a token yourself.\n")
	case StatusBlocked:
		p("Next: this plan can never be approved. Change the proposal so it respects the stack's policy, or ask a human to change the policy in plangate.hcl.\n")
	case StatusFailed:
		p("Next: fix the problem %s reported (or tell the human about it), then call plan_change again.\n", s.product)
	case StatusNoChanges:
		p("Next: nothing to apply.\n")
	case StatusDriftCheck:
		p("Next: this is a drift check (check_drift) and can never be applied. To undo the drift, call plan_change.\n")
	default:
		p("Next: this plan is %s and cannot be applied; call plan_change for a new one.\n", s.Status)
	}
}

// writeInputs lists the variables the agent may set, with the value the
// plan used and where it came from, names aligned.
func writeInputs(w io.Writer, inputs []Input) {
	if len(inputs) == 0 {
		return
	}
	width := 0
	for _, in := range inputs {
		width = max(width, len(in.Name))
	}
	fmt.Fprintf(w, "\nInputs:\n")
	for _, in := range inputs {
		fmt.Fprintf(w, "  %-*s = %s  (%s)\n", width, in.Name, FormatInputValue(in.Value), in.Origin.describe(in.Source))
	}
}

// describe is the origin as the report prints it: its name as in the
// structured summary, with the file or plan it came from.
func (o Origin) describe(source string) string {
	switch {
	case source == "":
		return string(o)
	case o == OriginLastApplied:
		return string(o) + ", plan " + ShortID(source)
	default:
		return string(o) + " " + source
	}
}

func indentRest(s, indent string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+indent)
}
