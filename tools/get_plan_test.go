package tools

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

// A diff longer than a page comes in pages that chain through next_offset,
// cut at line ends, until diff_truncated is false; together they are the
// whole diff, and every page starts with the same first line.
func TestGetPlanPagesTheDiff(t *testing.T) {
	f := newFixture(t)
	f.deps.DiffBudget = 1000
	var diff strings.Builder
	for i := range 120 {
		fmt.Fprintf(&diff, "  # terraform_data.item[%d] will be destroyed\n", i)
	}
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, diff.String(), 3)
	tool := GetPlan(f.deps.Store, f.deps)

	var got strings.Builder
	offset, pages, first := 0, 0, ""
	for {
		res := call(t, tool, map[string]any{"plan_id": rec.ID[:8], "offset": offset, "structured_diff": true})
		require.False(t, res.IsError, text(res))
		s := res.StructuredContent.(plan.Summary)
		assert.False(t, s.DiffInText)
		assert.NotContains(t, text(res), s.Diff, "the page is sent once")
		assert.LessOrEqual(t, len(s.Diff), 1000)
		assert.True(t, strings.HasSuffix(s.Diff, "\n"), "pages end at a line end")
		assert.Equal(t, offset, s.DiffOffset)
		assert.Equal(t, diff.Len(), s.DiffTotal)
		assert.Equal(t, s.NextOffset != 0, s.DiffTruncated)
		line, _, _ := strings.Cut(text(res), "\n")
		if first == "" {
			first = line
		}
		assert.Equal(t, first, line, "page %d", pages)
		got.WriteString(s.Diff)
		pages++
		if !s.DiffTruncated {
			break
		}
		offset = s.NextOffset
	}
	assert.Equal(t, diff.String(), got.String())
	assert.Greater(t, pages, 5)
	assert.Contains(t, first, "DELETES 3 (terraform_data.item[0], deleted;")

	res := call(t, tool, map[string]any{"plan_id": rec.ID, "offset": diff.Len() + 1})
	assert.Equal(t, fmt.Sprintf("offset %d is outside the diff (0..%d): use next_offset from the previous page", diff.Len()+1, diff.Len()), errorText(t, res))
}

// More deletions than one result lists: pages of 50 through
// deletions_offset, every page grouping all of them with exact counts.
func TestGetPlanPagesTheDeletions(t *testing.T) {
	f := newFixture(t)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, "diff\n", 450)
	tool := GetPlan(f.deps.Store, f.deps)
	var seen []string
	offset, pages := 0, 0
	for {
		res := call(t, tool, map[string]any{"plan_id": rec.ID, "deletions_offset": offset})
		s := res.StructuredContent.(plan.Summary)
		assert.Equal(t, 450, s.Deletions)
		assert.Len(t, s.Deleted, min(plan.MaxListedDeletions, 450-offset))
		assert.Equal(t, offset, s.DeletedOffset)
		assert.True(t, s.DeletedTruncated)
		assert.Equal(t, []plan.Group{{Type: "terraform_data", Count: 450}}, s.DeletedGroups)
		assert.Contains(t, text(res), "DELETES 450 (")
		for _, d := range s.Deleted {
			seen = append(seen, d.Address)
			assert.Contains(t, text(res), "  - "+d.Address+" [delete]\n")
		}
		pages++
		if s.NextDeletionsOffset == 0 {
			break
		}
		assert.Equal(t, offset+len(s.Deleted), s.NextDeletionsOffset)
		offset = s.NextDeletionsOffset
	}
	assert.Equal(t, 9, pages)
	require.Len(t, seen, 450)
	for i, a := range seen {
		assert.Equal(t, fmt.Sprintf("terraform_data.item[%d]", i), a)
	}

	res := call(t, tool, map[string]any{"plan_id": rec.ID, "deletions_offset": 450})
	assert.Equal(t, "deletions_offset 450 is outside the list of 450 deletions: use next_deletions_offset from the previous page (or 0)", errorText(t, res))
	none := f.commit(t, "web", plan.StatusAwaitingApproval, "", 0)
	res = call(t, tool, map[string]any{"plan_id": none.ID, "deletions_offset": 0})
	assert.False(t, res.IsError, "offset 0 is always valid: %s", text(res))
}

func TestGetPlanNamesTheWrongID(t *testing.T) {
	f := newFixture(t)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, "", 0)
	tool := GetPlan(f.deps.Store, f.deps)
	assert.Contains(t, errorText(t, call(t, tool, map[string]any{"plan_id": "ffffffff"})), `no such plan "ffffffff": list_plans shows the plans that exist`)
	assert.Contains(t, errorText(t, call(t, tool, map[string]any{"plan_id": "../../etc"})), `malformed plan id "../../etc"`)
	s := call(t, tool, map[string]any{"plan_id": strings.ToUpper(rec.ID[:10])}).StructuredContent.(plan.Summary)
	assert.Equal(t, rec.ID, s.PlanID, "a prefix in any case names the plan")
	assert.Equal(t, "plangate approve "+rec.ID, s.ApproveCommand)

	// Past its expiry the plan reads as expired, with no approve command.
	f.now = rec.ExpiresAt.Add(1)
	s = call(t, tool, map[string]any{"plan_id": rec.ID}).StructuredContent.(plan.Summary)
	assert.Equal(t, plan.StatusExpired, s.Status)
	assert.Empty(t, s.ApproveCommand)
}

// Every plan lists its inputs, with their origin, in the structured
// summary and in the text the chat shows; a sensitive one masked.
func TestGetPlanListsInputs(t *testing.T) {
	f := newFixture(t)
	rec := f.commit(t, "web", plan.StatusNoChanges, "", 0)
	inputs := []plan.Input{
		{Name: "n", Value: 3.0, Origin: plan.OriginLastApplied, Source: "0193aaaa-0000-4000-8000-000000000000"},
		{Name: "token", Value: plan.SensitiveMask, Origin: plan.OriginAgent},
	}
	_, err := f.deps.Store.Update(rec.ID, func(r *plan.Record) error { r.Inputs = inputs; return nil })
	require.NoError(t, err)
	res := call(t, GetPlan(f.deps.Store, f.deps), map[string]any{"plan_id": rec.ID})
	require.False(t, res.IsError, text(res))
	assert.Equal(t, inputs, res.StructuredContent.(plan.Summary).Inputs)
	assert.Contains(t, text(res), "\nInputs:\n"+
		"  n     = 3  (last_applied, plan 0193aaaa)\n"+
		"  token = (sensitive value)  (agent)\n")
}
