package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// initialized is the result of initialize, the session initialized.
func (r *rpc) initialized() map[string]any {
	r.t.Helper()
	res := r.request("initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "e2e", "version": "1"},
	})
	require.Nil(r.t, res["error"], "initialize")
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return res["result"].(map[string]any)
}

// stop closes the server's stdin and waits for it to exit, every line it
// wrote on stdout checked as JSON-RPC.
func (r *rpc) stop() error {
	r.t.Helper()
	require.NoError(r.t, r.stdin.Close())
	for line := range r.lines {
		r.all = append(r.all, line)
	}
	err := r.cmd.Wait()
	for _, line := range r.all {
		mustJSONRPC(r.t, line)
	}
	return err
}

// A plan whose record.json was cut short is listed as corrupt, with the
// reason, by list_plans over MCP and by plangate plans; reading it says
// what is wrong; plan_change does not carry values past it.
func TestCorruptRecordIsListed(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	r := serve(t, dir)
	r.initialized()
	pc := r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 3}})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)

	path := filepath.Join(stateDir(t, dir), "plans", id, "record.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)/2], 0o600))
	reason := "record.json is not valid JSON: unexpected end of JSON input; the plan can never be approved or applied; move the directory " + filepath.Dir(path) + " aside"

	lp := r.callTool("list_plans", map[string]any{})
	require.NotEqual(t, true, lp["isError"], resultText(lp))
	plans := lp["structuredContent"].(map[string]any)["plans"].([]any)
	require.Len(t, plans, 1, "listed, not left out")
	p := plans[0].(map[string]any)
	assert.Equal(t, id, p["plan_id"])
	assert.Equal(t, "corrupt", p["status"])
	assert.Equal(t, "web", p["stack"])
	assert.Contains(t, p["reason"], reason)
	assert.Contains(t, resultText(lp), id+"  web      corrupt           "+reason)
	lp = r.callTool("list_plans", map[string]any{"status": "corrupt"})
	assert.Len(t, lp["structuredContent"].(map[string]any)["plans"], 1)

	gp := r.callTool("get_plan", map[string]any{"plan_id": id[:8]})
	assert.Equal(t, true, gp["isError"])
	assert.Contains(t, resultText(gp), "plan "+id+": "+reason)
	ap := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{"pgt1.x.y"}})
	assert.Equal(t, true, ap["isError"])

	// No plan of web was applied that plangate can read; the corrupt one
	// may have been: leaving variables out would take the defaults.
	pc = r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 2}})
	assert.Equal(t, true, pc["isError"])
	assert.Contains(t, resultText(pc), "the record of plan "+id+" cannot be read")
	assert.Contains(t, resultText(pc), `You left out "image_tag", "network_cidr"`)
	require.NoError(t, r.stop(), r.stderr.String())

	out, err := exec.Command(binary, "plans", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(string(out), "\n")
	assert.Regexp(t, `^`+id+` +web +corrupt +- +- +- +- +\d+s$`, lines[1])
	assert.Contains(t, string(out), "\nplan "+id+": "+reason)
	out, err = exec.Command(binary, "plans", "--config", cfg, "--status", "awaiting_approval").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.NotContains(t, string(out), id)

	out, err = exec.Command(binary, "show", "--config", cfg, id[:8]).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "plan "+id+": "+reason)
}
