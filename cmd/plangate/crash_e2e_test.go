package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

// slowProject is the demo project with the slowapply stack (four
// resources, one after another, each a provisioner that sleeps) and an
// approver key.
func slowProject(t *testing.T) (dir, cfg, key string) {
	t.Helper()
	dir = project(t)
	cfg = filepath.Join(dir, "plangate.hcl")
	tftest.CopyDir(t, filepath.Join(tftest.RepoRoot(t), "fixtures", "stacks", "slowapply"), filepath.Join(dir, "stacks", "slowapply"))
	key = filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	extra := "\nstack \"slowapply\" {\n  dir = \"stacks/slowapply\"\n  variables = [\"step_seconds\"]\n  policy {\n    allow_provisioners = true\n  }\n}\n\n" +
		string(out[strings.Index(string(out), "approver \"oncall\" {"):])
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(extra)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return dir, cfg, key
}

// startSlowApply plans slowapply, approves it and starts apply_plan with
// a progress token, returning once the first resource is done.
func startSlowApply(t *testing.T, r *rpc, cfg, key string) (id, token string) {
	t.Helper()
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	pc := r.callTool("plan_change", map[string]any{"stack": "slowapply", "variables": map[string]any{"step_seconds": 2}})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	id = pc["structuredContent"].(map[string]any)["plan_id"].(string)
	approved, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(approved)), "\n")
	token = lines[len(lines)-1]
	r.send(map[string]any{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": map[string]any{
		"name": "apply_plan", "arguments": map[string]any{"plan_id": id, "approval_tokens": []string{token}},
		"_meta": map[string]any{"progressToken": "crash"},
	}})
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-r.lines:
			require.True(t, ok, r.stderr.String())
			msg := mustJSONRPC(t, line)
			if msg["method"] == "notifications/progress" {
				if p, _ := msg["params"].(map[string]any)["progress"].(float64); p >= 1 {
					return id, token
				}
			}
		case <-deadline:
			t.Fatal("no progress from the apply")
		}
	}
}

// record reads a plan's record as the store keeps it.
func record(t *testing.T, dir, id string) *plan.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir(t, dir), "plans", id, plan.RecordFile))
	require.NoError(t, err)
	var rec plan.Record
	require.NoError(t, json.Unmarshal(b, &rec))
	return &rec
}

// plansStatus runs `plangate plans` (which, like every command, records
// applies whose plangate died) until the plan has a status other than
// applying, and returns it.
func plansStatus(t *testing.T, dir, cfg, id string) plan.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command(binary, "plans", "--config", cfg).CombinedOutput()
		require.NoError(t, err, string(out))
		if s := record(t, dir, id).Status; s != plan.StatusApplying || time.Now().After(deadline) {
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func stateList(t *testing.T, dir, stack string) string {
	t.Helper()
	tfPath, err := tfbin.Find()
	require.NoError(t, err)
	tf := exec.Command(tfPath, "state", "list")
	tf.Dir = filepath.Join(dir, "stacks", stack)
	tf.Env = append(os.Environ(), "TF_DATA_DIR="+filepath.Join(stateDir(t, dir), "terraform", stack))
	out, err := tf.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// kill -9 of plangate serve in the middle of an apply: Terraform is not
// killed with it. It finishes and saves the state (no orphans); the next
// plangate records the plan applied (apply_recovered), and the plan can
// never be approved or applied again.
func TestKillNineOfTheServerMidApply(t *testing.T) {
	dir, cfg, key := slowProject(t)
	r := serve(t, dir)
	id, token := startSlowApply(t, r, cfg, key)

	rec := record(t, dir, id)
	require.Equal(t, plan.StatusApplying, rec.Status, "applying is on record while Terraform runs")
	require.NotNil(t, rec.Apply)
	require.NotNil(t, rec.Apply.Terraform, "the record names the Terraform process")
	assert.Equal(t, r.cmd.Process.Pid, rec.Apply.Plangate.PID)

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	_ = r.cmd.Wait()

	assert.Equal(t, plan.StatusApplied, plansStatus(t, dir, cfg, id))
	state := stateList(t, dir, "slowapply")
	for _, res := range []string{"a", "b", "c", "d"} {
		assert.Contains(t, state, "terraform_data."+res, "every create that ran is in the state")
		assert.FileExists(t, filepath.Join(dir, "stacks", "slowapply", "done-"+res))
	}
	out, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "apply_recovered")

	// Never again: neither a new approval nor an apply with a new server.
	out, err = exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "already applied")
	r2 := serve(t, dir)
	r2.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}})
	again := r2.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	assert.Equal(t, true, again["isError"])
	assert.Contains(t, resultText(again), "already applied")
}

// kill -9 of Terraform itself mid-apply, plangate alive: the plan ends
// failed, truthfully, and can never be applied again.
func TestKillNineOfTerraformMidApply(t *testing.T) {
	dir, cfg, key := slowProject(t)
	r := serve(t, dir)
	id, token := startSlowApply(t, r, cfg, key)
	rec := record(t, dir, id)
	require.NotNil(t, rec.Apply.Terraform)
	require.NoError(t, syscall.Kill(rec.Apply.Terraform.PID, syscall.SIGKILL))

	deadline := time.After(2 * time.Minute)
	var result map[string]any
	for result == nil {
		select {
		case line, ok := <-r.lines:
			require.True(t, ok, r.stderr.String())
			msg := mustJSONRPC(t, line)
			if msg["id"] == float64(99) {
				result = msg["result"].(map[string]any)
			}
		case <-deadline:
			t.Fatal("no apply_plan result")
		}
	}
	sc := result["structuredContent"].(map[string]any)
	assert.Equal(t, "failed", sc["status"], resultText(result))
	assert.Equal(t, plan.StatusFailed, record(t, dir, id).Status)
	again := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	assert.Equal(t, true, again["isError"])
	assert.Contains(t, resultText(again), "failed")
}

// freeze --stop interrupts an apply in flight: Terraform stops gracefully
// (the resources it finished are in the state, the lock is free), the
// plan ends interrupted, and the freeze is audited with what it stopped.
func TestFreezeStopInterruptsTheApply(t *testing.T) {
	dir, cfg, key := slowProject(t)
	r := serve(t, dir)
	id, _ := startSlowApply(t, r, cfg, key)
	out, err := exec.Command(binary, "freeze", "slowapply", "--stop", "--reason", "incident 12", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "interrupting the apply of plan "+id)
	assert.Contains(t, string(out), "plan "+id+": interrupted")

	var result map[string]any
	deadline := time.After(2 * time.Minute)
	for result == nil {
		select {
		case line, ok := <-r.lines:
			require.True(t, ok, r.stderr.String())
			if msg := mustJSONRPC(t, line); msg["id"] == float64(99) {
				result = msg["result"].(map[string]any)
			}
		case <-deadline:
			t.Fatal("no apply_plan result")
		}
	}
	assert.Equal(t, "interrupted", result["structuredContent"].(map[string]any)["status"], resultText(result))
	state := stateList(t, dir, "slowapply")
	assert.Contains(t, state, "terraform_data.a")
	assert.NotContains(t, state, "terraform_data.d", "the apply stopped part-way")
	for _, res := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(dir, "stacks", "slowapply", "done-"+res)); err == nil {
			assert.Contains(t, state, "terraform_data."+res, "%s finished, so it is in the state", res)
		}
	}
	// The state lock is free: a new plan runs.
	pc := r.callTool("plan_change", map[string]any{"stack": "slowapply"})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	out, err = exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "--stop: interrupted the apply of "+id)
	assert.Contains(t, string(out), "apply_interrupted")
}

// Reads never wait for a Terraform run: while an apply runs, show_stack
// (labelled), list_plans, get_plan and list_stacks answer before the
// apply does; a plan_change on the busy stack waits at most its
// queue_timeout and says how many runs are ahead.
func TestReadsDoNotWaitForAnApply(t *testing.T) {
	dir, cfg, key := slowProject(t)
	src, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(src), "dir = \"stacks/slowapply\"\n", "dir = \"stacks/slowapply\"\n  queue_timeout = \"1s\"\n", 1)), 0o644))
	r := serve(t, dir)
	id, _ := startSlowApply(t, r, cfg, key)
	applyAnswered := func() bool {
		for _, line := range r.all {
			if msg := mustJSONRPC(t, line); msg["id"] == float64(99) {
				return true
			}
		}
		return false
	}

	show := r.callTool("show_stack", map[string]any{"stack": "slowapply"})
	require.NotEqual(t, true, show["isError"], resultText(show))
	assert.Contains(t, resultText(show), "NOTE: read while a plan or apply was running on this stack")
	assert.NotEmpty(t, show["structuredContent"].(map[string]any)["concurrent"])
	for _, call := range []struct {
		name string
		args map[string]any
	}{{"list_plans", map[string]any{}}, {"get_plan", map[string]any{"plan_id": id}}, {"list_stacks", map[string]any{}}} {
		res := r.callTool(call.name, call.args)
		assert.NotEqual(t, true, res["isError"], "%s: %s", call.name, resultText(res))
	}
	busy := r.callTool("plan_change", map[string]any{"stack": "slowapply"})
	assert.Equal(t, true, busy["isError"])
	assert.Contains(t, resultText(busy), `stack "slowapply" is busy: waited 1s (its queue_timeout) behind 1 Terraform run(s)`)
	assert.False(t, applyAnswered(), "every read answered while the apply still ran")
	assert.Equal(t, plan.StatusApplying, record(t, dir, id).Status)
}
