package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plangate/plangate/plan"
)

// rpcGuard sits on the stdio streams outside mcp-go and makes its JSON-RPC
// 2.0 strict where mcp-go is lenient:
//
//   - A request whose id is neither a string nor an integer (an object, an
//     array, a boolean, 1.5, null) gets -32600 Invalid Request with id
//     null, as JSON-RPC and MCP ask, instead of an answer that echoes that
//     id (or, for null, no answer at all). So does a message whose member
//     names are in another case ("ID"), which mcp-go would accept.
//   - An integer id beyond ±2^53, which mcp-go would decode as a float64 and
//     answer changed, is swapped for a stand-in string on the way in (in
//     notifications/cancelled too) and restored, byte for byte, on the way
//     out. So is a string id that reads as a number ("7"), which mcp-go
//     would take for the same request as 7 when cancelling.
//   - The same goes for such a progress token (params._meta.progressToken):
//     progress notifications carry it back exactly as the client sent it.
//   - A response from the client is passed on only when it answers a
//     request plangate sent (a URL elicitation) and has not been answered
//     yet; any other is dropped: mcp-go would answer an error response
//     with -32601.
//   - Error messages are clipped to maxErrorMessage bytes: mcp-go echoes an
//     unknown method or tool name whole, 1 MiB of it if that is what came.
//   - A resources/read of a plan that does not exist is "resource not found"
//     (-32002; -32602 for protocol 2026-07-28, as mcp-go itself answers a URI
//     no template matches) instead of -32603 Internal error.
//   - A request the client cancels (notifications/cancelled) gets no
//     answer, as MCP asks (the client has forgotten its id), and no more
//     progress notifications for its token; mcp-go would send both.
//
// Lines that are not a JSON object pass through untouched: mcp-go answers
// them with the parse or invalid-request error they deserve.
type rpcGuard struct {
	mu  sync.Mutex
	ids *standIns // request ids, forgotten once answered or cancelled
	// requests are the client's requests in flight, by their id as mcp-go
	// sees it (JSON text): the one table of what their answer needs on its
	// way out.
	requests map[string]*inFlight
	// tokens are progress tokens, kept until the map is full: progress
	// may trail the response.
	tokens *standIns
	// silenced are the progress tokens (as mcp-go sees them) of cancelled
	// requests.
	silenced map[string]bool
	// asked are the ids (JSON text) of plangate's own requests to the
	// client that await its response.
	asked  map[string]bool
	legacy bool // the client sent initialize: a 2025 protocol revision
	// head reads server lines; outLine runs under the writer's lock, so
	// one decoder serves every line.
	head   *jsontext.Decoder
	out    *guardWriter
	logger func(msg string, args ...any)
}

// inFlight is one request between the client's line and mcp-go's answer.
type inFlight struct {
	read      bool   // a resources/read
	cancelled bool   // the client cancelled it: no answer goes out
	token     string // its progress token as mcp-go sees it (JSON text)
}

// key is a JSON value's text, as the tables hold it.
func key(raw json.RawMessage) string { return string(bytes.TrimSpace(raw)) }

// maxTracked bounds the guard's memory whatever the client sends: a table
// that grows past it is emptied.
const maxTracked = 10000

// maxErrorMessage bounds the message of an error sent to the client.
const maxErrorMessage = 1024

// standInPrefix starts every stand-in id (tokenPrefix every stand-in
// progress token); a client id or token that starts with it is remapped
// too, so that none is ever mistaken for one.
const (
	standInPrefix = "plangate-rpc-id-"
	tokenPrefix   = "plangate-rpc-token-"
)

func newRPCGuard(out io.Writer, logf func(msg string, args ...any)) *rpcGuard {
	g := &rpcGuard{ids: newStandIns(standInPrefix), tokens: newStandIns(tokenPrefix),
		requests: map[string]*inFlight{}, silenced: map[string]bool{}, asked: map[string]bool{}, logger: logf}
	g.out = &guardWriter{w: out, g: g}
	return g
}

// Writer is the guard's side of the client's stdout.
func (g *rpcGuard) Writer() io.Writer { return g.out }

// Reader returns the client's lines as mcp-go should see them. Close it
// when the server stops, so that the goroutine copying lines ends.
func (g *rpcGuard) Reader(r io.Reader) *io.PipeReader {
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				body := bytes.TrimSuffix(line, []byte("\n"))
				if out, ok := g.in(body); ok {
					if _, werr := pw.Write(append(out, '\n')); werr != nil {
						return
					}
				}
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// jsonrpcMembers are the member names of JSON-RPC 2.0 messages.
var jsonrpcMembers = []string{"jsonrpc", "id", "method", "params", "result", "error"}

// invalidRequest is the -32600 error line, with id null, for a message the
// guard does not pass on.
func invalidRequest(why string) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": mcp.INVALID_REQUEST, "message": "Invalid Request: " + why}})
	return b
}

// integer is a JSON integer (no fraction, no exponent).
var integer = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// maxSafe is 2^53: integers up to it survive a float64.
const maxSafe = 1 << 53

// idKind classifies a JSON id: "string", "int" (exactly representable),
// "bigint", "null" or "invalid".
func idKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "invalid"
	case raw[0] == '"':
		return "string"
	case string(raw) == "null":
		return "null"
	case integer.Match(raw):
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err == nil && n <= maxSafe && n >= -maxSafe {
			return "int"
		}
		return "bigint"
	}
	return "invalid"
}

// in rewrites one line from the client; ok false drops it.
func (g *rpcGuard) in(line []byte) (out []byte, ok bool) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return line, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trimmed, &m) != nil {
		return line, true
	}
	// JSON-RPC member names are case-sensitive; mcp-go's decoder is not,
	// and would take "ID" for the id.
	for k := range m {
		for _, member := range jsonrpcMembers {
			if k != member && strings.EqualFold(k, member) {
				g.out.writeLine(invalidRequest("member names are lower case (" + strconv.Quote(member) + ")"))
				return nil, false
			}
		}
	}
	id, hasID := m["id"]
	methodRaw, hasMethod := m["method"]
	var method string
	if hasMethod && json.Unmarshal(methodRaw, &method) != nil {
		return line, true // mcp-go: invalid request
	}
	_, hasResult := m["result"]
	_, hasError := m["error"]
	if !hasMethod && (hasResult || hasError) {
		g.mu.Lock()
		asked := hasID && g.asked[key(id)]
		delete(g.asked, key(id))
		g.mu.Unlock()
		if asked {
			return line, true
		}
		g.log("dropping a response from the client to no request of plangate's", "id", plan.Truncate(string(id), 64))
		return nil, false
	}
	changed := false
	if hasID {
		kind := idKind(id)
		if kind == "null" && hasMethod {
			// MCP: a request id is never null (and mcp-go would take it
			// for a notification and say nothing).
			kind = "invalid"
		}
		switch kind {
		case "invalid":
			g.out.writeLine(invalidRequest("the id must be a string or an integer"))
			return nil, false
		case "bigint":
			m["id"] = g.standIn(id)
			changed = true
		case "string":
			// mcp-go keys in-flight requests by the id's text: "7" would
			// be the same request as 7. Ids it could confuse, or take for
			// a stand-in, get a stand-in of their own.
			var s string
			if json.Unmarshal(id, &s) == nil && (strings.HasPrefix(s, standInPrefix) || looksNumeric(s)) {
				m["id"] = g.standIn(id)
				changed = true
			}
		}
	}
	var token string
	if params, ok := m["params"]; ok && hasMethod && bytes.Contains(params, []byte("progressToken")) {
		b, tok, mapped := g.mapProgressToken(params)
		if mapped {
			m["params"], changed = b, true
		}
		token = tok
	}
	switch method {
	case "initialize":
		g.mu.Lock()
		g.legacy = true
		g.mu.Unlock()
	case "notifications/cancelled":
		var p map[string]json.RawMessage
		if json.Unmarshal(m["params"], &p) == nil {
			if s, ok := g.cancel(p["requestId"]); ok {
				p["requestId"] = json.RawMessage(s)
				if b, err := json.Marshal(p); err == nil {
					m["params"], changed = b, true
				}
			}
		}
	}
	if hasMethod && hasID {
		g.track(key(m["id"]), &inFlight{read: method == "resources/read", token: token})
	}
	if !changed {
		return line, true
	}
	b, err := json.Marshal(m)
	if err != nil {
		return line, true
	}
	return b, true
}

// mapProgressToken finds the progress token in params._meta and returns
// it as mcp-go will see it; one that mcp-go would change (an integer
// beyond 2^53) or mistake (one that looks like a stand-in) is swapped for
// a stand-in string, and the params rewritten (mapped).
func (g *rpcGuard) mapProgressToken(params json.RawMessage) (rewritten json.RawMessage, token string, mapped bool) {
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) != nil {
		return nil, "", false
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(p["_meta"], &meta) != nil {
		return nil, "", false
	}
	tok, ok := meta["progressToken"]
	if !ok {
		return nil, "", false
	}
	switch idKind(tok) {
	case "bigint":
	case "string":
		var s string
		if json.Unmarshal(tok, &s) != nil || !strings.HasPrefix(s, tokenPrefix) {
			return nil, key(tok), false
		}
	default:
		return nil, key(tok), false
	}
	g.mu.Lock()
	stand := g.tokens.standIn(tok)
	g.mu.Unlock()
	meta["progressToken"] = stand
	mb, err1 := json.Marshal(meta)
	p["_meta"] = mb
	pb, err2 := json.Marshal(p)
	if err1 != nil || err2 != nil {
		return nil, key(tok), false
	}
	return pb, key(stand), true
}

// track notes a request on its way to mcp-go.
func (g *rpcGuard) track(id string, r *inFlight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.requests) > maxTracked {
		g.requests = map[string]*inFlight{}
	}
	g.requests[id] = r
}

// cancel marks the request the client cancelled (its id as the client
// wrote it): its answer and its progress will not go out. It returns the
// stand-in mcp-go knows the request by, if it has one; the stand-in is
// forgotten, since no answer will need it.
func (g *rpcGuard) cancel(clientID json.RawMessage) (standIn string, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := key(clientID)
	if s, mapped := g.ids.lookup(clientID); mapped {
		g.ids.forget(s)
		id, standIn, ok = s, s, true
	}
	if r := g.requests[id]; r != nil {
		r.cancelled = true
		if r.token != "" {
			if len(g.silenced) > maxTracked {
				g.silenced = map[string]bool{}
			}
			g.silenced[r.token] = true
		}
	}
	return standIn, ok
}

// restoreProgressToken puts the client's own token back into a progress
// notification.
func (g *rpcGuard) restoreProgressToken(m map[string]json.RawMessage) bool {
	var p map[string]json.RawMessage
	if json.Unmarshal(m["params"], &p) != nil {
		return false
	}
	g.mu.Lock()
	orig, ok := g.tokens.original(key(p["progressToken"]))
	g.mu.Unlock()
	if !ok {
		return false
	}
	p["progressToken"] = orig
	b, err := json.Marshal(p)
	if err != nil {
		return false
	}
	m["params"] = b
	return true
}

// looksNumeric reports whether a string id reads as a number.
func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// standIn returns the stand-in id for a client id, making one if needed.
func (g *rpcGuard) standIn(id json.RawMessage) json.RawMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ids.standIn(id)
}

// standIns pairs client values (ids, progress tokens) with the stand-in
// strings mcp-go sees instead. Not safe for concurrent use: rpcGuard.mu
// guards it.
type standIns struct {
	prefix   string
	next     uint64
	byStand  map[string]json.RawMessage // stand-in (JSON) -> the client's value
	byClient map[string]string          // the client's value (JSON) -> stand-in
}

func newStandIns(prefix string) *standIns {
	return &standIns{prefix: prefix, byStand: map[string]json.RawMessage{}, byClient: map[string]string{}}
}

// standIn returns the stand-in for v, making one if needed. The maps are
// emptied when full, so that memory stays bounded whatever the client sends.
func (m *standIns) standIn(v json.RawMessage) json.RawMessage {
	if s, ok := m.byClient[key(v)]; ok {
		return json.RawMessage(s)
	}
	if len(m.byStand) > maxTracked {
		m.byStand, m.byClient = map[string]json.RawMessage{}, map[string]string{}
	}
	m.next++
	s := strconv.Quote(m.prefix + strconv.FormatUint(m.next, 10))
	m.byStand[s] = append(json.RawMessage(nil), bytes.TrimSpace(v)...)
	m.byClient[key(v)] = s
	return json.RawMessage(s)
}

// lookup returns the stand-in of a client value, if it has one.
func (m *standIns) lookup(v json.RawMessage) (string, bool) {
	s, ok := m.byClient[key(v)]
	return s, ok
}

// original returns the client's value behind a stand-in.
func (m *standIns) original(standIn string) (json.RawMessage, bool) {
	v, ok := m.byStand[standIn]
	return v, ok
}

// forget drops a stand-in and its client value.
func (m *standIns) forget(standIn string) {
	if v, ok := m.byStand[standIn]; ok {
		delete(m.byClient, key(v))
		delete(m.byStand, standIn)
	}
}

// outLine rewrites one line to the client; drop is set for a line the
// client must not get.
func (g *rpcGuard) outLine(line []byte) (out []byte, drop bool) {
	if g.head == nil {
		g.head = jsontext.NewDecoder(bytes.NewBuffer(nil))
	}
	h, ok := readHead(g.head, line)
	if !ok {
		return line, false
	}
	if h.method != "" {
		if h.id != "" {
			// plangate's own request (elicitation/create): its response
			// may come in.
			g.mu.Lock()
			if len(g.asked) >= maxTracked {
				clear(g.asked)
			}
			g.asked[h.id] = true
			g.mu.Unlock()
		}
		if h.method != "notifications/progress" {
			return line, false
		}
		return g.outProgress(line)
	}
	g.mu.Lock()
	r := g.requests[h.id]
	delete(g.requests, h.id)
	orig, hasStandIn := g.ids.original(h.id)
	if hasStandIn {
		g.ids.forget(h.id)
	}
	legacy := g.legacy
	g.mu.Unlock()
	if r != nil && r.cancelled {
		return nil, true
	}
	read := r != nil && r.read
	if !hasStandIn && !(read && h.hasError) && !(len(line) > maxErrorMessage && h.hasError) {
		return line, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return line, false
	}
	changed := false
	if hasStandIn {
		m["id"] = orig
		changed = true
	}
	if raw, ok := m["error"]; ok {
		var e struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data,omitempty"`
		}
		if json.Unmarshal(raw, &e) == nil {
			fixed := false
			if read && e.Code == mcp.INTERNAL_ERROR && strings.Contains(e.Message, "resource not found") {
				e.Code = mcp.RESOURCE_NOT_FOUND
				if !legacy {
					e.Code = mcp.INVALID_PARAMS
				}
				fixed = true
			}
			if len(e.Message) > maxErrorMessage {
				e.Message = plan.Truncate(e.Message, maxErrorMessage)
				fixed = true
			}
			if len(e.Data) > maxErrorMessage {
				e.Data = nil
				fixed = true
			}
			if fixed {
				if b, err := json.Marshal(e); err == nil {
					m["error"], changed = b, true
				}
			}
		}
	}
	if !changed {
		return line, false
	}
	b, err := json.Marshal(m)
	if err != nil {
		return line, false
	}
	return b, false
}

// outProgress drops the progress of a cancelled request and puts the
// client's own token back where mcp-go saw a stand-in.
func (g *rpcGuard) outProgress(line []byte) ([]byte, bool) {
	g.mu.Lock()
	silenced := len(g.silenced) > 0
	g.mu.Unlock()
	if !silenced && !bytes.Contains(line, []byte(tokenPrefix)) {
		return line, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return line, false
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(m["params"], &p) != nil {
		return line, false
	}
	tok := key(p["progressToken"])
	g.mu.Lock()
	drop := g.silenced[tok]
	orig, mapped := g.tokens.original(tok)
	g.mu.Unlock()
	if drop {
		return nil, true
	}
	if !mapped {
		return line, false
	}
	p["progressToken"] = orig
	pb, err := json.Marshal(p)
	if err != nil {
		return line, false
	}
	m["params"] = pb
	b, err := json.Marshal(m)
	if err != nil {
		return line, false
	}
	return b, false
}

// head is what outLine needs to know of a server line before deciding
// whether to read all of it.
type head struct {
	id       string // the id's JSON text
	method   string
	hasError bool
}

// readHead reads with d (reset for the line) a server line's top-level members up to the result or
// error member (mcp-go writes jsonrpc, id, then result, error or method
// and params), without reading a result through. ok is false for a line
// that is not a JSON object.
func readHead(d *jsontext.Decoder, line []byte) (h head, ok bool) {
	// A *bytes.Buffer is read in place: no copy of the line.
	d.Reset(bytes.NewBuffer(line), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	defer d.Reset(bytes.NewBuffer(nil)) // keep no line
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return head{}, false
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadToken()
		if err != nil {
			return head{}, false
		}
		switch name.String() {
		case "id":
			v, err := d.ReadValue()
			if err != nil {
				return head{}, false
			}
			h.id = string(v)
		case "method":
			v, err := d.ReadToken()
			if err != nil {
				return head{}, false
			}
			h.method = v.String()
		case "error":
			h.hasError = true
			return h, true
		case "result":
			return h, true
		default:
			if d.SkipValue() != nil {
				return head{}, false
			}
		}
	}
	return h, true
}

func (g *rpcGuard) log(msg string, args ...any) {
	if g.logger != nil {
		g.logger(msg, args...)
	}
}

// guardWriter writes whole lines to the client, each through outLine.
type guardWriter struct {
	mu      sync.Mutex
	w       io.Writer
	g       *rpcGuard
	pending []byte
}

func (gw *guardWriter) Write(p []byte) (int, error) {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	gw.pending = append(gw.pending, p...)
	for {
		i := bytes.IndexByte(gw.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line, drop := gw.g.outLine(gw.pending[:i])
		if !drop {
			if _, err := gw.w.Write(append(append([]byte(nil), line...), '\n')); err != nil {
				gw.pending = gw.pending[i+1:]
				return len(p), err
			}
		}
		gw.pending = gw.pending[i+1:]
	}
}

// writeLine sends a line of the guard's own to the client, between the
// server's lines.
func (gw *guardWriter) writeLine(line []byte) {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	_, _ = gw.w.Write(append(append([]byte(nil), line...), '\n'))
}
