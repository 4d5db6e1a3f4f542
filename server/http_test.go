package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/server"
)

// httpSession speaks raw streamable HTTP at protocol 2025-11-25, the
// last one with sessions, as a client that may vanish without DELETE.
type httpSession struct {
	t   *testing.T
	url string
	id  string
}

func (s *httpSession) post(body string) int {
	s.t.Helper()
	code, _ := s.postRead(body)
	return code
}

// postRead posts body and returns the status and the answer.
func (s *httpSession) postRead(body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
		req.Header.Set("Mcp-Protocol-Version", mcp.ProtocolVersion20251125)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	answer, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	res.Body.Close()
	if id := res.Header.Get("Mcp-Session-Id"); id != "" {
		s.id = id
	}
	return res.StatusCode, string(answer)
}

func openHTTPSession(t *testing.T, url string) *httpSession {
	t.Helper()
	s := &httpSession{t: t, url: url}
	require.Equal(t, http.StatusOK, s.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+
		mcp.ProtocolVersion20251125+`","capabilities":{},"clientInfo":{"name":"vanishing","version":"1"}}}`))
	require.NotEmpty(t, s.id, "a 2025-11-25 initialize opens a session")
	require.Less(t, s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), 300)
	return s
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Clients that vanish without ending their session (a crashed agent, a
// closed laptop) leave nothing behind once the session idles out: the
// server forgets it and its memory is returned. A session in use is kept,
// and a forgotten one that comes back is still served.
func TestIdleHTTPSessionsAreForgotten(t *testing.T) {
	h := newHarness(t)
	const ttl = time.Second
	srv := httptest.NewServer(server.NewHTTPHandler(server.New(h.deps, "test"), server.HTTPOptions{SessionIdleTTL: ttl}))
	t.Cleanup(srv.Close)
	url := srv.URL + server.EndpointPath
	ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`

	before := heapInUse()
	var vanished []*httpSession
	for range 2000 {
		vanished = append(vanished, openHTTPSession(t, url))
	}
	grown := heapInUse() - before
	require.Greater(t, grown, uint64(2000*1024), "the sessions hold memory while they live")

	live := openHTTPSession(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for heapInUse() > before+grown/4 {
		require.True(t, time.Now().Before(deadline), "the idle sessions' memory was never returned")
		assert.Equal(t, http.StatusOK, live.post(ping), "a session in use is kept")
		time.Sleep(ttl / 4)
	}
	assert.Equal(t, http.StatusOK, live.post(ping), "a session in use is kept")
	code, answer := vanished[0].postRead(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_stacks","arguments":{}}}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, answer, `"stacks"`, "a forgotten session is still served")
}
