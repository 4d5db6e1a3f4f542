// Package relay owns plangate's stdio relay: it carries an MCP client's
// newline-delimited JSON-RPC from stdin to a plangate server's streamable
// HTTP endpoint, and the server's messages back to stdout, for clients that
// speak only stdio. It keeps the session the server hands out, listens for
// server-initiated messages, and turns every transport failure into a
// JSON-RPC error that says what to do, so that the client shows it instead
// of hanging.
package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Header names of the streamable HTTP transport.
const (
	headerSession     = "Mcp-Session-Id"
	headerProtocol    = "Mcp-Protocol-Version"
	headerLastEventID = "Last-Event-ID"
)

// deleteTimeout bounds ending the session once the client has gone.
const deleteTimeout = 5 * time.Second

// maxErrorBody bounds what is read of an HTTP error's body.
const maxErrorBody = 64 << 10

// Relay carries one MCP client's session to a plangate server.
type Relay struct {
	ep        *Endpoint
	token     Token
	tokenFile string
	logger    *slog.Logger
	userAgent string
	// unusable, when set, answers every request: the relay could not be
	// set up (a bad --connect or --token-file).
	unusable *problem

	out       *lineWriter
	listenCtx context.Context
	listeners sync.WaitGroup
	inflight  sync.WaitGroup

	mu        sync.Mutex
	session   string
	version   string
	initID    string
	listening bool
	calls     map[string]callState
}

type callState int

const (
	pending callState = iota + 1
	// failed: the relay answered with an error, or the client cancelled
	// the call; a late answer from the server is dropped, since a client
	// must not get two, nor one to a call it cancelled.
	failed
)

// Option configures a Relay.
type Option func(*Relay)

// WithToken sends t as the bearer token on every request; file names
// where it came from, for messages.
func WithToken(t Token, file string) Option {
	return func(r *Relay) { r.token, r.tokenFile = t, file }
}

// WithLogger logs to l (stderr in production) instead of nowhere.
func WithLogger(l *slog.Logger) Option { return func(r *Relay) { r.logger = l } }

// WithUserAgent names the relay in its requests' User-Agent header.
func WithUserAgent(ua string) Option { return func(r *Relay) { r.userAgent = ua } }

// New returns a relay to the server at ep.
func New(ep *Endpoint, opts ...Option) *Relay {
	r := &Relay{ep: ep, logger: slog.New(slog.DiscardHandler), userAgent: "plangate-relay", calls: map[string]callState{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Unusable returns a relay that answers every request with why it cannot
// work (problem says what to fix): an MCP client shows an answer, but only
// "connection closed" for a relay that exits.
func Unusable(why string, opts ...Option) *Relay {
	r := New(nil, opts...)
	r.unusable = &problem{codeConfig, "plangate relay: " + why}
	return r
}

// Run relays messages from in (the client's stdin) until it ends or ctx
// is cancelled, then ends the session on the server. It waits for the
// answers to calls in flight when in ends (a client that closed stdin
// and still reads gets them; one that is gone stops the relay with a
// signal). An unusable relay returns its problem, so the exit status
// says it did not work.
func (r *Relay) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.out = &lineWriter{w: bufio.NewWriterSize(out, 64<<10), onFail: func(err error) {
		stop(fmt.Errorf("writing to stdout: %w", err))
	}}
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	r.listenCtx = listenCtx

	lines := make(chan []byte)
	readDone := make(chan error, 1)
	go func() {
		readDone <- readLines(in, lines, ctx.Done(), func(err error) { r.logger.Error("skipping a message from the MCP client", "err", err) })
	}()
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			r.dispatch(ctx, line)
		case <-ctx.Done():
			break loop
		}
	}
	r.inflight.Wait()
	stopListening()
	r.listeners.Wait()
	r.endSession(ctx)

	var readErr error
	select {
	case readErr = <-readDone:
	default: // stopped by ctx while stdin still blocks
	}
	switch {
	case r.unusable != nil:
		return r.unusable
	case context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled):
		return context.Cause(ctx)
	case readErr != nil:
		return fmt.Errorf("reading stdin: %w", readErr)
	}
	return nil
}

func (r *Relay) dispatch(ctx context.Context, line []byte) {
	m := parseMessage(line)
	if r.unusable != nil {
		if m.request() {
			r.track(m)
			r.answer(m, r.unusable)
		}
		return
	}
	switch {
	case m.request() && m.method == "initialize":
		// Everything after initialize needs the session it opens.
		r.mu.Lock()
		r.session, r.version, r.initID = "", "", m.id
		r.mu.Unlock()
		r.track(m)
		r.post(ctx, m)
	case m.request():
		// Calls run concurrently: a plan that takes minutes must not hold
		// up a list_plans meanwhile.
		r.track(m)
		r.inflight.Add(1)
		go func() {
			defer r.inflight.Done()
			r.post(ctx, m)
		}()
	default:
		// Notifications and answers go in order, each accepted before the
		// next is sent: notifications/initialized before any call, a
		// cancellation after the call it cancels.
		if m.method == "notifications/cancelled" {
			r.abandon(m.raw)
		}
		r.post(ctx, m)
		if m.method == "notifications/initialized" {
			r.listen()
		}
	}
}

func (r *Relay) track(m message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[m.id] = pending
}

// settle records that the server answered the call with id, and reports
// whether its answer is to be passed on.
func (r *Relay) settle(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.calls[id]
	if !ok {
		return true
	}
	if st == failed {
		return false
	}
	delete(r.calls, id)
	return true
}

// abandon records that the client cancelled a call: it expects no answer
// to it any more, neither the server's nor the relay's.
func (r *Relay) abandon(cancellation []byte) {
	var n struct {
		Params struct {
			RequestID json.RawMessage `json:"requestId"`
		} `json:"params"`
	}
	if json.Unmarshal(cancellation, &n) != nil || len(n.Params.RequestID) == 0 {
		return
	}
	id := canonicalID(n.Params.RequestID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[id] == pending {
		r.calls[id] = failed
	}
}

func (r *Relay) isPending(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id] == pending
}

func (r *Relay) sessionID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.session
}

// answer answers the call m with p, unless the server answered it.
func (r *Relay) answer(m message, p *problem) {
	r.mu.Lock()
	if r.calls[m.id] != pending {
		r.mu.Unlock()
		return
	}
	r.calls[m.id] = failed
	r.mu.Unlock()
	r.logger.Error("answering a call with an error", "method", m.method, "id", m.id, "problem", p.msg)
	r.out.write(errorResponse(m, p))
}

// fail reports that m could not be relayed: a call gets p as its answer;
// a notification or an answer to the server can only be logged.
func (r *Relay) fail(ctx context.Context, m message, p *problem) {
	if ctx.Err() != nil {
		p = cancelled(ctx)
	}
	if !m.request() {
		r.logger.Error("could not relay a message to the server", "method", m.method, "problem", p.msg)
		return
	}
	r.answer(m, p)
}

func (r *Relay) newRequest(ctx context.Context, method string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.ep.URL, rd)
	if err != nil {
		return nil, err
	}
	switch method {
	case http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	case http.MethodGet:
		req.Header.Set("Accept", "text/event-stream")
	}
	if r.token.secret != "" {
		req.Header.Set("Authorization", "Bearer "+r.token.secret)
	}
	req.Header.Set("User-Agent", r.userAgent)
	r.mu.Lock()
	if r.session != "" {
		req.Header.Set(headerSession, r.session)
	}
	if r.version != "" {
		req.Header.Set(headerProtocol, r.version)
	}
	r.mu.Unlock()
	return req, nil
}

// post sends m and relays what comes back: nothing (202), one JSON
// message, or an SSE stream of them, in the order the server sent them.
func (r *Relay) post(ctx context.Context, m message) {
	req, err := r.newRequest(ctx, http.MethodPost, m.raw)
	if err != nil {
		r.fail(ctx, m, &problem{codeConfig, "plangate relay: " + err.Error()})
		return
	}
	resp, err := r.ep.client.Do(req)
	if err != nil {
		r.fail(ctx, m, r.ep.explainDial(err))
		return
	}
	defer resp.Body.Close()
	if m.method == "initialize" && resp.StatusCode == http.StatusOK {
		if sid := resp.Header.Get(headerSession); sid != "" {
			r.mu.Lock()
			r.session = sid
			r.mu.Unlock()
		}
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusAccepted:
		if m.request() {
			r.fail(ctx, m, &problem{codeUnreachable, fmt.Sprintf("plangate relay: the plangate server at %s accepted the call %s without answering it", r.ep.Host(), m.method)})
		}
	case resp.StatusCode/100 == 2 && ct == "text/event-stream":
		var pos streamPos
		err := r.relayStream(ctx, resp.Body, m, &pos)
		if !m.request() || !r.isPending(m.id) {
			return
		}
		if err != nil && pos.lastID != "" && ctx.Err() == nil {
			r.resume(ctx, m, &pos, err)
			return
		}
		if err != nil {
			r.fail(ctx, m, r.ep.explainDial(err))
			return
		}
		r.fail(ctx, m, &problem{codeUnreachable, fmt.Sprintf("plangate relay: the plangate server at %s ended its answer to %s without a result; try the call again", r.ep.Host(), m.method)})
	case resp.StatusCode/100 == 2:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxEvent))
		if err != nil {
			r.fail(ctx, m, r.ep.explainDial(err))
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			r.deliver(body)
		}
		if m.request() && r.isPending(m.id) {
			r.fail(ctx, m, &problem{codeUnreachable, fmt.Sprintf("plangate relay: the plangate server at %s answered %s with something that is not its result (%s)", r.ep.Host(), m.method, ct)})
		}
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		// A JSON-RPC error answering the call explains itself.
		if reply := parseMessage(bytes.TrimSpace(body)); reply.response() && reply.id == m.id {
			r.deliver(body)
			return
		}
		r.fail(ctx, m, r.explainStatus(resp.StatusCode, firstLine(body)))
	}
}

// firstLine is the start of an error body, fit for a message.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// streamPos is where a stream got to, to resume it from.
type streamPos struct {
	lastID string
	retry  time.Duration
}

// relayStream writes each message of an SSE stream to stdout in order.
// With call set, it returns once the call's answer is written (the server
// ends the stream then). A clean end of the stream returns nil.
func (r *Relay) relayStream(ctx context.Context, body io.Reader, call message, pos *streamPos) error {
	sr := newSSEReader(body)
	for {
		ev, err := sr.Next()
		pos.lastID, pos.retry = sr.lastID, sr.retry
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if id, ok := r.deliver(ev.Data); ok && call.id != "" && id == call.id {
			return nil
		}
	}
}

// deliver writes one message from the server to stdout, as one line, and
// reports whether it answered a call (and which).
func (r *Relay) deliver(data []byte) (id string, isResponse bool) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		r.logger.Warn("dropping a message from the server that is not JSON", "err", err, "start", firstLine(data))
		return "", false
	}
	m := parseMessage(buf.Bytes())
	if m.response() {
		if !r.settle(m.id) {
			r.logger.Debug("dropping the server's answer to a call that was cancelled or already answered with an error", "id", m.id)
			return m.id, true
		}
		r.noteInitialized(m)
	}
	r.out.write(buf.Bytes())
	return m.id, m.response()
}

// noteInitialized keeps the protocol version an initialize result
// negotiated, which every later request names.
func (r *Relay) noteInitialized(m message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.id != r.initID {
		return
	}
	var res struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	if json.Unmarshal(m.raw, &res) == nil {
		r.version = res.Result.ProtocolVersion
	}
}
