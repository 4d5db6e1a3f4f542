package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testServer is an mcp-go MCP server behind its StreamableHTTPServer, with
// tools that exercise what the relay carries.
type testServer struct {
	mcp     *mcpserver.MCPServer
	http    *httptest.Server
	release chan struct{} // lets "pause" finish
	gets    chan http.Header
	// cancels gets each notifications/cancelled as it arrives.
	cancels chan struct{}

	mu sync.Mutex
	// wrote holds the body of every POST response, as the server writes it.
	wrote []*bytes.Buffer
}

// written returns the messages of the POST response that contains marker,
// as the server wrote them.
func (ts *testServer) written(t *testing.T, marker string) []map[string]any {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, b := range ts.wrote {
		if !bytes.Contains(b.Bytes(), []byte(marker)) {
			continue
		}
		var msgs []map[string]any
		for _, line := range strings.Split(b.String(), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(data), &m))
				msgs = append(msgs, m)
			}
		}
		return msgs
	}
	t.Fatalf("the server wrote no response holding %q", marker)
	return nil
}

// teeWriter keeps a copy of what the server writes, before it is sent.
type teeWriter struct {
	http.ResponseWriter
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

type serverOpts struct {
	noGET   bool // answer GET without Last-Event-ID with 405
	options []mcpserver.StreamableHTTPOption
}

func newTestServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	ts := &testServer{release: make(chan struct{}), gets: make(chan http.Header, 16), cancels: make(chan struct{}, 16)}
	ts.mcp = mcpserver.NewMCPServer("test", "1", mcpserver.WithToolCapabilities(true), mcpserver.WithElicitation())
	progress := func(ctx context.Context, req mcp.CallToolRequest, n int) {
		if req.Params.Meta == nil {
			return
		}
		_ = ts.mcp.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
			"progressToken": req.Params.Meta.ProgressToken, "progress": n, "message": fmt.Sprintf("step %d", n)})
	}
	ts.mcp.AddTool(mcp.NewTool("count"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for i := 1; i <= 3; i++ {
			progress(ctx, req, i)
		}
		return mcp.NewToolResultText("counted"), nil
	})
	ts.mcp.AddTool(mcp.NewTool("pause"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		progress(ctx, req, 1)
		<-ts.release
		progress(ctx, req, 2)
		return mcp.NewToolResultText("resumed"), nil
	})
	ts.mcp.AddTool(mcp.NewTool("ask"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := ts.mcp.RequestElicitation(ctx, mcp.ElicitationRequest{Params: mcp.ElicitationParams{
			Message: "proceed?", RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string"}}},
		}})
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		b, _ := json.Marshal(res.Content)
		return mcp.NewToolResultText(string(res.Action) + " " + string(b)), nil
	})
	streamable := mcpserver.NewStreamableHTTPServer(ts.mcp, o.options...)
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if o.noGET && r.Header.Get(headerLastEventID) == "" {
				http.Error(w, "no stream", http.StatusMethodNotAllowed)
				return
			}
			ts.gets <- r.Header.Clone()
		}
		if r.Method != http.MethodPost {
			streamable.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("notifications/cancelled")) {
			ts.cancels <- struct{}{}
		}
		tw := &teeWriter{ResponseWriter: w, mu: &ts.mu, buf: &bytes.Buffer{}}
		ts.mu.Lock()
		ts.wrote = append(ts.wrote, tw.buf)
		ts.mu.Unlock()
		streamable.ServeHTTP(tw, r)
	})
	ts.http = httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.http.CloseClientConnections()
		ts.http.Close()
	})
	return ts
}

// client is an MCP client speaking raw lines to an in-process relay.
type client struct {
	t     *testing.T
	in    *io.PipeWriter
	lines chan map[string]any
	done  chan error
	rest  []map[string]any // written after stdin ended
}

func startRelay(t *testing.T, url string) *client {
	t.Helper()
	ep, err := ParseEndpoint(url)
	require.NoError(t, err)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &client{t: t, in: inW, lines: make(chan map[string]any, 64), done: make(chan error, 1)}
	go func() {
		c.done <- New(ep).Run(context.Background(), inR, outW)
		outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("stdout line is not JSON: %q", sc.Text())
				continue
			}
			c.lines <- m
		}
		close(c.lines)
	}()
	t.Cleanup(func() { inW.Close() })
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	_, err = c.in.Write(append(b, '\n'))
	require.NoError(c.t, err)
}

func (c *client) next() map[string]any {
	c.t.Helper()
	select {
	case m, ok := <-c.lines:
		require.True(c.t, ok, "relay closed stdout")
		return m
	case <-time.After(time.Minute):
		c.t.Fatal("no message from the relay")
		return nil
	}
}

func (c *client) initialize(capabilities map[string]any) {
	c.t.Helper()
	c.send(map[string]any{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": map[string]any{
		"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": map[string]any{"name": "t", "version": "1"}}})
	res := c.next()
	require.Nil(c.t, res["error"])
	c.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
}

func (c *client) call(id int, tool string, progressToken any) {
	c.t.Helper()
	params := map[string]any{"name": tool, "arguments": map[string]any{}}
	if progressToken != nil {
		params["_meta"] = map[string]any{"progressToken": progressToken}
	}
	c.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

// close ends stdin and returns what the relay still wrote before it
// exited, and how it exited.
func (c *client) close() error {
	c.t.Helper()
	c.in.Close()
	for m := range c.lines {
		c.rest = append(c.rest, m)
	}
	return <-c.done
}

func text(t *testing.T, m map[string]any) string {
	t.Helper()
	require.Nil(t, m["error"], "%v", m)
	return m["result"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
}

func TestProgressComesBeforeTheResultOnItsStream(t *testing.T) {
	ts := newTestServer(t, serverOpts{noGET: true})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{})
	c.call(1, "count", "tok")
	var got []map[string]any
	for len(got) == 0 || got[len(got)-1]["id"] == nil {
		got = append(got, c.next())
	}
	assert.Equal(t, "counted", text(t, got[len(got)-1]))
	// Exactly what the server wrote, in its order. (mcp-go v1.2.1 itself
	// sometimes drops a notification that an earlier request's stream
	// took off the session's shared channel: the comparison is with what
	// it wrote, not with what the tool sent.)
	want := ts.written(t, "counted")
	require.GreaterOrEqual(t, len(want), 2, "the server streamed progress")
	assert.Equal(t, want, got)
	require.NoError(t, c.close())
}

func TestAnswersToTheServersRequestsArePosted(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{"elicitation": map[string]any{}})
	c.call(1, "ask", nil)
	req := c.next()
	require.Equal(t, "elicitation/create", req["method"], "%v", req)
	c.send(map[string]any{"jsonrpc": "2.0", "id": req["id"], "result": map[string]any{"action": "accept", "content": map[string]any{"answer": "yes"}}})
	assert.Equal(t, `accept {"answer":"yes"}`, text(t, c.next()))
	require.NoError(t, c.close())
}

func TestServerMessagesArriveOnTheGETStream(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{})
	h := <-ts.gets
	assert.Equal(t, "text/event-stream", h.Get("Accept"))
	assert.NotEmpty(t, h.Get(headerSession))
	assert.Equal(t, "2025-11-25", h.Get(headerProtocol))
	ts.mcp.AddTool(mcp.NewTool("late"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
	assert.Equal(t, "notifications/tools/list_changed", c.next()["method"])
	require.NoError(t, c.close())
}

func TestABrokenStreamIsResumedFromItsLastEvent(t *testing.T) {
	ts := newTestServer(t, serverOpts{noGET: true, options: []mcpserver.StreamableHTTPOption{mcpserver.WithEventStore(mcpserver.NewInMemoryEventStore())}})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{})
	c.call(1, "pause", "tok")
	first := c.next()
	require.Equal(t, "notifications/progress", first["method"], "%v", first)
	ts.http.CloseClientConnections() // the stream breaks mid-call
	close(ts.release)
	var rest []map[string]any
	for {
		m := c.next()
		rest = append(rest, m)
		if m["id"] == float64(1) {
			break
		}
	}
	assert.Equal(t, "resumed", text(t, rest[len(rest)-1]), "the result survives the break")
	resumed := <-ts.gets
	assert.NotEmpty(t, resumed.Get(headerLastEventID), "the relay resumed with Last-Event-ID")
	require.NoError(t, c.close())
}

func TestConcurrentCallsAreEachAnswered(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{})
	const n = 20
	for i := 1; i <= n; i++ {
		c.call(i, "count", nil)
	}
	var mu sync.Mutex
	got := map[float64]bool{}
	for len(got) < n {
		m := c.next()
		if id, ok := m["id"].(float64); ok {
			mu.Lock()
			assert.False(t, got[id], "one answer per call")
			got[id] = true
			mu.Unlock()
			assert.Equal(t, "counted", text(t, m))
		}
	}
	require.NoError(t, c.close())
}

func TestACancelledCallGetsNoAnswer(t *testing.T) {
	ts := newTestServer(t, serverOpts{noGET: true})
	c := startRelay(t, ts.http.URL)
	c.initialize(map[string]any{})
	c.call(1, "pause", "tok")
	require.Equal(t, "notifications/progress", c.next()["method"])
	c.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 1, "reason": "changed my mind"}})
	<-ts.cancels // the relay has seen it: an answer the server sends now comes after it
	close(ts.release)
	c.call(2, "count", nil)
	for {
		m := c.next()
		require.NotEqual(t, float64(1), m["id"], "no answer to the cancelled call: %v", m)
		if m["id"] == float64(2) {
			break
		}
	}
	require.NoError(t, c.close())
	for _, m := range c.rest {
		assert.NotEqual(t, float64(1), m["id"], "no answer to the cancelled call: %v", m)
	}
}
