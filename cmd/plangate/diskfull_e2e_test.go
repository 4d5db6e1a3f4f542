package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

// fullDisk is a state dir on a small tmpfs of its own, which the test
// fills to the last byte and frees again: a real ENOSPC at each write.
type fullDisk struct {
	t      *testing.T
	dir    string
	filler string
}

func newFullDisk(t *testing.T) *fullDisk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return &fullDisk{t: t, dir: dir, filler: filepath.Join(dir, "filler")}
}

// fill writes until the file system is full.
func (d *fullDisk) fill() {
	d.t.Helper()
	f, err := os.OpenFile(d.filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(d.t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			require.True(d.t, errors.Is(err, syscall.ENOSPC), "filling the tmpfs: %v", err)
			break
		}
	}
	// The last partial page too.
	for _, n := range []int{1024, 64, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

func (d *fullDisk) free() {
	d.t.Helper()
	require.NoError(d.t, os.Remove(d.filler))
}

// A full disk at each write point: nothing is left half-written, every
// refusal names the write that failed, the audit chain verifies, and the
// statuses are true afterwards.
func TestFullDiskAtEveryWritePoint(t *testing.T) {
	disk := newFullDisk(t)
	dir, cfg, key := slowProject(t)
	src, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte("state_dir = \""+disk.dir+"\"\n"+string(src)), 0o644))
	cli := func(args ...string) (string, string, error) {
		cmd := exec.Command(binary, append(args, "--config", cfg)...)
		cmd.SysProcAttr = noControllingTTY()
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	verify := func(when string) {
		t.Helper()
		out, stderr, err := cli("audit", "verify")
		require.NoError(t, err, "%s: %s%s", when, out, stderr)
		assert.Contains(t, out, "hash chain intact", when)
	}
	r := serve(t, dir)
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})

	// Before a plan: refused, nothing recorded.
	disk.fill()
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	assert.Equal(t, true, pc["isError"])
	assert.Contains(t, resultText(pc), "no space left on device")
	listed := r.callTool("list_plans", map[string]any{})
	assert.Empty(t, listed["structuredContent"].(map[string]any)["plans"], "no half-made plan is listed")
	disk.free()
	verify("after a plan on a full disk")

	// Before approve: no token printed, and no plan_approved line.
	pc = r.callTool("plan_change", map[string]any{"stack": "web"})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)
	disk.fill()
	out, stderr, err := cli("approve", "--key", key, "--yes", id)
	require.Error(t, err)
	assert.Contains(t, stderr, "no token issued")
	assert.NotContains(t, out, "pgt1.")
	disk.free()
	verify("after approve on a full disk")
	out, _, err = cli("audit")
	require.NoError(t, err)
	assert.NotContains(t, out, "plan_approved", "no plan_approved line for a token that was never printed")

	// Before apply: nothing runs, the token stays good.
	out, stderr, err = cli("approve", "--key", key, "--yes", id)
	require.NoError(t, err, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	disk.fill()
	refused := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	assert.Equal(t, true, refused["isError"])
	assert.Contains(t, resultText(refused), "the audit log could not be written")
	assert.Contains(t, resultText(refused), "the approval tokens were not used")
	disk.free()
	verify("after apply on a full disk")
	applied := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.NotEqual(t, true, applied["isError"], resultText(applied))
	assert.Equal(t, "applied", applied["structuredContent"].(map[string]any)["status"])
	assert.Contains(t, stateList(t, dir, "web"), "terraform_data.database")
	verify("after the apply")

	// Mid-apply: Terraform goes on (its state is in the stack dir); the
	// result says the outcome could not be recorded; once there is room
	// again, the server records the truth by itself.
	id, _ = startSlowApply(t, r, cfg, key)
	disk.fill()
	var result map[string]any
	for result == nil {
		line, ok := <-r.lines
		require.True(t, ok, r.stderr.String())
		if msg := mustJSONRPC(t, line); msg["id"] == float64(99) {
			result = msg["result"].(map[string]any)
		}
	}
	assert.Equal(t, "applied", result["structuredContent"].(map[string]any)["status"], resultText(result))
	assert.Contains(t, resultText(result), "plangate could not record the outcome")
	assert.Equal(t, plan.StatusApplying, record(t, dir, id).Status, "never awaiting_approval")
	disk.free()
	require.Eventually(t, func() bool { return record(t, dir, id).Status == plan.StatusApplied }, time.Minute, 200*time.Millisecond,
		"the server records the outcome once it can")
	for _, res := range []string{"a", "b", "c", "d"} {
		assert.Contains(t, stateList(t, dir, "slowapply"), "terraform_data."+res)
	}
	verify("at the end")
	out, _, err = cli("audit")
	require.NoError(t, err)
	assert.Contains(t, out, "applied ", "the applied event landed once there was room")
}
