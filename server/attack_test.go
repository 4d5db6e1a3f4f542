package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// Attacks on the human gate. Each goes through the real apply path
// (apply_plan over MCP → gate → terraform) and must fail with a reason,
// leaving the state untouched.

// planWeb makes a first plan of the web stack (creates only).
func (h *harness) planWeb(vars map[string]any) plan.Summary {
	h.t.Helper()
	var s plan.Summary
	args := map[string]any{"stack": "web"}
	if vars != nil {
		args["variables"] = vars
	}
	h.ok("plan_change", args, &s)
	require.Equal(h.t, plan.StatusAwaitingApproval, s.Status, "%v", s.BlockedReasons)
	return s
}

// refused asserts that apply_plan refuses and that nothing was created.
func (h *harness) refused(id string, tokens []string, want ...string) string {
	h.t.Helper()
	before := h.stateList("web")
	res := h.applyWith(id, tokens...)
	require.True(h.t, res.IsError, "apply_plan should be refused: %s", textOf(res))
	msg := textOf(res)
	for _, w := range want {
		assert.Contains(h.t, msg, w)
	}
	assert.Equal(h.t, before, h.stateList("web"), "a refused apply changed the state")
	return msg
}

func signAs(t *testing.T, k *approvals.PrivateKey, rec *plan.Record) string {
	t.Helper()
	now := time.Now()
	tok, _, err := approvals.Issue(k, rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, now, time.Hour)
	require.NoError(t, err)
	return tok
}

// editPayload decodes a token's payload, lets edit change it, and puts the
// token back together with the original signature.
func editPayload(t *testing.T, token string, edit func(*approvals.Claims)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims approvals.Claims
	require.NoError(t, json.Unmarshal(raw, &claims))
	edit(&claims)
	raw, err = json.Marshal(claims)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

func TestAttackNoToken(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	h.refused(s.PlanID, nil, "plangate approve")

	// approval_tokens left out altogether: the same audited refusal.
	res := h.call("apply_plan", map[string]any{"plan_id": s.PlanID})
	require.True(t, res.IsError)
	assert.Contains(t, textOf(res), "no approval token was given")
	assert.Contains(t, textOf(res), "plangate approve "+s.PlanID)
	refusals := 0
	require.NoError(t, h.deps.Gate.Audit.Read(func(_ int, ev audit.Event, _ []byte) error {
		if ev.Event == audit.EventApplyRefused && ev.PlanID == s.PlanID {
			refusals++
		}
		return nil
	}))
	assert.Equal(t, 2, refusals)

	// Without tokens there is nothing to wait for: the refusal comes while
	// another run holds the stack.
	st, _ := h.cfg.Stack("web")
	unlock, err := h.deps.Gate.Runner.Lock(context.Background(), st)
	require.NoError(t, err)
	defer unlock()
	done := make(chan *mcp.CallToolResult, 1)
	go func() { done <- h.call("apply_plan", map[string]any{"plan_id": s.PlanID}) }()
	select {
	case res := <-done:
		assert.True(t, res.IsError)
		assert.Contains(t, textOf(res), "no approval token was given")
	case <-time.After(time.Minute):
		t.Fatal("a token-less apply_plan waited for the busy stack")
	}
}

func TestAttackForgedSignature(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	rec, _ := h.deps.Store.Get(s.PlanID)
	_, otherKey, err := approvals.GenerateKey()
	require.NoError(t, err)
	forged := signAs(t, &approvals.PrivateKey{Approver: "alice", Key: otherKey}, rec)
	h.refused(s.PlanID, []string{forged}, "signature")
}

func TestAttackPayloadEditedAfterSigning(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	good := h.approve(s.PlanID, "alice")
	for name, edit := range map[string]func(*approvals.Claims){
		"later expiry":   func(c *approvals.Claims) { c.ExpiresAt += 60 },
		"other approver": func(c *approvals.Claims) { c.Approver = "bob" },
		"other nonce":    func(c *approvals.Claims) { c.Nonce = "AAAAAAAAAAAAAAAAAAAAAA" },
	} {
		t.Run(name, func(t *testing.T) {
			h.refused(s.PlanID, []string{editPayload(t, good, edit)}, "signature")
		})
	}
	// The untouched token still works: the refusals above did not spend it.
	res := h.applyWith(s.PlanID, good)
	require.False(t, res.IsError, textOf(res))
}

func TestAttackTokenForAnotherPlanStackOrOlderPlan(t *testing.T) {
	h := newHarness(t)
	older := h.planWeb(map[string]any{"replicas": 1})
	current := h.planWeb(map[string]any{"replicas": 2})
	var other plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 1}}, &other)

	h.refused(current.PlanID, []string{h.approve(older.PlanID, "alice")}, "for plan "+older.PlanID)
	h.refused(current.PlanID, []string{h.approve(other.PlanID, "alice")}, "for plan "+other.PlanID)

	// A token claiming the current plan but signed over another stack: the
	// payload's stack is checked against the plan's own.
	rec, _ := h.deps.Store.Get(current.PlanID)
	rec.Stack = "slow"
	h.refused(current.PlanID, []string{signAs(t, h.keys["alice"], rec)}, "stack")
}

func TestAttackExpiredToken(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	rec, _ := h.deps.Store.Get(s.PlanID)
	past := time.Now().Add(-2 * time.Hour)
	tok, _, err := approvals.Issue(h.keys["alice"], rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, past, time.Minute)
	require.NoError(t, err)
	h.refused(s.PlanID, []string{tok}, "expired")
}

func TestAttackReplayedToken(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	tok := h.approve(s.PlanID, "alice")
	res := h.applyWith(s.PlanID, tok)
	require.False(t, res.IsError, textOf(res))

	// The same token again: the plan is applied, and even if its record were
	// rolled back (restored from a backup, say) the ledger refuses the nonce.
	h.refused(s.PlanID, []string{tok}, "already applied")
	_, err := h.deps.Store.Update(s.PlanID, func(r *plan.Record) error { r.Status = plan.StatusAwaitingApproval; return nil })
	require.NoError(t, err)
	h.refused(s.PlanID, []string{tok}, "already used")
}

func TestAttackUnknownApprover(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	rec, _ := h.deps.Store.Get(s.PlanID)
	_, k, err := approvals.GenerateKey()
	require.NoError(t, err)
	h.refused(s.PlanID, []string{signAs(t, &approvals.PrivateKey{Approver: "mallory", Key: k}, rec)}, "mallory")
}

func TestAttackOneApproverCountedTwice(t *testing.T) {
	h := newHarness(t)
	first := h.planWeb(nil)
	res := h.applyWith(first.PlanID, h.approve(first.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))

	// Deleting a server needs deletion_approvals = 2 distinct approvers.
	s := h.planWeb(map[string]any{"replicas": 1})
	require.Equal(t, 1, s.Deletions)
	require.Equal(t, 2, s.ApprovalsRequired)
	h.refused(s.PlanID, []string{h.approve(s.PlanID, "alice"), h.approve(s.PlanID, "alice")}, "alice", "2")
	h.refused(s.PlanID, []string{h.approve(s.PlanID, "alice")}, "2")
	res = h.applyWith(s.PlanID, h.approve(s.PlanID, "alice"), h.approve(s.PlanID, "bob"))
	require.False(t, res.IsError, textOf(res))
	var out gate.Outcome
	decode(t, res.StructuredContent, &out)
	assert.ElementsMatch(t, []string{"alice", "bob"}, out.Approvers)
	assert.NotContains(t, h.stateList("web"), "terraform_data.web[1]")
}

func TestAttackTokenPastedWithWhitespaceOnly(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	tok := h.approve(s.PlanID, "alice")

	// Any change other than whitespace is refused.
	for i := 5; i < len(tok); i += 7 {
		c := tok[i]
		repl := byte('A')
		if c == 'A' {
			repl = 'B'
		}
		mutated := tok[:i] + string(repl) + tok[i+1:]
		res := h.applyWith(s.PlanID, mutated)
		require.True(t, res.IsError, "token with byte %d changed was accepted", i)
	}
	h.refused(s.PlanID, []string{tok + "x"})
	h.refused(s.PlanID, []string{strings.ToUpper(tok)})

	// Wrapped across lines and indented, as a chat or terminal might paste it.
	pasted := "  " + tok[:30] + "\n  " + tok[30:70] + "\r\n\t" + tok[70:] + " \n"
	res := h.applyWith(s.PlanID, pasted)
	require.False(t, res.IsError, textOf(res))
}

func TestAttackPlanFileModifiedAfterApproval(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	tok := h.approve(s.PlanID, "alice")
	// Swap in another plan's file: a valid Terraform plan, but not the one approved.
	other := h.planWeb(map[string]any{"replicas": 5})
	b, err := os.ReadFile(filepath.Join(h.deps.Store.Dir(other.PlanID), plan.PlanFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(h.deps.Store.Dir(s.PlanID), plan.PlanFile), b, 0o600))
	h.refused(s.PlanID, []string{tok}, "changed")
}

func TestAttackStalePlan(t *testing.T) {
	h := newHarness(t)
	a := h.planWeb(map[string]any{"replicas": 1})
	b := h.planWeb(map[string]any{"replicas": 3})
	// Someone applies plan b outside apply_plan (say, terraform by hand):
	// the state moves on, and plan a is stale.
	h.applyDirectly(b.PlanID)
	before := h.stateList("web")
	res := h.applyWith(a.PlanID, h.approve(a.PlanID, "alice"))
	require.True(t, res.IsError, textOf(res))
	var out gate.Outcome
	decode(t, res.StructuredContent, &out)
	assert.Equal(t, plan.StatusSuperseded, out.Status)
	assert.Contains(t, textOf(res), "state changed")
	assert.Contains(t, strings.Join(out.Errors, "\n"), "Saved plan is stale")
	assert.Equal(t, before, h.stateList("web"))
	var got plan.Summary
	h.ok("get_plan", map[string]any{"plan_id": a.PlanID}, &got)
	assert.Equal(t, plan.StatusSuperseded, got.Status)
}

func TestAttackAppliedPlanSupersedesOthers(t *testing.T) {
	h := newHarness(t)
	a := h.planWeb(map[string]any{"replicas": 1})
	b := h.planWeb(map[string]any{"replicas": 3})
	res := h.applyWith(b.PlanID, h.approve(b.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))
	var out gate.Outcome
	decode(t, res.StructuredContent, &out)
	assert.Equal(t, []string{a.PlanID}, out.Superseded)
	h.refused(a.PlanID, []string{h.approve(a.PlanID, "alice")}, "superseded")
}

func TestAttackBlockedPlan(t *testing.T) {
	h := newHarness(t)
	first := h.planWeb(nil)
	res := h.applyWith(first.PlanID, h.approve(first.PlanID, "alice"))
	require.False(t, res.IsError, textOf(res))

	// Replacing the network replaces everything, the protected database included.
	var s plan.Summary
	text := h.ok("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"network_cidr": "10.9.0.0/16"}}, &s)
	assert.Equal(t, plan.StatusBlocked, s.Status)
	assert.Equal(t, 5, s.Deletions)
	assert.Contains(t, s.ProtectedHits, "terraform_data.database")
	assert.Contains(t, strings.Join(s.BlockedReasons, "\n"), "max_deletion_ratio")
	assert.Contains(t, strings.SplitN(text, "\n", 2)[0], "BLOCKED")
	assert.Empty(t, s.ApproveCommand)

	rec, _ := h.deps.Store.Get(s.PlanID)
	tok := signAs(t, h.keys["alice"], rec) // a token a human could not get from plangate approve
	h.refused(s.PlanID, []string{tok, signAs(t, h.keys["bob"], rec)}, "blocked")
}

func TestAttackFrozenStack(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	tok := h.approve(s.PlanID, "alice")
	_, err := freeze.Set(h.cfg.StateDir, "web", "incident 4411", "oncall", time.Now())
	require.NoError(t, err)
	msg := h.refused(s.PlanID, []string{tok}, "frozen", "incident 4411", "oncall", "only a human can lift it")
	assert.NotContains(t, msg, "unfreeze", "the agent is not told how to lift the freeze")

	var ls struct {
		Stacks []struct {
			Name   string         `json:"name"`
			Frozen map[string]any `json:"frozen"`
		} `json:"stacks"`
	}
	h.ok("list_stacks", nil, &ls)
	assert.Equal(t, "incident 4411", ls.Stacks[0].Frozen["reason"])

	// The refusal did not spend the token: after unfreezing it applies.
	_, err = freeze.Clear(h.cfg.StateDir, "web")
	require.NoError(t, err)
	res := h.applyWith(s.PlanID, tok)
	require.False(t, res.IsError, textOf(res))
}

func TestAttackRacingAppliesWithOneToken(t *testing.T) {
	h := newHarness(t)
	s := h.planWeb(nil)
	tok := h.approve(s.PlanID, "alice")
	results := make(chan *mcp.CallToolResult, 2)
	for range 2 {
		go func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "apply_plan"
			req.Params.Arguments = map[string]any{"plan_id": s.PlanID, "approval_tokens": []string{tok}}
			res, err := h.c.CallTool(t.Context(), req)
			if err != nil {
				res = mcp.NewToolResultError(err.Error())
			}
			results <- res
		}()
	}
	applied := 0
	for range 2 {
		if res := <-results; !res.IsError {
			applied++
		}
	}
	assert.Equal(t, 1, applied, "exactly one apply ran")
	assert.Len(t, h.stateList("web"), 5, "state intact: each resource once")
}

// No token and no private key ever reaches a tool result, a log line or
// the audit log.
func TestAttackSecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	var seen []string
	record := func(res *mcp.CallToolResult) {
		seen = append(seen, textOf(res))
		b, _ := json.Marshal(res.StructuredContent)
		seen = append(seen, string(b))
	}
	s := h.planWeb(nil)
	good := h.approve(s.PlanID, "alice")
	bad := editPayload(t, good, func(c *approvals.Claims) { c.Approver = "bob" })
	record(h.applyWith(s.PlanID, bad))
	record(h.applyWith(s.PlanID, "pgt1.garbage.token"))
	record(h.applyWith(s.PlanID, good))
	record(h.applyWith(s.PlanID, good))
	record(h.call("get_plan", map[string]any{"plan_id": s.PlanID}))
	record(h.call("list_plans", nil))

	auditText, err := os.ReadFile(filepath.Join(h.cfg.StateDir, "audit.jsonl"))
	require.NoError(t, err)
	ledger, _ := os.ReadFile(filepath.Join(h.cfg.StateDir, "ledger.jsonl"))
	everything := strings.Join(seen, "\n") + h.logs.String() + string(auditText) + string(ledger)
	for _, secret := range []string{good, bad, strings.Split(good, ".")[2], strings.Split(bad, ".")[2]} {
		assert.NotContains(t, everything, secret)
	}
	for _, k := range h.keys {
		assert.NotContains(t, everything, base64.StdEncoding.EncodeToString(k.Key))
		assert.NotContains(t, everything, base64.RawURLEncoding.EncodeToString(k.Key))
		assert.NotContains(t, everything, base64.StdEncoding.EncodeToString(k.Key.Seed()))
	}
	assert.Contains(t, string(auditText), "token_fingerprints", "the audit log names tokens by fingerprint")
	n, err := h.deps.Gate.Audit.Verify()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 5)
}
