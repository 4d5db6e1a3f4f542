package main_test

import (
	"errors"
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

// A plangate serve that cannot open its state (or its config) still
// answers initialize and tools/list, and every tool call with an isError
// that names the problem and the fix; stdout stays MCP alone.
func TestServeThatCannotOpenItsStateExplainsItself(t *testing.T) {
	for name, c := range map[string]struct {
		damage func(t *testing.T, dir, state string) string // the problem, as named
		config bool
	}{
		"ledger is a directory": {damage: func(t *testing.T, dir, state string) string {
			ledger := filepath.Join(state, "ledger.jsonl")
			require.NoError(t, os.RemoveAll(ledger))
			require.NoError(t, os.Mkdir(ledger, 0o700))
			return "plangate cannot open its state dir " + state + ": open approval ledger: open " + ledger + ": is a directory"
		}},
		"plans is a file": {damage: func(t *testing.T, dir, state string) string {
			plans := filepath.Join(state, "plans")
			require.NoError(t, os.RemoveAll(plans))
			require.NoError(t, os.WriteFile(plans, nil, 0o600))
			return "plangate cannot open its state dir " + state + ": plan store: mkdir " + plans + ": not a directory"
		}},
		// The accepted config's record lives in the state dir: it is read first.
		"state dir is a file": {config: true, damage: func(t *testing.T, dir, state string) string {
			require.NoError(t, os.RemoveAll(state))
			require.NoError(t, os.WriteFile(state, nil, 0o600))
			return "plangate cannot read its config: read the accepted config " + filepath.Join(state, "accepted-config.json")
		}},
		"audit log immutable": {damage: func(t *testing.T, dir, state string) string {
			log := filepath.Join(state, "audit.jsonl")
			f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			if out, err := exec.Command("chattr", "+i", log).CombinedOutput(); err != nil {
				t.Skipf("chattr +i: %v %s", err, out)
			}
			t.Cleanup(func() { _ = exec.Command("chattr", "-i", log).Run() })
			return "plangate cannot open its state dir " + state + ": cannot append to the audit log " + log + ": operation not permitted"
		}},
		"config is invalid": {config: true, damage: func(t *testing.T, dir, state string) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plangate.hcl"), []byte("stack \"web\" {\n"), 0o644))
			return "plangate cannot read its config: "
		}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := project(t)
			state := stateDir(t, dir)
			out, err := exec.Command(binary, "plans", "--config", filepath.Join(dir, "plangate.hcl")).CombinedOutput()
			require.NoError(t, err, string(out))
			problem := c.damage(t, dir, state)
			fix := "a human fixes it"
			if c.config {
				fix = "a human fixes plangate.hcl or the file named"
			}

			r := serve(t, dir)
			init := r.initialized()
			assert.Equal(t, "plangate", init["serverInfo"].(map[string]any)["name"])
			assert.Contains(t, init["instructions"], "plangate cannot work now: "+problem)
			list := r.request("tools/list", map[string]any{})
			tools := list["result"].(map[string]any)["tools"].([]any)
			require.Len(t, tools, 8, "the tools, as always")
			for _, tl := range tools {
				tool := tl.(map[string]any)
				assert.Contains(t, tool, "inputSchema")
				res := r.callTool(tool["name"].(string), map[string]any{"stack": "web", "plan_id": "0123456789abcdef"})
				assert.Equal(t, true, res["isError"], tool["name"])
				text := resultText(res)
				assert.Contains(t, text, problem, tool["name"])
				assert.Contains(t, text, fix, tool["name"])
				assert.Contains(t, text, "restarts plangate", tool["name"])
			}
			r.request("ping", map[string]any{})

			err = r.stop()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "the server exits non-zero once the client is gone: %v", err)
			assert.Contains(t, r.stderr.String(), "plangate cannot work", "logged on stderr")
		})
	}
}
