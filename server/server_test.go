package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
	"github.com/plangate/plangate/tools"
)

func TestInitializeCarriesWorkflowInstructions(t *testing.T) {
	h := newHarness(t)
	assert.Equal(t, server.Name, h.init.ServerInfo.Name)
	assert.Contains(t, h.init.Instructions, "plangate approve")
	assert.Contains(t, h.init.Instructions, "apply_plan")
	assert.Contains(t, h.init.Instructions, "deletion")
}

func TestToolsListAnnotations(t *testing.T) {
	h := newHarness(t)
	res, err := h.c.ListTools(t.Context(), mcp.ListToolsRequest{})
	require.NoError(t, err)

	type hints struct{ readOnly, destructive, idempotent, openWorld bool }
	want := map[string]hints{
		"list_stacks":  {true, false, true, false},
		"show_stack":   {true, false, true, true},
		"plan_change":  {false, false, false, true},
		"get_plan":     {true, false, true, false},
		"list_plans":   {true, false, true, false},
		"discard_plan": {false, false, true, false},
		"apply_plan":   {false, true, false, true},
		"check_drift":  {true, false, true, true},
	}
	got := map[string]bool{}
	for _, tool := range res.Tools {
		got[tool.Name] = true
		w, ok := want[tool.Name]
		if !assert.True(t, ok, "unexpected tool %s", tool.Name) {
			continue
		}
		a := tool.Annotations
		// Every hint is set explicitly: mcp-go's defaults would call every tool destructive.
		require.NotNil(t, a.ReadOnlyHint, tool.Name)
		require.NotNil(t, a.DestructiveHint, tool.Name)
		require.NotNil(t, a.IdempotentHint, tool.Name)
		require.NotNil(t, a.OpenWorldHint, tool.Name)
		assert.Equal(t, w, hints{*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint}, tool.Name)
		assert.NotEmpty(t, a.Title, tool.Name)
		assert.NotEmpty(t, tool.Description, tool.Name)
		assert.Equal(t, "object", tool.OutputSchema.Type, "%s has an output schema", tool.Name)
	}
	for name := range want {
		assert.True(t, got[name], "tool %s is listed", name)
	}
}

func TestListStacksShowsVariablesWithTypes(t *testing.T) {
	h := newHarness(t)
	var res tools.ListStacksResult
	text := h.ok("list_stacks", nil, &res)
	require.Len(t, res.Stacks, 6)
	web := res.Stacks[0]
	assert.Equal(t, "web", web.Name)
	require.Len(t, web.Variables, 3)
	assert.Equal(t, "replicas", web.Variables[0].Name)
	assert.Equal(t, "number", web.Variables[0].Type)
	assert.Contains(t, web.Variables[0].Description, "Number of web servers")
	assert.Equal(t, "image_tag", web.Variables[1].Name)
	assert.Equal(t, "string", web.Variables[1].Type)
	assert.Equal(t, 2, web.Policy.DeletionApprovals)
	assert.Contains(t, text, "replicas (number)")
	assert.NotContains(t, text, "db_password", "only allowlisted variables are offered")
}

// The workflow of issue 2's "done when": a first plan creates, and after it
// is applied, a plan that replaces one resource and deletes another reports
// deletions: 2 with both addresses, first line first.
func TestPlanChangeCountsDeletionsAndSaysSoFirst(t *testing.T) {
	h := newHarness(t)

	var first plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "web"}, &first)
	assert.Equal(t, plan.StatusAwaitingApproval, first.Status)
	assert.Equal(t, plan.Counts{Add: 5}, first.Counts)
	assert.Equal(t, 0, first.Deletions)
	assert.Empty(t, first.Deleted)
	assert.Equal(t, 1, first.ApprovalsRequired)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, first.PlanID, "plan ids are random v4 uuids")
	assert.Regexp(t, `^[0-9a-f]{64}$`, first.PlanSHA256)
	assert.Equal(t, "plangate approve "+first.PlanID, first.ApproveCommand)
	lines := strings.Split(text, "\n")
	assert.Equal(t, "Plan "+first.PlanID[:8]+"… for web: 5 to add, 0 to change, 0 to destroy — no deletions", lines[0])
	assert.Contains(t, text, "plangate approve "+first.PlanID)
	assert.Contains(t, text, "paste the approval token")
	assert.Contains(t, first.Diff, `# terraform_data.web[0] will be created`)

	res := h.applyWith(first.PlanID, h.approve(first.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))

	// show_stack lists what exists; the sensitive output stays masked.
	var view plan.StateView
	stext := h.ok("show_stack", map[string]any{"stack": "web"}, &view)
	var addrs []string
	for _, r := range view.Resources {
		addrs = append(addrs, r.Address)
	}
	assert.Equal(t, []string{"terraform_data.cache", "terraform_data.database", "terraform_data.network", "terraform_data.web[0]", "terraform_data.web[1]"}, addrs)
	require.Len(t, view.Outputs, 2)
	assert.Equal(t, plan.StateOutput{Name: "database_password", Sensitive: true, Value: plan.SensitiveMask}, view.Outputs[0])
	assert.Equal(t, []any{"web-0", "web-1"}, view.Outputs[1].Value)
	assert.NotContains(t, stext, "demo-only-not-a-secret")
	assert.Contains(t, stext, "database_password = (sensitive value)")

	var second plan.Summary
	text = h.ok("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v2.0.0", "replicas": 1}}, &second)
	assert.Equal(t, plan.StatusAwaitingApproval, second.Status)
	assert.Equal(t, 1, second.Counts.Add)
	assert.Equal(t, 2, second.Counts.Destroy)
	assert.Equal(t, 1, second.Counts.Replace)
	assert.Equal(t, 2, second.Deletions)
	require.Len(t, second.Deleted, 2)
	assert.Equal(t, plan.Deletion{Address: "terraform_data.web[0]", Action: "replace", Actions: []string{"delete", "create"}, Reason: "replace_because_cannot_update"}, second.Deleted[0])
	assert.Equal(t, "terraform_data.web[1]", second.Deleted[1].Address)
	assert.Equal(t, "delete", second.Deleted[1].Action)
	assert.Equal(t, 2, second.ApprovalsRequired, "deletion_approvals applies when the plan deletes")
	first2 := strings.SplitN(text, "\n", 2)[0]
	assert.Equal(t, "Plan "+second.PlanID[:8]+"… for web: 1 to add, 0 to change, 2 to destroy — DELETES 2 (terraform_data.web[0], replaced; terraform_data.web[1], deleted)", first2)

	// Deletions come first in the diff.
	iRepl := strings.Index(second.Diff, "terraform_data.web[0] must be replaced")
	iDel := strings.Index(second.Diff, "terraform_data.web[1] will be destroyed")
	require.GreaterOrEqual(t, iRepl, 0, second.Diff)
	require.GreaterOrEqual(t, iDel, 0, second.Diff)

	// The agent's variables are recorded; the human-set sensitive default never shows.
	rec, err := h.deps.Store.Get(second.PlanID)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"image_tag": "v2.0.0", "replicas": float64(1)}, rec.Variables)
	for name, content := range h.planDirFiles(second.PlanID) {
		assert.NotContains(t, content, "demo-only-not-a-secret", "sensitive value leaked into %s", name)
	}
	assert.NotContains(t, text, "demo-only-not-a-secret")
	assert.NotContains(t, fmtJSON(second), "demo-only-not-a-secret")

	// get_plan by an 8-character prefix returns the same plan.
	var got plan.Summary
	h.ok("get_plan", map[string]any{"plan_id": second.PlanID[:8]}, &got)
	assert.Equal(t, second.PlanID, got.PlanID)
	assert.Equal(t, second.Deleted, got.Deleted)
	assert.Equal(t, second.Diff, got.Diff)

	// list_plans shows both, newest first.
	var lp tools.ListPlansResult
	h.ok("list_plans", map[string]any{"stack": "web"}, &lp)
	require.Len(t, lp.Plans, 2)
	assert.Equal(t, second.PlanID, lp.Plans[0].PlanID)
	assert.Equal(t, plan.StatusApplied, lp.Plans[1].Status)
	h.ok("list_plans", map[string]any{"status": "awaiting_approval"}, &lp)
	require.Len(t, lp.Plans, 1)

	// discard_plan makes it unapprovable for good.
	var dr tools.DiscardResult
	h.ok("discard_plan", map[string]any{"plan_id": second.PlanID}, &dr)
	assert.Equal(t, plan.StatusDiscarded, dr.Status)
	var discarded plan.Summary
	h.ok("get_plan", map[string]any{"plan_id": second.PlanID}, &discarded)
	assert.Equal(t, plan.StatusDiscarded, discarded.Status)
	assert.Empty(t, discarded.ApproveCommand)
	assert.NoFileExists(t, h.deps.Store.Dir(second.PlanID)+"/"+plan.PlanFile)
	msg := h.fails("discard_plan", map[string]any{"plan_id": first.PlanID})
	assert.Contains(t, msg, "is applied, not pending")
}

func TestGetPlanPagesThroughALongDiff(t *testing.T) {
	h := newHarness(t, withDiffBudget(1024))
	var s plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 30}}, &s)
	require.True(t, s.DiffTruncated)
	require.NotZero(t, s.NextOffset)
	assert.LessOrEqual(t, len(s.Diff), 1024)
	assert.Contains(t, text, "[diff truncated")
	assert.Contains(t, text, "offset "+strconv.Itoa(s.NextOffset))

	full := s.Diff
	offset := s.NextOffset
	for pages := 0; offset != 0; pages++ {
		require.Less(t, pages, 100)
		var p plan.Summary
		pageText := h.ok("get_plan", map[string]any{"plan_id": s.PlanID, "offset": offset}, &p)
		assert.Contains(t, pageText, "[diff continued: bytes "+strconv.Itoa(offset)+"–")
		assert.Equal(t, offset, p.DiffOffset)
		assert.Equal(t, p.NextOffset != 0, p.DiffTruncated, "diff_truncated says whether the diff continues")
		full += p.Diff
		offset = p.NextOffset
	}
	assert.Equal(t, s.DiffTotal, len(full))
	assert.Equal(t, 30, strings.Count(full, "will be created"))
	assert.True(t, strings.HasSuffix(strings.TrimSpace(full), "Plan: 30 to add, 0 to change, 0 to destroy."), full[max(0, len(full)-200):])
}

// Two plan_change calls on one stack: the second waits, then runs; at no
// moment do two terraform processes work on the stack. A wrapper around the
// real terraform logs when each process starts and ends.
func TestSecondPlanOnAStackWaitsForTheFirst(t *testing.T) {
	real, err := tfbin.Find()
	require.NoError(t, err)
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	wrapper := filepath.Join(t.TempDir(), "terraform")
	script := "#!/bin/sh\necho \"start $$ $1\" >> " + logPath + "\n\"" + real + "\" \"$@\"\nrc=$?\necho \"end $$ $1\" >> " + logPath + "\nexit $rc\n"
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))
	h := newHarness(t, withTerraform(func() (string, error) { return wrapper, nil }))

	results := make(chan *mcp.CallToolResult, 2)
	for range 2 {
		go func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "plan_change"
			req.Params.Arguments = map[string]any{"stack": "slow", "variables": map[string]any{"n": 50}}
			res, err := h.c.CallTool(t.Context(), req)
			if err != nil {
				res = mcp.NewToolResultError(err.Error())
			}
			results <- res
		}()
	}
	for range 2 {
		res := <-results
		require.False(t, res.IsError, textOf(res))
	}
	var lp tools.ListPlansResult
	h.ok("list_plans", map[string]any{"stack": "slow"}, &lp)
	require.Len(t, lp.Plans, 2)
	for _, p := range lp.Plans {
		assert.Equal(t, 50, p.Counts.Add)
	}

	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	running := 0
	plans := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		if f[2] == "version" {
			continue
		}
		if f[0] == "start" {
			running++
			if f[2] == "plan" {
				plans++
			}
		} else {
			running--
		}
		require.LessOrEqual(t, running, 1, "two terraform processes on one stack:\n%s", b)
	}
	assert.Equal(t, 2, plans)
}

// Above 200 deletions a result lists 200 addresses, groups all of them with
// exact counts, and get_plan pages through every address; the first line
// is the same on every page.
func TestDeletionsBeyond200AreGroupedAndPaged(t *testing.T) {
	h := newHarness(t)
	var created plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 450}}, &created)
	res := h.applyWith(created.PlanID, h.approve(created.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))

	var s plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 0}}, &s)
	assert.Equal(t, 450, s.Deletions)
	assert.Equal(t, plan.StatusBlocked, s.Status, "deleting the whole stack is the mass-deletion case")
	require.Len(t, s.Deleted, 200)
	assert.True(t, s.DeletedTruncated)
	assert.Equal(t, []plan.Group{{Type: "terraform_data", Count: 450}}, s.DeletedGroups)
	assert.Equal(t, 200, s.NextDeletionsOffset)
	first := strings.SplitN(text, "\n", 2)[0]
	assert.Contains(t, first, "DELETES 450")
	assert.Contains(t, text, "Deletions (450; listed here: 1–200)")
	assert.Contains(t, text, "All 450 deletions by module and type")

	seen := map[string]bool{}
	for _, d := range s.Deleted {
		seen[d.Address] = true
	}
	offset := s.NextDeletionsOffset
	for offset != 0 {
		var p plan.Summary
		ptext := h.ok("get_plan", map[string]any{"plan_id": s.PlanID, "deletions_offset": offset}, &p)
		assert.Equal(t, first, strings.SplitN(ptext, "\n", 2)[0], "every page starts with the same line")
		assert.Equal(t, offset, p.DeletedOffset)
		assert.Equal(t, s.DeletedGroups, p.DeletedGroups, "groups always cover every deletion")
		for _, d := range p.Deleted {
			assert.False(t, seen[d.Address], "listed twice: %s", d.Address)
			seen[d.Address] = true
		}
		offset = p.NextDeletionsOffset
	}
	assert.Len(t, seen, 450, "every deleted address is reachable")
	msg := h.fails("get_plan", map[string]any{"plan_id": s.PlanID, "deletions_offset": 450})
	assert.Contains(t, msg, "deletions_offset 450 is outside the list of 450 deletions")
}

// A plan whose apply fails is marked failed with Terraform's error; what
// was created before the failure is in state; the audit log says so.
func TestApplyFailureIsRecorded(t *testing.T) {
	h := newHarness(t)
	var s plan.Summary
	h.ok("plan_change", map[string]any{"stack": "applyfail"}, &s)
	require.Equal(t, plan.StatusAwaitingApproval, s.Status)
	res := h.applyWith(s.PlanID, h.approve(s.PlanID, "alice"))
	require.True(t, res.IsError, textOf(res))
	var out gate.Outcome
	decode(t, res.StructuredContent, &out)
	assert.Equal(t, plan.StatusFailed, out.Status)
	assert.Contains(t, strings.Join(out.Errors, "\n"), "local-exec provisioner error")
	assert.Contains(t, textOf(res), "did not complete")

	var got plan.Summary
	h.ok("get_plan", map[string]any{"plan_id": s.PlanID}, &got)
	assert.Equal(t, plan.StatusFailed, got.Status)
	assert.Contains(t, h.stateList("applyfail"), "terraform_data.fine")

	var events []string
	require.NoError(t, h.deps.Gate.Audit.Read(func(line int, e audit.Event, raw []byte) error {
		events = append(events, string(e.Event))
		return nil
	}))
	assert.Equal(t, []string{"plan_created", "apply_started", "apply_failed"}, events)
}
