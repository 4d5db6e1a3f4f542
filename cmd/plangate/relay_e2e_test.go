package main_test

import (
	"bytes"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
	"github.com/plangate/plangate/tools"
)

// httpServer is plangate's own MCP server behind mcp-go's streamable HTTP
// server, as `plangate server` serves it, in the test's process: the
// relay runs as the real binary against it.
type httpServer struct {
	t    *testing.T
	srv  *httptest.Server
	addr string // for --connect
	// caFile holds the certificate of an https server, for SSL_CERT_FILE.
	caFile string
	// block, when set, holds a POST whose body contains it until the test
	// closes the server; arrived is closed when one arrives.
	block   string
	arrived chan struct{}

	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	method, session, protocol, auth, lastEventID string
}

const testToken = "pgt_relay-test-token"

// newHTTPServer serves the project in dir on network "unix" (a socket in
// a temporary directory), "tcp" (http://127.0.0.1) or "https" (127.0.0.1
// with a certificate of its own); on TCP it checks the bearer token.
func newHTTPServer(t *testing.T, dir, network string, opts ...func(*httpServer)) *httpServer {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "plangate.hcl"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(cfg.StateDir, 0o700))
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g := &gate.Gate{Config: cfg, Store: store, Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, logger), Ledger: ledger, Audit: audit.Open(cfg.StateDir), Logger: logger}
	mcp := server.New(&tools.Deps{Config: cfg, Gate: g, Store: store, Logger: logger}, "test")
	streamable := mcpserver.NewStreamableHTTPServer(mcp, mcpserver.WithStreamableHTTPLogger(logger))

	h := &httpServer{t: t, arrived: make(chan struct{})}
	for _, o := range opts {
		o(h)
	}
	var arrivedOnce sync.Once
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, seenRequest{r.Method, r.Header.Get("Mcp-Session-Id"), r.Header.Get("Mcp-Protocol-Version"), r.Header.Get("Authorization"), r.Header.Get("Last-Event-ID")})
		h.mu.Unlock()
		if network != "unix" && r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unknown agent token", http.StatusUnauthorized)
			return
		}
		if h.block != "" && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(h.block)) {
				arrivedOnce.Do(func() { close(h.arrived) })
				<-r.Context().Done() // until the server is killed
				return
			}
		}
		streamable.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", handler)

	h.srv = httptest.NewUnstartedServer(mux)
	switch network {
	case "unix":
		// Socket paths are short (108 bytes): not under t.TempDir().
		sockDir, err := os.MkdirTemp("", "pgsock")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(sockDir) })
		sock := filepath.Join(sockDir, "plangate.sock")
		h.srv.Listener.Close()
		h.srv.Listener, err = net.Listen("unix", sock)
		require.NoError(t, err)
		h.srv.Start()
		h.addr = "unix:" + sock
	case "tcp":
		h.srv.Start()
		h.addr = h.srv.URL
	case "https":
		h.srv.StartTLS()
		h.addr = h.srv.URL
		h.caFile = filepath.Join(t.TempDir(), "ca.pem")
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})
		require.NoError(t, os.WriteFile(h.caFile, ca, 0o644))
	}
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return h
}

// kill drops the server and every connection to it, as a crash does.
func (h *httpServer) kill() {
	h.srv.CloseClientConnections()
	h.srv.Close()
}

func (h *httpServer) requests() []seenRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]seenRequest(nil), h.seen...)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRelay runs `plangate serve --connect ...args` as an MCP client
// would, speaking raw JSON-RPC lines over its stdio.
func startRelay(t *testing.T, env []string, args ...string) *rpc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--log-level", "debug"}, args...)...)
	cmd.Env = env
	return startRPC(t, cmd)
}

func tokenFile(t *testing.T, token string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(p, []byte(token+"\n"), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func (r *rpc) relayInitialize() map[string]any {
	r.t.Helper()
	res := r.request("initialize", map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "relay-e2e", "version": "1"},
	})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return res
}

// closeAndWait closes stdin, as a client that is done does, and waits for
// the relay to exit; every line it still wrote must be JSON-RPC.
func (r *rpc) closeAndWait() error {
	r.t.Helper()
	require.NoError(r.t, r.stdin.Close())
	for line := range r.lines {
		r.all = append(r.all, line)
		mustJSONRPC(r.t, line)
	}
	return r.cmd.Wait()
}

func TestRelay(t *testing.T) {
	for _, network := range []string{"unix", "tcp", "https"} {
		t.Run(network, func(t *testing.T) {
			dir := project(t)
			h := newHTTPServer(t, dir, network)
			args := []string{"--connect", h.addr}
			if network != "unix" {
				args = append(args, "--token-file", tokenFile(t, testToken, 0o600))
			}
			var env []string
			if h.caFile != "" {
				env = append(os.Environ(), "SSL_CERT_FILE="+h.caFile)
			}
			r := startRelay(t, env, args...)

			init := r.relayInitialize()
			require.Nil(t, init["error"], "initialize: %v\n%s", init["error"], r.stderr)
			res := init["result"].(map[string]any)
			assert.Equal(t, "2025-11-25", res["protocolVersion"])
			assert.Contains(t, res["instructions"], "plangate approve")

			list := r.request("tools/list", map[string]any{})
			var names []string
			for _, tl := range list["result"].(map[string]any)["tools"].([]any) {
				names = append(names, tl.(map[string]any)["name"].(string))
			}
			assert.Contains(t, names, "plan_change")
			assert.Contains(t, names, "list_stacks")

			stacks := r.callTool("list_stacks", map[string]any{})
			assert.Contains(t, resultText(stacks), "web")

			// Progress of a plan arrives before its result, each message on a
			// line of its own.
			r.nextID++
			id := r.nextID
			r.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{
				"name": "plan_change", "arguments": map[string]any{"stack": "web", "variables": map[string]any{"replicas": 3}},
				"_meta": map[string]any{"progressToken": "p1"},
			}})
			progress := 0
			var result map[string]any
			deadline := time.After(5 * time.Minute)
			for result == nil {
				select {
				case line, ok := <-r.lines:
					require.True(t, ok, "relay closed stdout:\n%s", r.stderr)
					msg := mustJSONRPC(t, line)
					switch {
					case msg["method"] == "notifications/progress":
						assert.Equal(t, "p1", msg["params"].(map[string]any)["progressToken"])
						progress++
					case msg["id"] == float64(id):
						result = msg
					}
				case <-deadline:
					t.Fatalf("no result from plan_change:\n%s", r.stderr)
				}
			}
			require.Nil(t, result["error"], "plan_change: %v", result["error"])
			assert.Positive(t, progress, "progress notifications before the result")
			text := resultText(result["result"].(map[string]any))
			assert.Contains(t, text, "plangate approve")

			seen := len(r.all)
			require.NoError(t, r.closeAndWait(), "stdin EOF is an orderly exit:\n%s", r.stderr)
			for _, line := range r.all[seen:] {
				assert.NotContains(t, line, "notifications/progress", "no progress after the result")
			}

			reqs := h.requests()
			require.NotEmpty(t, reqs)
			session := ""
			var deleted, listened bool
			for i, q := range reqs {
				if i == 0 {
					assert.Equal(t, "POST", q.method)
					assert.Empty(t, q.session, "initialize carries no session")
					continue
				}
				if session == "" {
					session = q.session
				}
				assert.NotEmpty(t, q.session, "%s #%d carries the session", q.method, i)
				assert.Equal(t, session, q.session)
				assert.Equal(t, "2025-11-25", q.protocol, "%s #%d names the protocol version", q.method, i)
				deleted = deleted || q.method == "DELETE"
				listened = listened || q.method == "GET"
			}
			for _, q := range reqs {
				if network != "unix" {
					assert.Equal(t, "Bearer "+testToken, q.auth)
				} else {
					assert.Empty(t, q.auth)
				}
			}
			assert.True(t, listened, "the relay opened the GET stream")
			assert.True(t, deleted, "EOF deletes the session")
			assert.Equal(t, "DELETE", reqs[len(reqs)-1].method)
			assert.NotContains(t, r.stderr.String(), testToken, "the token is never logged")
		})
	}
}

// relayError asserts that msg is the relay's JSON-RPC error naming want.
func relayError(t *testing.T, msg map[string]any, want ...string) string {
	t.Helper()
	require.NotNil(t, msg["error"], "want an error, got %v", msg)
	e := msg["error"].(map[string]any)
	code := e["code"].(float64)
	assert.True(t, code <= -32000 && code >= -32099, "code %v is in the implementation range", code)
	text := e["message"].(string)
	for _, w := range want {
		assert.Contains(t, text, w)
	}
	return text
}

func TestRelayExplainsWhatToFix(t *testing.T) {
	dir := project(t)
	plain := newHTTPServer(t, dir, "tcp")
	tls := newHTTPServer(t, dir, "https")
	cases := []struct {
		name     string
		args     []string
		want     []string
		unusable bool // exits non-zero once stdin ends
	}{
		{"wrong token", []string{"--connect", plain.addr, "--token-file", tokenFile(t, "pgt_not-this-one", 0o600)},
			[]string{"refused the agent token", "plangate agent-token add"}, false},
		{"no token", []string{"--connect", plain.addr},
			[]string{"wants an agent token and none was given", "--token-file", "plangate agent-token add"}, false},
		{"token file others can read", []string{"--connect", plain.addr, "--token-file", tokenFile(t, testToken, 0o640)},
			[]string{"readable or writable by its group or others", "chmod 600"}, true},
		{"no socket", []string{"--connect", "unix:/nonexistent/plangate.sock"},
			[]string{"no socket at /nonexistent/plangate.sock", "plangate server --listen unix:"}, false},
		{"untrusted certificate", []string{"--connect", tls.addr, "--token-file", tokenFile(t, testToken, 0o600)},
			[]string{"TLS", "not signed by an authority this machine trusts", "SSL_CERT_FILE"}, false},
		{"plain http off loopback", []string{"--connect", "http://plangate.example.com:7000"},
			[]string{"unencrypted", "https://plangate.example.com:7000"}, true},
		{"not an address", []string{"--connect", "plangate.sock"},
			[]string{"unix:/path/to/plangate.sock"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t, nil, tc.args...)
			init := r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "relay-e2e", "version": "1"}})
			relayError(t, init, tc.want...)
			// Every later call is answered too, never left hanging.
			relayError(t, r.request("tools/list", map[string]any{}))
			err := r.closeAndWait()
			if tc.unusable {
				assert.Error(t, err, "a relay that cannot work exits non-zero")
			} else {
				assert.NoError(t, err)
			}
			assert.NotContains(t, r.stderr.String(), testToken)
			assert.Contains(t, r.stderr.String(), tc.want[0], "stderr says it too")
		})
	}
}

func TestRelayAnswersWhenTheServerDies(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			dir := project(t)
			h := newHTTPServer(t, dir, network, func(h *httpServer) { h.block = "hold-this-call" })
			args := []string{"--connect", h.addr}
			if network != "unix" {
				args = append(args, "--token-file", tokenFile(t, testToken, 0o600))
			}
			r := startRelay(t, nil, args...)
			require.Nil(t, r.relayInitialize()["error"], r.stderr)
			r.callTool("list_stacks", map[string]any{})

			// A call in flight when the server dies is answered with the error.
			r.send(map[string]any{"jsonrpc": "2.0", "id": 500, "method": "tools/call", "params": map[string]any{
				"name": "list_stacks", "arguments": map[string]any{}, "_meta": map[string]any{"note": "hold-this-call"},
			}})
			select {
			case <-h.arrived:
			case <-time.After(time.Minute):
				t.Fatalf("the held call never reached the server:\n%s", r.stderr)
			}
			h.kill()
			var pending map[string]any
			deadline := time.After(time.Minute)
			for pending == nil {
				select {
				case line, ok := <-r.lines:
					require.True(t, ok, r.stderr)
					if msg := mustJSONRPC(t, line); msg["id"] == float64(500) {
						pending = msg
					}
				case <-deadline:
					t.Fatalf("the relay did not answer the call in flight within a minute of the server's death:\n%s", r.stderr)
				}
			}
			relayError(t, pending, "broke off", "reconnect plangate in your MCP client")

			// So is every later call.
			later := r.request("tools/list", map[string]any{})
			want := "nothing listens at"
			if network == "unix" {
				want = "there is no socket at"
			}
			relayError(t, later, "not reachable", want)
			require.NoError(t, r.closeAndWait(), r.stderr)
		})
	}
}
