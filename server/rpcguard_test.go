package server

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestGuard() (*rpcGuard, *bytes.Buffer) {
	var out bytes.Buffer
	return newRPCGuard(&out, nil), &out
}

// A big integer id goes to mcp-go as a stand-in string and comes back to
// the client exactly as it sent it; a cancellation names the stand-in.
func TestRPCGuardBigIDRoundTrip(t *testing.T) {
	g, out := newTestGuard()
	line, ok := g.in([]byte(`{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"plan_change"}}`))
	require.True(t, ok)
	var m struct {
		ID     string          `json:"id"`
		Params json.RawMessage `json:"params"`
	}
	require.NoError(t, json.Unmarshal(line, &m), "%s", line)
	assert.True(t, strings.HasPrefix(m.ID, standInPrefix), "%s", line)
	assert.JSONEq(t, `{"name":"plan_change"}`, string(m.Params))

	_, err := g.Writer().Write([]byte(`{"jsonrpc":"2.0","id":"` + m.ID + `","result":{}}` + "\n"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":9007199254740993,"result":{}}`, out.String())
	assert.Contains(t, out.String(), `"id":9007199254740993`, "byte for byte")
	assert.Empty(t, g.ids.byStand, "the mapping is forgotten once answered")

	// A cancelled big-id request: the cancellation names its stand-in (so
	// that mcp-go stops the right call), and the mapping is forgotten (the
	// answer never comes out).
	line, ok = g.in([]byte(`{"jsonrpc":"2.0","id":-9007199254740995,"method":"ping"}`))
	require.True(t, ok)
	require.NoError(t, json.Unmarshal(line, &m))
	cancel, ok := g.in([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":-9007199254740995,"reason":"x"}}`))
	require.True(t, ok)
	assert.Contains(t, string(cancel), `"requestId":"`+m.ID+`"`)
	assert.Empty(t, g.ids.byStand)
	assert.Empty(t, g.ids.byClient)

	// "7" and 7 stay two requests for mcp-go.
	seven, ok := g.in([]byte(`{"jsonrpc":"2.0","id":"7","method":"ping"}`))
	require.True(t, ok)
	assert.Contains(t, string(seven), `"id":"`+standInPrefix)
	out.Reset()
	var s7 struct{ ID string }
	require.NoError(t, json.Unmarshal(seven, &s7))
	_, err = g.Writer().Write([]byte(`{"jsonrpc":"2.0","id":"` + s7.ID + `","result":{}}` + "\n"))
	require.NoError(t, err)
	assert.Contains(t, out.String(), `"id":"7"`)

	// Safe integers and strings pass untouched.
	for _, l := range []string{
		`{"jsonrpc":"2.0","id":9007199254740992,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":-7,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":"abc","method":"ping"}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`not json`, ``, `[1,2]`,
	} {
		got, ok := g.in([]byte(l))
		assert.True(t, ok)
		assert.Equal(t, l, string(got))
	}
}

func TestRPCGuardRefusesIDsMCPDoesNotAllow(t *testing.T) {
	for _, id := range []string{`{"a":1}`, `[1]`, `true`, `1.5`, `1e3`, `-0.0`, `null`} {
		g, out := newTestGuard()
		_, ok := g.in([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`))
		assert.False(t, ok, "id %s must not reach mcp-go", id)
		assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: the id must be a string or an integer"}}`, out.String(), "id %s", id)
	}
}

// Member names are case-sensitive in JSON-RPC; mcp-go's decoder is not.
func TestRPCGuardRefusesMembersInAnotherCase(t *testing.T) {
	for _, l := range []string{
		`{"jsonrpc":"2.0","ID":{"a":1},"method":"ping"}`,
		`{"jsonrpc":"2.0","id":"x","Method":"ping"}`,
		`{"JSONRPC":"2.0","id":"x","method":"ping"}`,
		`{"jsonrpc":"2.0","id":"x","Result":{}}`,
	} {
		g, out := newTestGuard()
		_, ok := g.in([]byte(l))
		assert.False(t, ok, l)
		assert.Contains(t, out.String(), `"code":-32600`, l)
		assert.Contains(t, out.String(), `"id":null`, l)
	}
}

func TestRPCGuardDropsClientResponses(t *testing.T) {
	g, out := newTestGuard()
	for _, l := range []string{
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":"y","error":{"code":1,"message":"no"}}`,
	} {
		_, ok := g.in([]byte(l))
		assert.False(t, ok, l)
	}
	assert.Empty(t, out.String(), "a response is never answered")
}

// The response to plangate's own request (a URL elicitation) reaches
// mcp-go, once; a second response with that id, or one for an id plangate
// never used, does not.
func TestRPCGuardPassesTheAnswerToPlangatesRequest(t *testing.T) {
	g, out := newTestGuard()
	_, err := g.Writer().Write([]byte(`{"jsonrpc":"2.0","id":3,"method":"elicitation/create","params":{"mode":"url"}}` + "\n"))
	require.NoError(t, err)
	assert.Contains(t, out.String(), "elicitation/create", "the request goes out unchanged")
	answer := `{"jsonrpc":"2.0","id":3,"result":{"action":"accept"}}`
	got, ok := g.in([]byte(answer))
	assert.True(t, ok)
	assert.Equal(t, answer, string(got))
	_, ok = g.in([]byte(answer))
	assert.False(t, ok, "answered already")
	_, ok = g.in([]byte(`{"jsonrpc":"2.0","id":4,"result":{"action":"accept"}}`))
	assert.False(t, ok, "plangate asked nothing with this id")
}

func TestRPCGuardClipsErrorMessages(t *testing.T) {
	g, out := newTestGuard()
	big := strings.Repeat("é", 1<<19)
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "m", "error": map[string]any{"code": -32601, "message": "Method " + big + " not found"}})
	_, err := g.Writer().Write(append(b, '\n'))
	require.NoError(t, err)
	assert.Less(t, out.Len(), 2*maxErrorMessage)
	var m struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &m))
	assert.Equal(t, -32601, m.Error.Code)
	assert.True(t, strings.HasPrefix(m.Error.Message, "Method éé"))
	assert.True(t, strings.HasSuffix(m.Error.Message, "…"))
}

// A plan resource that does not exist: -32002 for 2025 clients (they
// initialize), -32602 for 2026-07-28 ones, as mcp-go answers a URI that no
// template matches.
func TestRPCGuardResourceNotFound(t *testing.T) {
	notFound := `{"jsonrpc":"2.0","id":"r","error":{"code":-32603,"message":"resource not found: plangate://plans/deadbeef: no such plan"}}`
	for _, tc := range []struct {
		name       string
		initialize bool
		code       int
	}{{"2025", true, -32002}, {"2026-07-28", false, -32602}} {
		g, out := newTestGuard()
		if tc.initialize {
			g.in([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`))
		}
		g.in([]byte(`{"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"uri":"plangate://plans/deadbeef"}}`))
		_, err := g.Writer().Write([]byte(notFound + "\n"))
		require.NoError(t, err)
		assert.Contains(t, out.String(), `"code":`+strconv.Itoa(tc.code), tc.name)
	}
	// A read answered with contents is forgotten too.
	g0, _ := newTestGuard()
	g0.in([]byte(`{"jsonrpc":"2.0","id":"ok","method":"resources/read","params":{"uri":"plangate://plans/x"}}`))
	_, err0 := g0.Writer().Write([]byte(`{"jsonrpc":"2.0","id":"ok","result":{"contents":[]}}` + "\n"))
	require.NoError(t, err0)
	assert.Empty(t, g0.requests)

	// Another method's internal error stays one.
	g, out := newTestGuard()
	g.in([]byte(`{"jsonrpc":"2.0","id":"t","method":"tools/call","params":{}}`))
	_, err := g.Writer().Write([]byte(`{"jsonrpc":"2.0","id":"t","error":{"code":-32603,"message":"resource not found"}}` + "\n"))
	require.NoError(t, err)
	assert.Contains(t, out.String(), `"code":-32603`)
}

// Whatever the client sends, the guard neither panics nor forwards a line
// that was valid JSON as invalid JSON, and what it writes to the client is
// one JSON-RPC line.
func FuzzRPCGuard(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":123456789012345678901}}`,
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":"plangate-rpc-id-1","method":"resources/read","params":{"uri":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":123456789012345678901}}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"plangate-rpc-token-1"}}`,
		`{"id":1,"method":5}`, `{`, `null`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsRune(line, '\n') {
			return // the reader splits lines: in never sees a newline
		}
		g, out := newTestGuard()
		got, ok := g.in([]byte(line))
		if ok && json.Valid([]byte(line)) && !json.Valid(got) {
			t.Fatalf("valid JSON %q forwarded as %q", line, got)
		}
		if ok && bytes.ContainsRune(got, '\n') {
			t.Fatalf("forwarded line holds a newline: %q", got)
		}
		if out.Len() > 0 {
			if !json.Valid(bytes.TrimSuffix(out.Bytes(), []byte("\n"))) || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
				t.Fatalf("guard wrote %q", out.String())
			}
		}
		// The same bytes as a server line.
		out.Reset()
		_, _ = g.Writer().Write([]byte(line + "\n"))
		if json.Valid([]byte(line)) && !json.Valid(bytes.TrimSuffix(out.Bytes(), []byte("\n"))) {
			t.Fatalf("server line %q written as %q", line, out.String())
		}
	})
}

// A progress token beyond 2^53 comes back in progress notifications
// exactly as the client sent it, even after the response.
func TestRPCGuardBigProgressToken(t *testing.T) {
	g, out := newTestGuard()
	line, ok := g.in([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"plan_change","arguments":{"stack":"web"},"_meta":{"progressToken":12345678901234567890}}}`))
	require.True(t, ok)
	var m struct {
		Params struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
			Meta      struct {
				ProgressToken string `json:"progressToken"`
			} `json:"_meta"`
		} `json:"params"`
	}
	require.NoError(t, json.Unmarshal(line, &m), "%s", line)
	tok := m.Params.Meta.ProgressToken
	assert.True(t, strings.HasPrefix(tok, tokenPrefix), "%s", line)
	assert.Equal(t, "plan_change", m.Params.Name)
	assert.Equal(t, map[string]any{"stack": "web"}, m.Params.Arguments)

	for _, l := range []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"` + tok + `","progress":1,"total":5}}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"` + tok + `","progress":5,"total":5}}`,
	} {
		_, err := g.Writer().Write([]byte(l + "\n"))
		require.NoError(t, err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, got, 3)
	assert.Contains(t, got[0], `"progressToken":12345678901234567890`)
	assert.Contains(t, got[2], `"progressToken":12345678901234567890`, "a notification trailing the response too")

	// Ordinary tokens pass untouched.
	l := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"abc"}}}`
	same, ok := g.in([]byte(l))
	require.True(t, ok)
	assert.Equal(t, l, string(same))
}

// A cancelled request gets no answer and no more progress; the others
// pass byte for byte, whatever pieces the server writes its lines in.
func TestRPCGuardDropsTheCancelledResponseAndItsProgress(t *testing.T) {
	g, out := newTestGuard()
	for _, l := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"apply_plan","_meta":{"progressToken":"tok-7"}}}`,
		`{"jsonrpc":"2.0","id":"eight","method":"tools/call","params":{"name":"list_plans","_meta":{"progressToken":8}}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}`,
	} {
		got, ok := g.in([]byte(l))
		require.True(t, ok)
		assert.Equal(t, l, string(got), "the client's lines pass unchanged")
	}
	lines := []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok-7","progress":2}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":8,"progress":1}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"isError":true}}`,
		`{"jsonrpc":"2.0","id":"eight","result":{}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok-7","progress":3}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"second":"answer to a reused id"}}`,
	}
	all := strings.Join(lines, "\n") + "\n"
	w := g.Writer()
	for i := 0; i < len(all); i += 17 {
		_, err := w.Write([]byte(all[i:min(i+17, len(all))]))
		require.NoError(t, err)
	}
	assert.Equal(t, lines[1]+"\n"+lines[3]+"\n"+lines[5]+"\n", out.String())
	assert.Empty(t, g.requests, "answered and cancelled requests are forgotten")
}

// A cancelled request with a big id: the cancellation names the stand-in
// mcp-go knows, and the answer to it is dropped.
func TestRPCGuardCancelsABigID(t *testing.T) {
	g, out := newTestGuard()
	line, ok := g.in([]byte(`{"jsonrpc":"2.0","id":9007199254740995,"method":"tools/call","params":{}}`))
	require.True(t, ok)
	var m struct{ ID string }
	require.NoError(t, json.Unmarshal(line, &m))
	_, ok = g.in([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9007199254740995}}`))
	require.True(t, ok)
	_, err := g.Writer().Write([]byte(`{"jsonrpc":"2.0","id":"` + m.ID + `","result":{}}` + "\n"))
	require.NoError(t, err)
	assert.Empty(t, out.String())
}

// Lines far longer than any message pass through the reader whole.
func TestRPCGuardLongLinesPassThrough(t *testing.T) {
	g, _ := newTestGuard()
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 3<<20) + `"}}` + "\n"
	r := g.Reader(strings.NewReader(big))
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, big, string(got))
}
