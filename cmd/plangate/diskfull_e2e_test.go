package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	verify("at the end")
}
