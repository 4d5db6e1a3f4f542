package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plangate-bin-*")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "plangate")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building plangate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// project writes the demo project with `plangate init` and returns its
// dir. Its config sets no state_dir: the records go to the test's own
// $XDG_STATE_HOME (tftest.Setup), found with stateDir.
func project(t *testing.T) string {
	t.Helper()
	tftest.Setup(t)
	dir := filepath.Join(t.TempDir(), "proj")
	out, err := exec.Command(binary, "init", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	return dir
}

// stateDir is the state_dir of the project in dir, as plangate resolves it.
func stateDir(t *testing.T, dir string) string {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "plangate.hcl"))
	require.NoError(t, err)
	return cfg.StateDir
}

// rpc is a raw JSON-RPC session with `plangate serve` over its stdio: the
// exact bytes an MCP client would see.
type rpc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	all    []string
	stderr *strings.Builder
	nextID int
}

func serve(t *testing.T, dir string) *rpc {
	t.Helper()
	return serveWithEnv(t, dir, nil)
}

// serveWithEnv starts `plangate serve` with exactly env as its environment
// (nil: the test's own).
func serveWithEnv(t *testing.T, dir string, env []string) *rpc {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", filepath.Join(dir, "plangate.hcl"))
	cmd.Env = env
	return startRPC(t, cmd)
}

// startRPC starts cmd (a plangate serve, or its relay) and speaks raw
// JSON-RPC lines over its stdio; the process is killed at the test's end.
func startRPC(t *testing.T, cmd *exec.Cmd) *rpc {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	r := &rpc{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 256), stderr: &stderr}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return r
}

func (r *rpc) send(v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(r.t, err)
	_, err = r.stdin.Write(append(b, '\n'))
	require.NoError(r.t, err)
}

// request sends a request and waits for the response with its id; every
// line read on the way must be JSON-RPC.
func (r *rpc) request(method string, params any) map[string]any {
	r.t.Helper()
	r.nextID++
	id := r.nextID
	r.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case line, ok := <-r.lines:
			require.True(r.t, ok, "server closed stdout; stderr:\n%s", r.stderr)
			r.all = append(r.all, line)
			msg := mustJSONRPC(r.t, line)
			if idv, ok := msg["id"].(float64); ok && int(idv) == id {
				return msg
			}
		case <-deadline:
			r.t.Fatalf("no response to %s; stderr:\n%s", method, r.stderr)
		}
	}
}

func (r *rpc) callTool(name string, args map[string]any) map[string]any {
	r.t.Helper()
	msg := r.request("tools/call", map[string]any{"name": name, "arguments": args})
	require.Nil(r.t, msg["error"], "tools/call %s: protocol error", name)
	return msg["result"].(map[string]any)
}

func mustJSONRPC(t *testing.T, line string) map[string]any {
	t.Helper()
	var msg map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &msg), "stdout line is not JSON: %q", line)
	require.Equal(t, "2.0", msg["jsonrpc"], "stdout line is not JSON-RPC 2.0: %q", line)
	return msg
}

func resultText(res map[string]any) string {
	var b strings.Builder
	for _, c := range res["content"].([]any) {
		if m := c.(map[string]any); m["type"] == "text" {
			b.WriteString(m["text"].(string))
		}
	}
	return b.String()
}

func TestServeOverStdio(t *testing.T) {
	for _, version := range []string{"2025-06-18", "2025-11-25"} {
		t.Run(version, func(t *testing.T) {
			dir := project(t)
			r := serve(t, dir)

			init := r.request("initialize", map[string]any{
				"protocolVersion": version,
				"capabilities":    map[string]any{},
				"clientInfo":      map[string]any{"name": "e2e", "version": "1"},
			})
			res := init["result"].(map[string]any)
			assert.Equal(t, version, res["protocolVersion"])
			assert.Contains(t, res["instructions"], "plangate approve")
			r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})

			list := r.request("tools/list", map[string]any{})
			toolsList := list["result"].(map[string]any)["tools"].([]any)
			names := map[string]map[string]any{}
			for _, tl := range toolsList {
				m := tl.(map[string]any)
				names[m["name"].(string)] = m
			}
			require.Contains(t, names, "plan_change")
			ann := names["plan_change"]["annotations"].(map[string]any)
			assert.Equal(t, false, ann["readOnlyHint"])
			assert.Equal(t, false, ann["destructiveHint"])
			assert.Equal(t, false, ann["idempotentHint"])
			assert.Equal(t, true, ann["openWorldHint"])
			for name, m := range names {
				a := m["annotations"].(map[string]any)
				for _, hint := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
					assert.Contains(t, a, hint, "%s sets %s", name, hint)
				}
			}

			pc := r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 3}})
			require.NotEqual(t, true, pc["isError"], resultText(pc))
			sc := pc["structuredContent"].(map[string]any)
			assert.Equal(t, "awaiting_approval", sc["status"])
			assert.Equal(t, float64(6), sc["counts"].(map[string]any)["add"])
			assert.Equal(t, float64(0), sc["deletions"])
			id := sc["plan_id"].(string)
			text := resultText(pc)
			assert.True(t, strings.HasPrefix(text, "Plan "+id[:8]+"… for web: 6 to add, 0 to change, 0 to destroy"), text)
			assert.Contains(t, text, "plangate approve "+id)
			assert.NotContains(t, text, "demo-only-not-a-secret")

			gp := r.callTool("get_plan", map[string]any{"plan_id": id[:8]})
			require.NotEqual(t, true, gp["isError"], resultText(gp))
			assert.Equal(t, id, gp["structuredContent"].(map[string]any)["plan_id"])

			bad := r.callTool("plan_change", map[string]any{"stack": "nope"})
			assert.Equal(t, true, bad["isError"])

			// A line that is not JSON gets a JSON-RPC parse error, and the server goes on.
			_, err := r.stdin.Write([]byte("this is not json\n"))
			require.NoError(t, err)
			unknown := r.request("no/such/method", map[string]any{})
			assert.NotNil(t, unknown["error"])
			r.request("ping", map[string]any{})

			// Closing stdin ends the server cleanly.
			require.NoError(t, r.stdin.Close())
			for line := range r.lines {
				r.all = append(r.all, line)
			}
			require.NoError(t, r.cmd.Wait(), r.stderr.String())
			for _, line := range r.all {
				mustJSONRPC(t, line)
			}
			assert.Contains(t, r.stderr.String(), "plangate serving over stdio", "logs go to stderr")
			assert.NotContains(t, r.stderr.String(), "demo-only-not-a-secret")

			// The CLI sees the plan the server recorded.
			out, err := exec.Command(binary, "plans", "--config", filepath.Join(dir, "plangate.hcl")).CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Contains(t, string(out), id)
			assert.Contains(t, string(out), "awaiting_approval")
			out, err = exec.Command(binary, "show", "--config", filepath.Join(dir, "plangate.hcl"), id[:8]).CombinedOutput()
			require.NoError(t, err, string(out))
			assert.True(t, strings.HasPrefix(string(out), "Plan "+id[:8]), string(out))
			assert.Contains(t, string(out), "# terraform_data.web[2] will be created")
		})
	}
}

func TestCLI(t *testing.T) {
	// `plangate init` projects keep their records in the user's state
	// directory: this test's own.
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	run := func(args ...string) (string, int) {
		cmd := exec.Command(binary, args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	t.Run("help on every command", func(t *testing.T) {
		for _, c := range []string{"serve", "plans", "show", "init", "demo", "version", "approve", "keygen", "audit", "freeze", "unfreeze"} {
			out, code := run(c, "--help")
			assert.Equal(t, 0, code, c)
			assert.Contains(t, out, "Usage: plangate "+c, c)
		}
		out, code := run("--help")
		assert.Equal(t, 0, code)
		assert.Contains(t, out, "serve")
	})
	// Misuse: the problem and the usage on stderr, nothing on stdout, exit 2.
	t.Run("misuse goes to stderr", func(t *testing.T) {
		for _, args := range [][]string{{}, {"plans", "--bogus"}, {"show"}, {"approve"}, {"freeze", "web"}, {"keygen"}, {"audit", "nope"}} {
			cmd := exec.Command(binary, args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%v", args)
			assert.Equal(t, 2, ee.ExitCode(), "%v", args)
			assert.Empty(t, stdout.String(), "%v: stdout", args)
			assert.Contains(t, stderr.String(), "Usage:", "%v", args)
		}
		cmd := exec.Command(binary, "freeze", "web")
		out, _ := cmd.CombinedOutput()
		assert.Contains(t, string(out), "plangate freeze: --reason is required")
	})
	t.Run("version", func(t *testing.T) {
		out, code := run("version")
		assert.Equal(t, 0, code)
		assert.True(t, strings.HasPrefix(out, "plangate "), out)
	})
	t.Run("unknown command", func(t *testing.T) {
		out, code := run("destroy")
		assert.Equal(t, 2, code)
		assert.Contains(t, out, `unknown command "destroy"`)
	})
	t.Run("init refuses to overwrite", func(t *testing.T) {
		dir := t.TempDir()
		_, code := run("init", dir)
		require.Equal(t, 0, code)
		require.FileExists(t, filepath.Join(dir, "plangate.hcl"))
		require.FileExists(t, filepath.Join(dir, "stacks", "web", "main.tf"))
		out, code := run("init", dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "already exists")
	})
	t.Run("missing config says what to do", func(t *testing.T) {
		out, code := run("plans", "--config", filepath.Join(t.TempDir(), "plangate.hcl"))
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "plangate init")
	})
	t.Run("show unknown plan", func(t *testing.T) {
		dir := t.TempDir()
		_, code := run("init", dir)
		require.Equal(t, 0, code)
		out, code := run("show", "--config", filepath.Join(dir, "plangate.hcl"), "0123456789")
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "no such plan")
	})
}

func TestDemo(t *testing.T) {
	tftest.Setup(t)
	out, err := exec.Command(binary, "demo").CombinedOutput()
	require.NoError(t, err, string(out))
	s := string(out)
	entries, err := os.ReadDir(os.Getenv("XDG_STATE_HOME"))
	require.NoError(t, err)
	assert.Empty(t, entries, "the demo keeps its records in its temporary directory, not in the user's state directory")
	assert.NotContains(t, s, "warning")
	assert.Contains(t, s, "for web: 5 to add, 0 to change, 0 to destroy — no deletions")
	assert.Contains(t, s, "DELETES 2 (terraform_data.web[0], replaced; terraform_data.web[1], deleted)")
	assert.Contains(t, s, "deletions: 2")
	assert.NotContains(t, s, "demo-only-not-a-secret")
}

// The whole human gate through the real binary: keygen, plan over stdio,
// approve on the command line, apply with the pasted token, freeze, and
// the audit chain verified — then broken by one changed byte.
func TestHumanGateOverStdio(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	key := filepath.Join(t.TempDir(), "oncall.key")
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(binary, args...).CombinedOutput()
		return string(out), err
	}
	out, err := cli("keygen", "--name", "oncall", "--out", key)
	require.NoError(t, err, out)
	info, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	block := out[strings.Index(out, "approver \"oncall\" {"):]
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + block)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := serve(t, dir)
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e-agent", "version": "7"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)

	refused := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{}})
	assert.Equal(t, true, refused["isError"])
	assert.Contains(t, resultText(refused), "plangate approve")

	// The human confirms by typing the stack name (stdin, as Terraform asks
	// for "yes"; no terminal needed). Anything else, or nothing, signs
	// nothing.
	approveTyping := func(typed string) (stdout, stderr string, err error) {
		cmd := exec.Command(binary, "approve", "--config", cfg, "--key", key, id[:8])
		cmd.Stdin = strings.NewReader(typed)
		cmd.SysProcAttr = noControllingTTY()
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	_, stderr, err := approveTyping("prod\n")
	require.Error(t, err)
	assert.Contains(t, stderr, "not approved: the stack name did not match")
	_, stderr, err = approveTyping("")
	require.Error(t, err)
	assert.Contains(t, stderr, "--yes")

	out, stderr, err = approveTyping("web\n")
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "Type the stack name (web) to approve")
	assert.Contains(t, out, "5 to add")
	assert.Contains(t, out, "# terraform_data.web[1] will be created")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "pgt1."), token)
	assert.NotContains(t, out, "\x1b[", "no colour when stdout is not a terminal")
	assert.Contains(t, out, "(read from the plan file itself: SHA-256 ", "the screen says which bytes it read")
	// What a Terraform user checks before signing, right above the prompt.
	ctx := out[strings.Index(out, "--- Before you approve ---"):]
	assert.Regexp(t, `Asked by:   \S+ \S+, at 20`, ctx, "the MCP client that asked")
	assert.Contains(t, ctx, "Runs in:    stack web, workspace default, directory ")
	assert.Contains(t, ctx, fmt.Sprintf("%-11s 1.", tftest.Product(t).String()+":"), "the program that made the plan, and its version")
	assert.Contains(t, ctx, "Policy now: 1 approval(s) needed for this plan")
	assert.Contains(t, ctx, "Deletes:    nothing")

	// Approving it again says that it was approved before.
	_, stderr, err = approveTyping("web\n")
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "note: this plan was approved before, by oncall at ")

	out, err = cli("freeze", "web", "--config", cfg, "--reason", "incident 4411")
	require.NoError(t, err, out)
	frozen := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	assert.Equal(t, true, frozen["isError"])
	assert.Contains(t, resultText(frozen), "incident 4411")
	// Lifting the freeze takes an approver's key.
	out, err = cli("unfreeze", "web", "--config", cfg, "--key", filepath.Join(t.TempDir(), "none.key"))
	require.Error(t, err, out)
	assert.Contains(t, out, "stays frozen")
	out, err = cli("unfreeze", "web", "--config", cfg, "--key", key)
	require.NoError(t, err, out)
	assert.Contains(t, out, "stack web unfrozen by approver oncall")

	applied := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.NotEqual(t, true, applied["isError"], resultText(applied))
	assert.Equal(t, "applied", applied["structuredContent"].(map[string]any)["status"])
	assert.Contains(t, resultText(applied), "database_password = (sensitive value)")

	require.NoError(t, r.stdin.Close())
	for line := range r.lines {
		mustJSONRPC(t, line)
		assert.NotContains(t, line, token)
	}
	require.NoError(t, r.cmd.Wait())
	assert.NotContains(t, r.stderr.String(), token)

	out, err = cli("audit", "--config", cfg)
	require.NoError(t, err, out)
	for _, ev := range []string{"plan_created", "apply_refused", "plan_approved", "freeze", "unfreeze", "apply_started", "applied"} {
		assert.Contains(t, out, ev)
	}
	assert.Contains(t, out, "client=e2e-agent/7")
	assert.NotContains(t, out, token)
	out, err = cli("audit", "verify", "--config", cfg)
	require.NoError(t, err, out)
	assert.Contains(t, out, "hash chain intact")

	// One changed byte breaks the chain, and verify names the line.
	logPath := filepath.Join(stateDir(t, dir), "audit.jsonl")
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	i := strings.Index(string(b), "apply_refused")
	require.Greater(t, i, 0)
	b[i] = 'A'
	require.NoError(t, os.WriteFile(logPath, b, 0o600))
	out, err = cli("audit", "verify", "--config", cfg)
	require.Error(t, err)
	assert.Contains(t, out, "BROKEN at line")
}

// mcp-go's own stdio client spawns the binary and speaks each protocol
// version plangate supports: the 2025 initialize handshake and 2026-07-28.
func TestProtocolVersionsOverStdio(t *testing.T) {
	for _, version := range []string{mcp.ProtocolVersion20250618, mcp.ProtocolVersion20251125, mcp.ProtocolVersion20260728} {
		t.Run(version, func(t *testing.T) {
			dir := project(t)
			c, err := client.NewStdioMCPClient(binary, os.Environ(), "serve", "--config", filepath.Join(dir, "plangate.hcl"))
			require.NoError(t, err)
			defer c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			res, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
				ProtocolVersion: version,
				ClientInfo:      mcp.Implementation{Name: "mcp-go-client", Version: "1"},
			}})
			require.NoError(t, err)
			assert.Equal(t, version, res.ProtocolVersion)
			tl, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			require.NoError(t, err)
			assert.Len(t, tl.Tools, 8, "the seven tools and check_drift")
			req := mcp.CallToolRequest{}
			req.Params.Name = "plan_change"
			req.Params.Arguments = map[string]any{"stack": "web"}
			out, err := c.CallTool(ctx, req)
			require.NoError(t, err)
			require.False(t, out.IsError)
			text := out.Content[0].(mcp.TextContent).Text
			assert.Contains(t, text, "for web: 5 to add, 0 to change, 0 to destroy — no deletions")
		})
	}
}

// SIGTERM while an apply runs: the server stops Terraform with SIGINT,
// waits for it, marks the plan interrupted, audits it and exits cleanly;
// the state holds what finished and the lock is free.
func TestSIGTERMDuringApply(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	tftest.CopyDir(t, filepath.Join(tftest.RepoRoot(t), "fixtures", "stacks", "slowapply"), filepath.Join(dir, "stacks", "slowapply"))
	key := filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	extra := "\nstack \"slowapply\" {\n  dir = \"stacks/slowapply\"\n  policy {\n    allow_provisioners = true\n  }\n}\n\n" + string(out[strings.Index(string(out), "approver \"oncall\" {"):])
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(extra)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := serve(t, dir)
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	pc := r.callTool("plan_change", map[string]any{"stack": "slowapply"})
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)
	// The provisioners' commands are shown to the agent and the human,
	// as written: a count of creations says nothing of them.
	head := strings.SplitN(resultText(pc), "\n", 4)[:3]
	assert.Contains(t, head[1], `RUNS CODE: terraform_data.a local-exec at apply: "sleep ${var.step_seconds} && touch ${path.module}/done-a"; and 3 more`)
	assert.Len(t, pc["structuredContent"].(map[string]any)["runs_code"], 4)
	approved, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).Output()
	require.NoError(t, err)
	assert.Contains(t, string(approved), "Code this plan runs besides the providers (4):")
	assert.Less(t, strings.Index(string(approved), "Code this plan runs"), strings.Index(string(approved), "# terraform_data.a will be created"), "approve shows the code above the diff")
	lines := strings.Split(strings.TrimSpace(string(approved)), "\n")
	token := lines[len(lines)-1]

	// Start the apply with a progress token, and SIGTERM the server once
	// the first resource is done.
	r.send(map[string]any{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": map[string]any{
		"name": "apply_plan", "arguments": map[string]any{"plan_id": id, "approval_tokens": []string{token}},
		"_meta": map[string]any{"progressToken": "term"},
	}})
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case line, ok := <-r.lines:
			require.True(t, ok, r.stderr.String())
			msg := mustJSONRPC(t, line)
			if msg["method"] == "notifications/progress" {
				if p, _ := msg["params"].(map[string]any)["progress"].(float64); p >= 1 {
					break wait
				}
			}
		case <-deadline:
			t.Fatal("no progress from the apply")
		}
	}
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	for line := range r.lines {
		mustJSONRPC(t, line)
	}
	require.NoError(t, r.cmd.Wait(), "SIGTERM is an orderly exit:\n%s", r.stderr.String())

	out, err = exec.Command(binary, "plans", "--config", cfg, "--status", "interrupted").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), id)
	out, err = exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "apply_interrupted")

	// terraform itself: the state lock is free and holds what finished.
	tfPath, err := tfbin.Find()
	require.NoError(t, err)
	tf := exec.Command(tfPath, "state", "list")
	tf.Dir = filepath.Join(dir, "stacks", "slowapply")
	tf.Env = append(os.Environ(), "TF_DATA_DIR="+filepath.Join(stateDir(t, dir), "terraform", "slowapply"))
	state, err := tf.CombinedOutput()
	require.NoError(t, err, string(state))
	assert.Contains(t, string(state), "terraform_data.a")
	assert.NotContains(t, string(state), "terraform_data.d")
	for _, r := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(dir, "stacks", "slowapply", "done-"+r)); err == nil {
			assert.Contains(t, string(state), "terraform_data."+r, "%s finished, so it is in state", r)
		}
	}
}
