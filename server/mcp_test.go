package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/plan"
)

// notes collects the notifications a client receives.
type notes struct {
	mu  sync.Mutex
	all []mcp.JSONRPCNotification
}

func (n *notes) add(x mcp.JSONRPCNotification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = append(n.all, x)
}

func (n *notes) progress(token string) []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []map[string]any
	for _, x := range n.all {
		if x.Method != "notifications/progress" {
			continue
		}
		f := x.Params.AdditionalFields
		if f["progressToken"] == token {
			out = append(out, f)
		}
	}
	return out
}

func callWithToken(h *harness, ctx context.Context, token, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	req.Params.Meta = &mcp.Meta{ProgressToken: token}
	return h.c.CallTool(ctx, req)
}

func TestProgressNotificationsDuringPlanAndApply(t *testing.T) {
	h := newHarness(t)
	n := &notes{}
	h.c.OnNotification(n.add)

	res, err := callWithToken(h, t.Context(), "plan-1", "plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 40}})
	require.NoError(t, err)
	require.False(t, res.IsError, textOf(res))
	var s plan.Summary
	decode(t, res.StructuredContent, &s)
	require.Eventually(t, func() bool { return len(n.progress("plan-1")) > 0 }, 5*time.Second, 10*time.Millisecond)
	planNotes := n.progress("plan-1")
	assert.Contains(t, planNotes[len(planNotes)-1]["message"], "Plan: 40 to add")
	assertNonDecreasing(t, planNotes)

	res, err = callWithToken(h, t.Context(), "apply-1", "apply_plan", map[string]any{"plan_id": s.PlanID, "approval_tokens": []string{h.approve(s.PlanID, "alice")}})
	require.NoError(t, err)
	require.False(t, res.IsError, textOf(res))
	require.Eventually(t, func() bool {
		p := n.progress("apply-1")
		return len(p) > 0 && p[len(p)-1]["progress"] == float64(40)
	}, 5*time.Second, 10*time.Millisecond, "the last progress reports every resource done")
	applyNotes := n.progress("apply-1")
	assertNonDecreasing(t, applyNotes)
	for _, p := range applyNotes {
		assert.Equal(t, float64(40), p["total"])
	}
	assert.Less(t, len(applyNotes), 40, "progress is rate-limited, not one notification per event")

	// Without a progress token, no progress notifications.
	before := len(n.all)
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 3}}, nil)
	for _, x := range n.all[before:] {
		assert.NotEqual(t, "notifications/progress", x.Method)
	}
}

func assertNonDecreasing(t *testing.T, notes []map[string]any) {
	t.Helper()
	last := -1.0
	for _, p := range notes {
		v := p["progress"].(float64)
		assert.GreaterOrEqual(t, v, last)
		last = v
	}
}

func TestPlanResources(t *testing.T) {
	h := newHarness(t)
	var s plan.Summary
	h.ok("plan_change", map[string]any{"stack": "web"}, &s)

	list, err := h.c.ListResources(t.Context(), mcp.ListResourcesRequest{})
	require.NoError(t, err)
	uris := map[string]string{}
	for _, r := range list.Resources {
		uris[r.URI] = r.MIMEType
	}
	assert.Equal(t, "text/plain", uris["plangate://plans/"+s.PlanID])
	assert.Equal(t, "application/json", uris["plangate://plans/"+s.PlanID+"/plan.json"])

	read := func(uri string) string {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := h.c.ReadResource(t.Context(), req)
		require.NoError(t, err)
		require.Len(t, res.Contents, 1)
		return res.Contents[0].(mcp.TextResourceContents).Text
	}
	text := read("plangate://plans/" + s.PlanID)
	assert.Contains(t, text, "Plan "+s.PlanID[:8]+"… for web: 5 to add")
	assert.Contains(t, text, "# terraform_data.database will be created")
	raw := read("plangate://plans/" + s.PlanID[:8] + "/plan.json")
	var pj map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &pj))
	assert.Contains(t, pj, "resource_changes")
	assert.NotContains(t, raw, "demo-only-not-a-secret")
	assert.NotContains(t, text, "demo-only-not-a-secret")

	req := mcp.ReadResourceRequest{}
	req.Params.URI = "plangate://plans/../../etc/passwd"
	_, err = h.c.ReadResource(t.Context(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "resource not found: handler not found for resource URI 'plangate://plans/../../etc/passwd'", "no template matches a path")
	req.Params.URI = "plangate://plans/..%2Fetc"
	_, err = h.c.ReadResource(t.Context(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `resource not found: plangate://plans/..%2Fetc: malformed plan id "..%2Fetc"`)

	// Once discarded, the plan is no longer listed (and still readable).
	h.ok("discard_plan", map[string]any{"plan_id": s.PlanID}, nil)
	list, err = h.c.ListResources(t.Context(), mcp.ListResourcesRequest{})
	require.NoError(t, err)
	for _, r := range list.Resources {
		assert.NotContains(t, r.URI, s.PlanID)
	}
	assert.Contains(t, read("plangate://plans/"+s.PlanID), "Status: discarded")
}

// Cancelling apply_plan stops Terraform with SIGINT: what finished is in
// state, what never started is not, the lock is released, the plan is
// interrupted and the audit log says so.
func TestCancelledApplyLeavesStateConsistent(t *testing.T) {
	h := newHarness(t)
	n := &notes{}
	h.c.OnNotification(n.add)
	var s plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slowapply"}, &s)
	require.Equal(t, 4, s.Counts.Add)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := callWithToken(h, ctx, "apply-c", "apply_plan", map[string]any{"plan_id": s.PlanID, "approval_tokens": []string{h.approve(s.PlanID, "alice")}})
		done <- err
	}()
	// Cancel once the first resource is done.
	require.Eventually(t, func() bool {
		for _, p := range n.progress("apply-c") {
			if p["progress"].(float64) >= 1 {
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond)
	cancel()
	<-done

	dir := filepath.Join(h.dir, "stacks", "slowapply")
	require.Eventually(t, func() bool {
		rec, err := h.deps.Store.Get(s.PlanID)
		return err == nil && rec.Status == plan.StatusInterrupted
	}, 60*time.Second, 50*time.Millisecond, "the plan is marked interrupted")

	state := h.stateList("slowapply") // needs the state lock: it was released
	inState := map[string]bool{}
	for _, a := range state {
		inState[a] = true
	}
	for _, r := range []string{"a", "b", "c", "d"} {
		_, err := os.Stat(filepath.Join(dir, "done-"+r))
		if err == nil {
			assert.True(t, inState["terraform_data."+r], "%s finished but is not in state", r)
		}
	}
	assert.True(t, inState["terraform_data.a"])
	assert.False(t, inState["terraform_data.d"], "the last step never started")
	assert.NoFileExists(t, filepath.Join(dir, "done-d"))

	var events []string
	require.NoError(t, h.deps.Gate.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		events = append(events, string(e.Event))
		return nil
	}))
	assert.Contains(t, events, "apply_interrupted")

	// The stack is usable: a new plan creates only what is missing.
	var again plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slowapply"}, &again)
	t.Logf("state after cancel: %v; next plan: %+v", state, again.Counts)
	assert.Equal(t, 4-len(state)+countTainted(again), again.Counts.Add, "the next plan adds what is missing and replaces what was left tainted")
}

// countTainted is the number of replacements of tainted objects: a step
// interrupted inside its provisioner is in state but tainted, and the next
// plan replaces it rather than adding it.
func countTainted(s plan.Summary) int {
	n := 0
	for _, d := range s.Deleted {
		if d.Reason == "replace_because_tainted" {
			n++
		}
	}
	return n
}
