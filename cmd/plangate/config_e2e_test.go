package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
)

// A running server re-reads plangate.hcl on every call, and safety goes
// one way: a human's tightening applies at once, to pending plans too; a
// loosening — an agent's edit, say — waits until an accepted approver
// accepts it, across restarts. The agent here adds an approver with a key
// it made, and mints a token with it.
func TestConfigEditsOverStdio(t *testing.T) {
	k := newKillSwitch(t)
	orig, err := os.ReadFile(k.cfg)
	require.NoError(t, err)
	edit := func(src string) { require.NoError(t, os.WriteFile(k.cfg, []byte(src), 0o644)) }
	one := "approvals          = 1\n    deletion_approvals = 1"
	two := "approvals          = 2\n    deletion_approvals = 2"
	require.Contains(t, string(orig), one)

	start := func() *rpc {
		r := serve(t, k.dir)
		r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e-agent", "version": "1"}})
		r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
		return r
	}
	policy := func(r *rpc) (approvals float64, warnings []any) {
		ls := r.callTool("list_stacks", map[string]any{})["structuredContent"].(map[string]any)
		st := ls["stacks"].([]any)[0].(map[string]any)
		return st["policy"].(map[string]any)["approvals"].(float64), ls["warnings"].([]any)
	}
	r := start()
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	sc := pc["structuredContent"].(map[string]any)
	id, sum := sc["plan_id"].(string), sc["plan_sha256"].(string)
	expires, err := time.Parse(time.RFC3339, sc["expires_at"].(string))
	require.NoError(t, err)
	out, stderr, code := k.run("approve", "--config", k.cfg, "--passphrase-file", k.passFile, "--yes", id)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "pgt1."), out)

	// A human raises approvals to 2 while the server runs: the next call
	// enforces it, and the one-approver token no longer applies.
	edit(strings.Replace(string(orig), one, two, 1))
	n, _ := policy(r)
	assert.Equal(t, 2.0, n, "list_stacks shows the config as it is now")
	refused := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.Equal(t, true, refused["isError"])
	assert.Contains(t, resultText(refused), "this plan needs 2 different approvers and has 1 (oncall)")

	// Lowering it again is a loosening: it waits for acceptance.
	edit(string(orig))
	n, warnings := policy(r)
	assert.Equal(t, 2.0, n)
	require.NotEmpty(t, warnings)
	assert.Contains(t, warnings[len(warnings)-1], "wait for an approver to accept them")
	refused = r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.Equal(t, true, refused["isError"], "a loosening does not apply before it is accepted")
	assert.Contains(t, resultText(refused), "this plan needs 2 different approvers and has 1 (oncall)")

	// The agent appends an approver with a key it made, and mints itself
	// a token with that key.
	malloryKeyFile := filepath.Join(t.TempDir(), "agent.key")
	out, stderr, code = k.run("keygen", "--name", "mallory", "--out", malloryKeyFile)
	require.Equal(t, 0, code, stderr)
	edit(string(orig) + "\n" + out[strings.Index(out, `approver "mallory" {`):])
	mkey, err := approvals.ReadPrivateKey(malloryKeyFile, nil)
	require.NoError(t, err)
	minted, _, err := approvals.Issue(mkey, id, sum, "web", expires, time.Now(), time.Hour)
	require.NoError(t, err)

	for round, srv := range []*rpc{r, nil} {
		if srv == nil { // after a restart, the same
			srv = start()
		}
		res := srv.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token, minted}})
		require.Equal(t, true, res["isError"], "round %d: %s", round, resultText(res))
		assert.Contains(t, resultText(res), `Approver "mallory" is in plangate.hcl but not accepted`, "round %d", round)
		r = srv
	}
	// Nor can the agent's approver approve, or accept itself.
	_, stderr, code = k.run("approve", "--config", k.cfg, "--key", malloryKeyFile, "--yes", id)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "not accepted yet")
	_, stderr, code = k.run("config", "accept", "--config", k.cfg, "--key", malloryKeyFile, "--yes")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "an approver cannot accept themselves")

	// config status shows what waits, as a diff of the safety settings.
	out, stderr, code = k.run("config", "status", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "3 change(s) make plangate less safe")
	assert.Contains(t, out, "stack \"web\": approvals\n    - accepted: 2\n    + file:     1")
	assert.Contains(t, out, "approver \"mallory\"\n    - accepted: (none)\n    + file:     key ed25519:")

	// The accepted approver reviews and accepts: the server takes it at
	// its next call; the token with one approval applies.
	_, stderr, code = k.run("config", "accept", "--config", k.cfg, "--passphrase-file", k.passFile)
	assert.NotEqual(t, 0, code, "no answer on stdin accepts nothing")
	assert.Contains(t, stderr, "nothing was accepted")
	out, stderr, code = k.run("config", "accept", "--config", k.cfg, "--passphrase-file", k.passFile, "--yes")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "as approver oncall: 3 change(s) apply now")
	n, _ = policy(r)
	assert.Equal(t, 1.0, n)
	out, stderr, code = k.run("config", "status", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Nothing waits for acceptance")
	applied := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.NotEqual(t, true, applied["isError"], resultText(applied))
	assert.Equal(t, "applied", applied["structuredContent"].(map[string]any)["status"])

	var accepted []map[string]any
	for _, ev := range k.auditEvents() {
		if ev["event"] == "config_accepted" {
			accepted = append(accepted, ev)
		}
	}
	require.Len(t, accepted, 3, "first use, the stricter approvals, the approver's acceptance")
	assert.Equal(t, "plangate", accepted[0]["actor"])
	assert.Contains(t, accepted[1]["reason"], "stricter settings apply at once")
	assert.Equal(t, "oncall", accepted[2]["actor"])
	assert.Regexp(t, `^[0-9a-f]{64}$`, accepted[2]["config_sha256"])

	// A shorter plan_ttl applies to a pending plan at once.
	pc = r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 1}})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	id2 := pc["structuredContent"].(map[string]any)["plan_id"].(string)
	cur, err := os.ReadFile(k.cfg)
	require.NoError(t, err)
	edit(strings.Replace(string(cur), `plan_ttl           = "1h"`, `plan_ttl           = "1s"`, 1))
	time.Sleep(1100 * time.Millisecond)
	_, stderr, code = k.run("approve", "--config", k.cfg, "--passphrase-file", k.passFile, "--yes", id2)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "plan_ttl of stack \"web\" is 1s now")
}
