package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/tools"
)

// Bad input gets an isError result that names the problem and the fix, the
// server keeps serving, and nothing is left half-written.
func TestBadInputIsAClearErrorAndLeavesNothingBehind(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name string
		tool string
		args map[string]any
		want []string
	}{
		{"unknown stack", "plan_change", map[string]any{"stack": "prod"}, []string{`unknown stack "prod"`, "web, broken, failing, slow", "list_stacks"}},
		{"missing stack", "plan_change", map[string]any{}, []string{"invalid arguments for plan_change: missing required argument(s) stack", "stack (string, required, 1-64 characters): Stack name (list_stacks)."}},
		{"variable not allowlisted", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"db_password": "x"}},
			[]string{`variable "db_password" may not be set on stack "web"`, "replicas, image_tag", "plangate.hcl"}},
		{"wrong type", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": "many"}},
			[]string{`variable "replicas" has the wrong type`, "number"}},
		{"wrong type nested", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": []any{"a"}}},
			[]string{`variable "image_tag" has the wrong type`, "string"}},
		{"not an identifier", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"rm -rf /": 1}},
			[]string{"is not a Terraform identifier"}},
		{"newline in value", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v1\nreplicas = 9"}},
			[]string{`variable "image_tag"`, "control character"}},
		{"escape in value", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v1\x1b[31m"}},
			[]string{"control character"}},
		{"variables not an object", "plan_change", map[string]any{"stack": "web", "variables": "replicas=3"}, []string{"/variables: got string, want [object]", "variables (object): The stack's settable variables (list_stacks)"}},
		{"plan id unknown", "get_plan", map[string]any{"plan_id": "deadbeef-0000"}, []string{"no such plan", "list_plans"}},
		{"plan id malformed", "get_plan", map[string]any{"plan_id": "../../etc/passwd"}, []string{`malformed plan id "../../etc/passwd": give the plan id printed by plan_change`}},
		{"plan id too short", "get_plan", map[string]any{"plan_id": "abc"}, []string{"/plan_id: got 3, want 8", "plan_id (string, required, 8-36 characters)"}},
		{"plan id wrong type", "get_plan", map[string]any{"plan_id": 12345678}, []string{"/plan_id: got number, want [string]"}},
		{"negative offset", "get_plan", map[string]any{"plan_id": "deadbeef", "offset": -5}, []string{"/offset: got -5, want 0", "offset (integer, >= 0): Diff byte offset."}},
		{"discard unknown", "discard_plan", map[string]any{"plan_id": "deadbeefdeadbeef"}, []string{"no such plan"}},
		{"show unknown stack", "show_stack", map[string]any{"stack": "nope"}, []string{`unknown stack "nope"`}},
		{"list_plans bad status", "list_plans", map[string]any{"status": "approved"}, []string{"/status: got approved, want [awaiting_approval no_changes", "status (string, one of ["}},
		{"apply without plan_id", "apply_plan", map[string]any{"approval_tokens": []any{}}, []string{"missing required argument(s) plan_id", "plan_id (string, required, 8-36 characters)"}},
		{"apply without tokens argument", "apply_plan", map[string]any{"plan_id": "deadbeef"}, []string{"no such plan", "list_plans"}},
		{"apply unknown plan", "apply_plan", map[string]any{"plan_id": "deadbeef", "approval_tokens": []any{"pgt1.x.y"}}, []string{"no such plan", "list_plans"}},
		{"null for a variable not allowlisted", "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"db_password": nil}}, []string{`variable "db_password" may not be set on stack "web"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := h.fails(tc.tool, tc.args)
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			assert.NotContains(t, msg, "\x1b", "untrusted text is not echoed raw")
		})
	}
	// Nothing was recorded, no draft left behind, and the server still serves.
	var lp tools.ListPlansResult
	h.ok("list_plans", nil, &lp)
	assert.Empty(t, lp.Plans)
	entries, err := os.ReadDir(filepath.Join(h.cfg.StateDir, "plans"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), ".draft-"), "draft left behind: %s", e.Name())
	}
}

func TestAmbiguousPlanPrefix(t *testing.T) {
	h := newHarness(t)
	var a, b plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 1}}, &a)
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 2}}, &b)
	// Give both plans directories sharing an 8-character prefix.
	shared := "abcdef01"
	for i, id := range []string{a.PlanID, b.PlanID} {
		newID := shared + id[8:]
		if i == 1 {
			newID = shared + "-ffff" + id[13:]
		}
		require.NoError(t, os.Rename(h.deps.Store.Dir(id), h.deps.Store.Dir(newID)))
	}
	msg := h.fails("get_plan", map[string]any{"plan_id": shared})
	assert.Contains(t, msg, "ambiguous")
	assert.Contains(t, msg, "give more characters")
}

func TestInvalidHCLReturnsTerraformDiagnostics(t *testing.T) {
	h := newHarness(t)
	msg := h.fails("plan_change", map[string]any{"stack": "broken"})
	assert.Contains(t, msg, `stack "broken"`)
	assert.Contains(t, msg, "main.tf")
	assert.Contains(t, msg, "Fix the "+tftest.Product(t).String()+" configuration")
	assert.NotContains(t, msg, "\x1b[", "colour codes are stripped")
	assert.Less(t, len(msg), 6000, "diagnostics are trimmed")
	var lp tools.ListPlansResult
	h.ok("list_plans", nil, &lp)
	assert.Empty(t, lp.Plans, "nothing recorded")
}

func TestPlanThatErrorsHalfWayIsRecordedFailed(t *testing.T) {
	h := newHarness(t)
	res := h.call("plan_change", map[string]any{"stack": "failing", "variables": map[string]any{"healthy": false}})
	require.False(t, res.IsError, "a failed plan is a recorded result, not a tool error: %s", textOf(res))
	var s plan.Summary
	decode(t, res.StructuredContent, &s)
	assert.Equal(t, plan.StatusFailed, s.Status)
	assert.Empty(t, s.ApproveCommand, "never approvable")
	assert.Empty(t, s.PlanSHA256)
	require.NotEmpty(t, s.Errors)
	assert.Contains(t, s.Errors[0], "The stack is not healthy")
	text := textOf(res)
	assert.True(t, strings.HasPrefix(text, "Plan "+s.PlanID[:8]+"… for failing: "), text)
	assert.Contains(t, strings.SplitN(text, "\n", 2)[0], " — FAILED: "+tftest.Product(t).String()+" reported errors", text)
	assert.NotContains(t, text, "plangate approve")
	assert.NoFileExists(t, filepath.Join(h.deps.Store.Dir(s.PlanID), plan.PlanFile), "a failed plan keeps no plan file to apply")

	// And the healthy variant of the same stack plans fine.
	h.ok("plan_change", map[string]any{"stack": "failing"}, &s)
	assert.Equal(t, plan.StatusAwaitingApproval, s.Status)
}

func TestNoChangesPlan(t *testing.T) {
	h := newHarness(t)
	var s plan.Summary
	h.ok("plan_change", map[string]any{"stack": "slow", "variables": map[string]any{"n": 0}}, &s)
	assert.Equal(t, plan.StatusNoChanges, s.Status)
	assert.Empty(t, s.ApproveCommand)
}

func TestTerraformMissingOrTooOld(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		h := newHarness(t, withTerraform(func() (string, error) { return "", errors.New("terraform not found: install Terraform >= 1.5") }))
		msg := h.fails("plan_change", map[string]any{"stack": "web"})
		assert.Contains(t, msg, "terraform not found")
		assert.Contains(t, msg, "install Terraform")
		h.ok("list_stacks", nil, nil) // still serving
	})
	t.Run("too old", func(t *testing.T) {
		// A stand-in executable that reports an old version, as Terraform 1.4 would.
		old := filepath.Join(t.TempDir(), "terraform")
		require.NoError(t, os.WriteFile(old, []byte("#!/bin/sh\necho 'Terraform v1.4.6'\necho 'on linux_amd64'\n"), 0o755))
		h := newHarness(t, withTerraform(func() (string, error) { return old, nil }))
		msg := h.fails("plan_change", map[string]any{"stack": "web"})
		assert.Contains(t, msg, "1.4.6")
		assert.Contains(t, msg, "too old")
		assert.Contains(t, msg, ">= 1.5.0")
	})
}
