package main_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServer runs `plangate server` with args and waits until it
// listens (the unix socket exists, or the TCP port answers).
func startServer(t *testing.T, cfg string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"server", "--config", cfg}, args...)...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "plangate serving over HTTP") }, time.Minute, 50*time.Millisecond,
		"the server did not start: %s", &stderr)
	return cmd, &stderr
}

// unixClient is a real MCP client (mcp-go's streamable HTTP transport)
// whose HTTP client dials the socket.
func unixClient(t *testing.T, sock, name string) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	tr, err := transport.NewStreamableHTTP("http://localhost/mcp", transport.WithHTTPBasicClient(hc))
	require.NoError(t, err)
	c := client.NewClient(tr)
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	_, err = c.Initialize(ctx, init)
	require.NoError(t, err)
	return c
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err)
	return res
}

func textOfResult(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// plangate server on a unix socket: the socket is 0660; MCP clients come
// and go (a disconnect never stops the server); the whole loop works, the
// audit names the client; SIGTERM is an orderly stop.
func TestServerOnAUnixSocket(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	key := filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + string(out[strings.Index(string(out), "approver \"oncall\" {"):]))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	sock := filepath.Join(t.TempDir(), "plangate.sock")
	srv, stderr := startServer(t, cfg, "--listen", "unix:"+sock)
	info, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), info.Mode().Perm(), "only the socket's owner and group may connect")

	first := unixClient(t, sock, "ide-one")
	tools, err := first.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 8)
	pc := call(t, first, "plan_change", map[string]any{"stack": "web"})
	require.False(t, pc.IsError, textOfResult(pc))
	id := pc.StructuredContent.(map[string]any)["plan_id"].(string)
	require.NoError(t, first.Close(), "the first client goes away")

	approved, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(approved)), "\n")
	token := lines[len(lines)-1]

	second := unixClient(t, sock, "ide-two")
	applied := call(t, second, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.False(t, applied.IsError, textOfResult(applied))
	assert.Equal(t, "applied", applied.StructuredContent.(map[string]any)["status"])
	require.NoError(t, second.Close())

	audit, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(audit))
	assert.Contains(t, string(audit), "client=ide-one/1")
	assert.Contains(t, string(audit), "client=ide-two/1")

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait(), "SIGTERM is an orderly stop:\n%s", stderr)
	assert.Contains(t, stderr.String(), "plangate server stopped by signal")
}

// An approved apply in flight when its client disconnects runs to
// completion and is recorded.
func TestServerApplyOutlivesItsClient(t *testing.T) {
	dir, cfg, key := slowProject(t)
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	startServer(t, cfg, "--listen", "unix:"+sock)
	c := unixClient(t, sock, "ide")
	pc := call(t, c, "plan_change", map[string]any{"stack": "slowapply", "variables": map[string]any{"step_seconds": 1}})
	require.False(t, pc.IsError, textOfResult(pc))
	id := pc.StructuredContent.(map[string]any)["plan_id"].(string)
	approved, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(approved)), "\n")
	token := lines[len(lines)-1]

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := mcp.CallToolRequest{}
		req.Params.Name, req.Params.Arguments = "apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}}
		_, _ = c.CallTool(ctx, req)
	}()
	require.Eventually(t, func() bool { return record(t, dir, id).Status == "applying" }, time.Minute, 50*time.Millisecond)
	cancel()
	require.NoError(t, c.Close())
	<-done
	require.Eventually(t, func() bool { return record(t, dir, id).Status == "applied" }, 2*time.Minute, 200*time.Millisecond,
		"the apply ran to completion after its client left")
	for _, res := range []string{"a", "b", "c", "d"} {
		assert.Contains(t, stateList(t, dir, "slowapply"), "terraform_data."+res)
	}
}

// plangate server on TCP: every request needs an agent token; a token
// limited to some stacks sees only those; a browser's foreign Origin and
// a rebinding Host are refused; off loopback it will not start without
// TLS. The agent's name goes into the audit log.
func TestServerOnTCPNeedsAgentTokens(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	src, err := os.ReadFile(cfg)
	require.NoError(t, err)
	// A second stack, which the token may not use.
	require.NoError(t, os.WriteFile(cfg, append(src, []byte("\nstack \"other\" {\n  dir = \"stacks\"\n}\n")...), 0o644))

	out, err := exec.Command(binary, "agent-token", "add", "--name", "ci", "--stacks", "web", "--config", cfg).Output()
	require.NoError(t, err)
	token := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(token, "pga1_"), token)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	startServer(t, cfg, "--listen", "tcp://"+addr)
	url := "http://" + addr + "/mcp"

	post := func(hdr map[string]string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if h, ok := hdr["Host"]; ok {
			req.Host = h
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	assert.Equal(t, http.StatusUnauthorized, post(nil).StatusCode, "no token")
	assert.Equal(t, http.StatusUnauthorized, post(map[string]string{"Authorization": "Bearer pga1_" + strings.Repeat("A", 43)}).StatusCode, "a wrong token")
	assert.Equal(t, http.StatusForbidden, post(map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}).StatusCode, "a foreign Origin")
	assert.Equal(t, http.StatusForbidden, post(map[string]string{"Authorization": "Bearer " + token, "Host": "evil.example"}).StatusCode, "a rebinding Host")
	assert.Equal(t, http.StatusOK, post(map[string]string{"Authorization": "Bearer " + token}).StatusCode)

	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	require.NoError(t, err)
	c := client.NewClient(tr)
	require.NoError(t, c.Start(context.Background()))
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "ci-client", Version: "3"}
	_, err = c.Initialize(context.Background(), init)
	require.NoError(t, err)
	ls := call(t, c, "list_stacks", map[string]any{})
	stacks := ls.StructuredContent.(map[string]any)["stacks"].([]any)
	require.Len(t, stacks, 1, "a token limited to web sees only web")
	other := call(t, c, "plan_change", map[string]any{"stack": "other"})
	assert.True(t, other.IsError)
	assert.Contains(t, textOfResult(other), "not one this agent token may use")
	pc := call(t, c, "plan_change", map[string]any{"stack": "web"})
	require.False(t, pc.IsError, textOfResult(pc))
	require.NoError(t, c.Close())

	audit, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(audit))
	assert.Contains(t, string(audit), "client=ci-client/3 agent=ci")
	assert.NotContains(t, string(audit), token)

	// Off loopback without TLS: refused before it listens.
	cmd := exec.Command(binary, "server", "--config", cfg, "--listen", "tcp://0.0.0.0:0")
	msg, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(msg), "pass --tls-cert and --tls-key")
}

// The relay and the server together, both the real binary: a stdio MCP
// client talks to plangate serve --connect, which talks to plangate
// server on its socket.
func TestRelayToTheServer(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	startServer(t, cfg, "--listen", "unix:"+sock)

	r := startRPC(t, exec.Command(binary, "serve", "--connect", "unix:"+sock))
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "stdio-ide", "version": "9"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	ls := r.callTool("list_stacks", map[string]any{})
	assert.Contains(t, resultText(ls), "web")
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	require.NotEqual(t, true, pc["isError"], resultText(pc))
	assert.Contains(t, resultText(pc), "5 to add")
	require.NoError(t, r.stdin.Close())
	for line := range r.lines {
		mustJSONRPC(t, line)
	}
	require.NoError(t, r.cmd.Wait(), r.stderr.String())

	audit, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(audit))
	assert.Contains(t, string(audit), "client=stdio-ide/9", "the relayed client's own name is audited")
}

// Two approvers, each on "their own machine" (another directory, no
// plangate.hcl, their own key), approve one plan through plangate
// server; the server, holding only public keys, records both; the plan
// applies with both tokens. A key that is no approver's reads nothing.
func TestApproveOverTheWire(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	src, err := os.ReadFile(cfg)
	require.NoError(t, err)
	two := strings.Replace(string(src), "approvals          = 1\n    deletion_approvals = 1", "approvals          = 2\n    deletion_approvals = 2", 1)
	require.NotEqual(t, string(src), two)
	keys := map[string]string{}
	for _, name := range []string{"alice", "bob", "mallory"} {
		keys[name] = filepath.Join(t.TempDir(), name+".key")
		out, err := exec.Command(binary, "keygen", "--name", name, "--out", keys[name]).CombinedOutput()
		require.NoError(t, err, string(out))
		if name != "mallory" {
			two += "\n" + string(out[strings.Index(string(out), "approver \""+name+"\" {"):])
		}
	}
	require.NoError(t, os.WriteFile(cfg, []byte(two), 0o644))
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	startServer(t, cfg, "--listen", "unix:"+sock)
	c := unixClient(t, sock, "ide")
	pc := call(t, c, "plan_change", map[string]any{"stack": "web"})
	require.False(t, pc.IsError, textOfResult(pc))
	id := pc.StructuredContent.(map[string]any)["plan_id"].(string)

	approve := func(name string) (string, string, error) {
		cmd := exec.Command(binary, "approve", "--server", "unix:"+sock, "--key", keys[name], "--yes", id[:8])
		cmd.Dir = t.TempDir() // no plangate.hcl here
		cmd.Env = append(os.Environ(), "PLANGATE_CONFIG=")
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	out, stderr, err := approve("mallory")
	require.Error(t, err)
	assert.Contains(t, stderr, "a review is for approvers")
	assert.NotContains(t, out, "terraform_data", "a key that is no approver's reads nothing of the plan")

	var tokens []string
	for _, name := range []string{"alice", "bob"} {
		out, stderr, err := approve(name)
		require.NoError(t, err, stderr)
		assert.Contains(t, out, "# terraform_data.web[1] will be created", "the diff the server derived from the plan file")
		assert.Contains(t, out, "Policy now: 2 approval(s) needed for this plan")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		tokens = append(tokens, lines[len(lines)-1])
		assert.True(t, strings.HasPrefix(tokens[len(tokens)-1], "pgt1."))
	}
	one := call(t, c, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": tokens[:1]})
	assert.True(t, one.IsError, "one approver is not enough")
	applied := call(t, c, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": tokens})
	require.False(t, applied.IsError, textOfResult(applied))
	assert.Equal(t, "applied", applied.StructuredContent.(map[string]any)["status"])

	// plans and show over the wire, for approvers only.
	remote := func(args ...string) (string, error) {
		cmd := exec.Command(binary, append(args, "--server", "unix:"+sock)...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PLANGATE_CONFIG=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err = remote("plans", "--key", keys["alice"])
	require.NoError(t, err, out)
	assert.Regexp(t, id+`\s+web\s+applied`, out)
	out, err = remote("show", id[:8], "--key", keys["bob"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "was already applied")
	out, err = remote("plans", "--key", keys["mallory"])
	require.Error(t, err)
	assert.NotContains(t, out, id)

	audit, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(audit))
	assert.Equal(t, 2, strings.Count(string(audit), "plan_approved"), string(audit))
	assert.Contains(t, string(audit), "approvers=alice")
	assert.Contains(t, string(audit), "approvers=bob")
}

// The kill switch over the wire: an approver freezes and unfreezes a
// stack on a plangate server from another machine; a key that is no
// approver's does neither; the agent sees the freeze at once.
func TestKillSwitchOverTheWire(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	keys := map[string]string{}
	for _, name := range []string{"alice", "mallory"} {
		keys[name] = filepath.Join(t.TempDir(), name+".key")
		out, err := exec.Command(binary, "keygen", "--name", name, "--out", keys[name]).CombinedOutput()
		require.NoError(t, err, string(out))
		if name == "alice" {
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("\n" + string(out[strings.Index(string(out), "approver \"alice\" {"):]))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
	}
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	startServer(t, cfg, "--listen", "unix:"+sock)
	remote := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PLANGATE_CONFIG=", "PLANGATE_SERVER=unix:"+sock)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := remote("freeze", "web", "--reason", "incident 7", "--key", keys["mallory"])
	require.Error(t, err)
	assert.Contains(t, out, "not frozen")
	out, err = remote("freeze", "web", "--reason", "incident 7", "--key", keys["alice"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "incident 7")

	c := unixClient(t, sock, "ide")
	ls := call(t, c, "list_stacks", map[string]any{})
	assert.Contains(t, textOfResult(ls), "incident 7", "the agent sees the freeze")

	out, err = remote("unfreeze", "web", "--key", keys["mallory"])
	require.Error(t, err)
	assert.Contains(t, out, "stays frozen")
	out, err = remote("unfreeze", "web", "--key", keys["alice"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "stack web unfrozen by approver alice")
	audit, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(audit))
	assert.Contains(t, string(audit), "freeze")
	assert.Contains(t, string(audit), "unfreeze")
	assert.Contains(t, string(audit), "by=alice")
}

// config status and accept over the wire: an approver of the server's
// accepted config reviews and accepts a change from another machine; the
// approver the change adds cannot.
func TestConfigAcceptOverTheWire(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	keys := map[string]string{}
	blocks := map[string]string{}
	for _, name := range []string{"alice", "mallory"} {
		keys[name] = filepath.Join(t.TempDir(), name+".key")
		out, err := exec.Command(binary, "keygen", "--name", name, "--out", keys[name]).CombinedOutput()
		require.NoError(t, err, string(out))
		blocks[name] = string(out[strings.Index(string(out), "approver \""+name+"\" {"):])
	}
	src, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(string(src)+"\n"+blocks["alice"]), 0o644))
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	startServer(t, cfg, "--listen", "unix:"+sock)
	c := unixClient(t, sock, "ide") // first use: alice is accepted
	call(t, c, "list_stacks", map[string]any{})

	require.NoError(t, os.WriteFile(cfg, []byte(string(src)+"\n"+blocks["alice"]+"\n"+blocks["mallory"]), 0o644))
	remote := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PLANGATE_CONFIG=", "PLANGATE_SERVER=unix:"+sock)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := remote("config", "status", "--key", keys["alice"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "approver \"mallory\"\n    - accepted: (none)")
	out, err = remote("config", "accept", "--key", keys["mallory"], "--yes")
	require.Error(t, err)
	assert.Contains(t, out, "nothing was accepted")
	out, err = remote("config", "accept", "--key", keys["alice"], "--yes")
	require.NoError(t, err, out)
	assert.Contains(t, out, "as approver alice: 1 change(s) apply now")
	out, err = remote("config", "status", "--key", keys["alice"])
	require.NoError(t, err, out)
	assert.Contains(t, out, "Nothing waits for acceptance")
}
