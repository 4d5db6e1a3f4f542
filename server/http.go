package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/review"
	"github.com/plangate/plangate/tools"
)

// HTTP serving: the same MCP server, over MCP's streamable HTTP transport
// at /mcp, for many clients at once (plangate server). The listener is a
// unix socket, whose file mode and group decide who may connect, or TCP,
// where every request carries an agent's bearer token.

// EndpointPath is where the MCP endpoint is served.
const EndpointPath = "/mcp"

// Limits of one HTTP request.
const (
	MaxRequestBytes   = 1 << 20
	ReadHeaderTimeout = 10 * time.Second
	// MaxRequestTime bounds reading a request body; an apply may stream
	// its answer for much longer.
	MaxRequestTime = time.Minute
	// DefaultSessionIdleTTL is how long a session (protocol 2025-11-25
	// and earlier) may go without a request or a message on its
	// listening stream before the server forgets it: a client that
	// vanishes without DELETE otherwise leaves about 10 KiB for the
	// server's lifetime. A client back after that is still served, but
	// as a session without the name initialize gave it (its audit events
	// keep agent=, lose client=). The relay's listening stream is pinged
	// every 30 s, so a relayed session never idles out.
	DefaultSessionIdleTTL = time.Hour
)

// ErrAuthUnavailable wraps an Authenticator's failure to check a token at
// all (its store unreadable): the server answers 503, not 401.
var ErrAuthUnavailable = errors.New("agent tokens unavailable")

// Authenticator checks an agent's bearer token.
type Authenticator interface {
	// Authenticate returns the agent a token belongs to, or an error
	// that says what to do (never the token).
	Authenticate(bearer string) (*tools.Agent, error)
}

// RateLimiter says whether an agent may make another request now.
type RateLimiter interface {
	Allow(agent string) (ok bool, retryAfter time.Duration)
}

// HTTPOptions configure NewHTTPHandler.
type HTTPOptions struct {
	// Auth, when set, is required of every request (TCP); nil means the
	// listener's own access control decides (a unix socket's mode).
	Auth Authenticator
	// Limit, when set, bounds each agent's request rate.
	Limit RateLimiter
	// Hosts are the Host header values accepted besides loopback names
	// (the server's public name behind TLS). A request for another
	// host is refused: DNS rebinding.
	Hosts []string
	// Human, when set, serves the human API at HumanPath (plangate
	// approve --server). Its requests are signed by approvers, so they
	// need no agent token.
	Human http.Handler
	// Review, when set, serves the review page at review.Prefix, for
	// approvers' browsers: it checks its own secret, session, CSRF token,
	// Host and Origin, and needs no agent token.
	Review http.Handler
	// Doctor, when set, answers plangate doctor --server at DoctorPath:
	// an agent's request, behind the same checks as MCP's.
	Doctor http.Handler
	// Base is the server's lifetime: tool calls outlive their HTTP
	// request (a client that disconnects does not stop an apply) but end
	// with it.
	Base   context.Context
	Logger *slog.Logger
	// SessionIdleTTL, when set, replaces DefaultSessionIdleTTL.
	SessionIdleTTL time.Duration
}

// NewHTTPHandler serves s at EndpointPath with plangate's checks in front:
// request size and time, Host and Origin, the bearer token, the rate.
func NewHTTPHandler(s *mcpserver.MCPServer, opts HTTPOptions) *HTTPHandler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := opts.Base
	if base == nil {
		base = context.Background()
	}
	ttl := opts.SessionIdleTTL
	if ttl <= 0 {
		ttl = DefaultSessionIdleTTL
	}
	mcp := mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithEndpointPath(EndpointPath),
		mcpserver.WithStreamableHTTPLogger(logger),
		mcpserver.WithHeartbeatInterval(30*time.Second),
		mcpserver.WithSessionIdleTTL(ttl),
		mcpserver.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			return detached{values: ctx, life: base}
		}),
	)
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, mcp)
	if opts.Doctor != nil {
		mux.Handle(DoctorPath, opts.Doctor)
	}
	return &HTTPHandler{next: mux, opts: opts, logger: logger}
}

// HTTPHandler is plangate's MCP endpoint with its checks.
type HTTPHandler struct {
	next   http.Handler
	opts   HTTPOptions
	logger *slog.Logger
	// calls counts the requests in flight other than the long-lived GET
	// streams: what a shutdown waits for.
	calls sync.WaitGroup
}

// Drain waits until no call is in flight, or ctx ends.
func (g *HTTPHandler) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.calls.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		g.calls.Add(1)
		defer g.calls.Done()
	}
	// The agents' paths, behind the listener's access control and the
	// agent token; the human API's requests are approver-signed instead.
	agents := r.URL.Path == EndpointPath || g.opts.Doctor != nil && r.URL.Path == DoctorPath
	human := !agents && g.opts.Human != nil && strings.HasPrefix(r.URL.Path, HumanPath)
	page := !agents && g.opts.Review != nil && (strings.HasPrefix(r.URL.Path, review.Prefix) || r.URL.Path+"/" == review.Prefix)
	if !agents && !human && !page {
		http.Error(w, "plangate serves MCP at "+EndpointPath, http.StatusNotFound)
		return
	}
	if !g.hostAllowed(r.Host) {
		g.logger.Warn("refused request", "reason", "host", "host", r.Host)
		http.Error(w, fmt.Sprintf("Host %q is not this server's: plangate answers loopback names and its configured names only (DNS rebinding)", r.Host), http.StatusForbidden)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !g.originAllowed(o) {
		g.logger.Warn("refused request", "reason", "origin", "origin", o)
		http.Error(w, fmt.Sprintf("Origin %q may not call plangate: a web page cannot drive it", o), http.StatusForbidden)
		return
	}
	if page {
		g.opts.Review.ServeHTTP(w, r)
		return
	}
	if human {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		g.opts.Human.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	if g.opts.Auth != nil {
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || bearer == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plangate"`)
			http.Error(w, "an agent token is required: send Authorization: Bearer <token>, with a token from `plangate agent-token add` (the relay: plangate serve --connect … --token-file <file>)", http.StatusUnauthorized)
			return
		}
		agent, err := g.opts.Auth.Authenticate(bearer)
		if errors.Is(err, ErrAuthUnavailable) {
			g.logger.Error("checking an agent token", "err", err)
			http.Error(w, "plangate cannot check agent tokens now ("+err.Error()+"): a human fixes the state dir", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			g.logger.Warn("refused request", "reason", "token", "err", err)
			w.Header().Set("WWW-Authenticate", `Bearer realm="plangate", error="invalid_token"`)
			http.Error(w, "the agent token was refused: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if g.opts.Limit != nil {
			if ok, retry := g.opts.Limit.Allow(agent.Name); !ok {
				w.Header().Set("Retry-After", fmt.Sprint(int(retry.Seconds())+1))
				http.Error(w, fmt.Sprintf("agent %q is making requests too fast: try again in %s", agent.Name, retry.Round(time.Second)), http.StatusTooManyRequests)
				return
			}
		}
		ctx = tools.WithAgent(ctx, agent)
	}
	r = r.WithContext(ctx)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	}
	g.next.ServeHTTP(w, r)
}

// hostAllowed: loopback names, the configured names, or a unix socket's
// request (whose Host is whatever the client wrote: nothing to rebind).
func (g *HTTPHandler) hostAllowed(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.IsLoopback() {
		return true
	}
	for _, a := range g.opts.Hosts {
		if strings.EqualFold(a, h) {
			return true
		}
	}
	return false
}

// originAllowed: a browser's Origin must be one of the server's own
// (loopback or configured); MCP clients send none.
func (g *HTTPHandler) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return g.hostAllowed(u.Host)
}

// detached carries a request's values but lives as long as the server:
// a tool call outlives a client that disconnects.
type detached struct {
	values context.Context
	life   context.Context
}

func (d detached) Deadline() (time.Time, bool) { return d.life.Deadline() }
func (d detached) Done() <-chan struct{}       { return d.life.Done() }
func (d detached) Err() error                  { return d.life.Err() }
func (d detached) Value(k any) any             { return d.values.Value(k) }

// ServeHTTP serves h on ln until ctx ends, then stops accepting, waits (up
// to grace) for the calls in flight — applies stop gracefully, since
// their context ends with ctx — and closes the rest (event streams).
// tlsConfig, when set, serves TLS.
func ServeHTTP(ctx context.Context, h *HTTPHandler, ln net.Listener, tlsConfig *tls.Config, grace time.Duration, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       MaxRequestTime,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsConfig,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// Whom a request comes from (plangate doctor --server) is a fact
		// of its connection.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting at once; let the calls in flight end.
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() { _ = srv.Shutdown(sctx) }()
	drained := h.Drain(sctx)
	err := srv.Close()
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return e
	}
	if drained != nil {
		return fmt.Errorf("calls still running after %s: %w", grace, drained)
	}
	return err
}
