package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// The generated stacks of the result-size test: real Terraform plans of
// 0 to 2,000 deletions (every instance of a Replace stack is replaced).
var budgetStacks = []struct {
	name      string
	spec      gen.Spec
	sc        gen.Scenario
	deletions int
}{
	{"d0", gen.Spec{Modules: 1, PerModule: 10}, gen.Create, 0},
	{"d10", gen.Spec{Modules: 1, PerModule: 10}, gen.Replace, 10},
	{"d50", gen.Spec{Modules: 2, PerModule: 25}, gen.Replace, 50},
	{"d300", gen.Spec{Modules: 3, PerModule: 100}, gen.Replace, 300},
	{"d2000", gen.Spec{Modules: 10, PerModule: 200}, gen.Replace, 2000},
}

// Every tool result stays within ResultBudget on the wire whatever the
// plan's size, with every count exact and every deleted address reachable:
// plan_change, every get_plan page (both ways of carrying the diff),
// list_plans, show_stack and apply_plan, on real plans of 0 to 2,000
// deletions.
func TestResultsStayWithinBudget(t *testing.T) {
	tftest.Setup(t)
	dir := t.TempDir()
	var cfgSrc strings.Builder
	cfgSrc.WriteString("state_dir = \"state\"\n")
	for _, s := range budgetStacks {
		require.NoError(t, s.spec.Write(filepath.Join(dir, s.name), s.sc))
		fmt.Fprintf(&cfgSrc, "stack %q {\n  dir = %q\n}\n", s.name, s.name)
	}
	path := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(path, []byte(cfgSrc.String()), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g := &gate.Gate{Config: cfg, Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir), Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, nil)}
	d := &Deps{Config: cfg, Gate: g, Store: store}

	within := func(t *testing.T, what string, res *mcp.CallToolResult) {
		t.Helper()
		require.False(t, res.IsError, "%s: %s", what, text(res))
		assert.LessOrEqual(t, resultSize(res), ResultBudget, "%s is %d B on the wire", what, resultSize(res))
	}
	var recs []*plan.Record
	for _, s := range budgetStacks {
		t.Run(s.name, func(t *testing.T) {
			res := call(t, PlanChange(g, store, d), map[string]any{"stack": s.name})
			within(t, "plan_change", res)
			first := res.StructuredContent.(plan.Summary)
			require.Equal(t, s.deletions, first.Deletions)
			want := s.spec.Expected(s.sc)
			line, _, _ := strings.Cut(text(res), "\n")
			assert.Contains(t, line, fmt.Sprintf(": %d to add, 0 to change, %d to destroy", want.Add, want.Destroy), "the first line states every count")
			if s.deletions > 0 {
				assert.Contains(t, line, fmt.Sprintf("DELETES %d (", s.deletions))
			}
			assert.Empty(t, first.Diff, "the diff page is sent once, in the text")
			assert.True(t, first.DiffInText)
			rec, err := store.Get(first.PlanID)
			require.NoError(t, err)
			recs = append(recs, rec)
			if s.deletions <= plan.MaxListedDeletions {
				assert.Len(t, first.Deleted, s.deletions, "up to the threshold every deletion is in the first result")
				assert.False(t, first.DeletedTruncated)
			} else {
				assert.Len(t, first.DeletedGroups, s.spec.Modules, "one group per module and type")
				n := 0
				for _, g := range first.DeletedGroups {
					n += g.Count
				}
				assert.Equal(t, s.deletions, n, "the groups count every deletion exactly")
			}

			// Every deleted address, page by page.
			var seen []string
			for off := 0; ; {
				res := call(t, GetPlan(store, d), map[string]any{"plan_id": first.PlanID, "deletions_offset": off})
				within(t, fmt.Sprintf("get_plan deletions_offset %d", off), res)
				p := res.StructuredContent.(plan.Summary)
				assert.Equal(t, s.deletions, p.Deletions)
				for _, del := range p.Deleted {
					seen = append(seen, del.Address)
				}
				if p.NextDeletionsOffset == 0 {
					break
				}
				off = p.NextDeletionsOffset
			}
			require.Len(t, seen, s.deletions)
			for i, del := range rec.Deleted {
				assert.Equal(t, del.Address, seen[i])
			}

			// The whole diff, page by page, in the text and in structured content.
			whole, err := store.ReadDiff(rec.ID, 0, plan.AllOfIt)
			require.NoError(t, err)
			for _, structured := range []bool{false, true} {
				var got strings.Builder
				for off := 0; ; {
					res := call(t, GetPlan(store, d), map[string]any{"plan_id": first.PlanID, "offset": off, "structured_diff": structured})
					within(t, fmt.Sprintf("get_plan offset %d", off), res)
					p := res.StructuredContent.(plan.Summary)
					if structured {
						got.WriteString(p.Diff)
						assert.False(t, p.DiffInText)
					} else {
						require.Empty(t, p.Diff)
						body := text(res)
						// The page is the text between the report and the paging notes.
						page := whole.Text[p.DiffOffset:]
						if p.NextOffset != 0 {
							page = whole.Text[p.DiffOffset:p.NextOffset]
						}
						assert.Contains(t, body, page)
						got.WriteString(page)
					}
					if !p.DiffTruncated {
						break
					}
					require.Greater(t, p.NextOffset, off, "paging moves forward")
					off = p.NextOffset
				}
				assert.Equal(t, whole.Text, got.String(), "structured_diff %v: the pages make the whole diff", structured)
			}
		})
	}

	// Many plans: list_plans pages them, each page within the budget.
	f := &fixture{deps: d, now: time.Now()}
	for range 150 {
		f.commit(t, "d2000", plan.StatusAwaitingApproval, "", 3)
	}
	total, off := 0, 0
	for {
		res := call(t, ListPlans(store, d), map[string]any{"offset": off})
		within(t, "list_plans", res)
		p := res.StructuredContent.(ListPlansResult)
		assert.Equal(t, 150+len(recs), p.Total)
		total += len(p.Plans)
		if p.NextOffset == 0 {
			break
		}
		off = p.NextOffset
	}
	assert.Equal(t, 150+len(recs), total)

	// A state of 2,000 resources: show_stack pages it.
	st, _ := cfg.Stack("d2000")
	view, err := g.State(context.Background(), st)
	require.NoError(t, err)
	require.Len(t, view.Resources, 2000)
	listed := 0
	for off := 0; ; {
		res := call(t, ShowStack(g, d), map[string]any{"stack": "d2000", "offset": off})
		within(t, "show_stack", res)
		v := res.StructuredContent.(StackView)
		assert.Equal(t, 2000, v.ResourceCount)
		listed += len(v.Resources)
		if v.NextOffset == 0 {
			break
		}
		off = v.NextOffset
	}
	assert.Equal(t, 2000, listed)

	// An apply of 2,000 deletions: the outcome as the gate makes it.
	big := recs[len(recs)-1]
	out := &gate.Outcome{PlanID: big.ID, Stack: big.Stack, Status: plan.StatusApplied, Counts: big.Counts, Deletions: big.Deletions(),
		Approvers: []string{"alice"}, Outputs: []plan.StateOutput{}}
	for _, del := range big.Deleted {
		out.Deleted = append(out.Deleted, del.Address)
		out.Replaced = append(out.Replaced, del.Address)
	}
	res := applyResult(out)
	within(t, "apply_plan", res)
	r := res.StructuredContent.(ApplyResult)
	assert.Equal(t, 2000, r.Deletions)
	assert.True(t, r.DeletedTruncated)
	assert.Contains(t, text(res), "Applied plan "+plan.ShortID(big.ID)+"… to d2000: 2000 added, 0 changed, 2000 destroyed")
}

// What no generated plan has: addresses of hundreds of characters,
// hundreds of modules, code run by every instance, long Terraform
// messages. The result still fits, says what it left out, and pages
// every deletion.
func TestResultsWithinBudgetOnHostilePlans(t *testing.T) {
	f := newFixture(t)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, strings.Repeat("  # terraform_data.x will be destroyed \"<&>\"\n", 2000), 0)
	long := strings.Repeat("k", 400)
	_, err := f.deps.Store.Update(rec.ID, func(r *plan.Record) error {
		for i := range 600 {
			addr := fmt.Sprintf("module.m%d.terraform_data.item[\"%s-%d\"]", i, long, i)
			r.Deleted = append(r.Deleted, plan.Deletion{Address: addr, Action: "delete", Actions: []string{"delete"}})
			r.RunsCode = append(r.RunsCode, plan.CodeRun{Address: addr, Kind: "local-exec", Detail: strings.Repeat("echo x; ", 300), Phase: "apply"})
		}
		for i := range 100 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("warning %d: %s", i, strings.Repeat("w", 3000)))
		}
		r.Counts.Destroy = len(r.Deleted)
		return nil
	})
	require.NoError(t, err)
	var seen int
	for off := 0; ; {
		res := call(t, GetPlan(f.deps.Store, f.deps), map[string]any{"plan_id": rec.ID, "deletions_offset": off})
		require.False(t, res.IsError, text(res))
		assert.LessOrEqual(t, resultSize(res), ResultBudget)
		s := res.StructuredContent.(plan.Summary)
		assert.Equal(t, 600, s.Deletions)
		assert.LessOrEqual(t, len(s.DeletedGroups), plan.MaxDeletionGroups)
		n := 0
		for _, g := range s.DeletedGroups {
			n += g.Count
		}
		assert.Equal(t, 600, n, "the groups count every deletion")
		assert.NotEmpty(t, s.Omitted, "what was left out is said")
		assert.Contains(t, text(res), "Left out of this result")
		for _, d := range s.Deleted {
			assert.Contains(t, text(res), d.Address, "a listed deletion is in full in the text")
		}
		require.NotEmpty(t, s.Deleted, "every page lists at least one deletion")
		seen += len(s.Deleted)
		if s.NextDeletionsOffset == 0 {
			break
		}
		off = s.NextDeletionsOffset
	}
	assert.Equal(t, 600, seen)
}
