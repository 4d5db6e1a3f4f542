// Package review serves the review page: the plans awaiting approval as
// an approver reads them in a browser (every deletion, the code a plan
// runs, its inputs, the policy, the diff as Terraform colours it), the
// command a key approver runs, and the WebAuthn ceremonies of passkey
// approvers (approving a plan; registering a passkey). plangate review
// serves it on loopback; plangate server at /review/, over TLS.
package review

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/gate"
)

// Prefix is where the page is served; SecretParam the query parameter
// of its URL secret.
const (
	Prefix      = "/review/"
	SecretParam = "k"
	// CSRFHeader carries the session's CSRF token on every POST.
	CSRFHeader = "X-Plangate-CSRF"
	cookieName = "plangate_review"
	// MaxBodyBytes bounds a request body (a WebAuthn response is ~2 KiB).
	MaxBodyBytes = 64 << 10
	// DiffPageBytes is how much diff text one page of the diff carries.
	DiffPageBytes = 32 << 10
)

// CSP is the page's Content-Security-Policy: nothing but its own
// embedded script and style.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// Options configure a review page.
type Options struct {
	// Gate is the gate whose plans the page shows (nil: a page that only
	// registers a passkey).
	Gate *gate.Gate
	// Origin is the page's own origin as the browser sees it, such as
	// http://localhost:8123 or https://plangate.example.com:8443: the
	// only Host and Origin the page answers.
	Origin string
	// RPID is the WebAuthn relying party id: the origin's host name.
	RPID string
	// Secret is the URL secret (NewSecret) exchanged for a session.
	Secret string
	// TLS marks a page served over TLS: its cookie is Secure.
	TLS bool
	// Actor is who approves, for the audit log (the OS user).
	Actor string
	// ApproveCommand is what a key approver runs for a plan (default
	// "plangate approve <id>").
	ApproveCommand func(planID string) string
	// DiffPageBytes is the diff text one page carries (default DiffPageBytes).
	DiffPageBytes int
	// Register, when set, serves the passkey registration ceremony.
	Register *Register
	Logger   *slog.Logger
	Now      func() time.Time
}

// Handler serves the review page under Prefix.
type Handler struct {
	opts     Options
	host     string // the origin's host[:port]
	cookie   string // cookieName and the port: cookies ignore ports, pages must not share one
	sessions *sessions
	pages    *template.Template
	static   http.Handler
	diffs    *diffCache
}

// New returns the page's handler.
func New(opts Options) (*Handler, error) {
	u, err := url.Parse(opts.Origin)
	if err != nil || u.Host == "" || u.Path != "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("review page origin %q: want scheme://host[:port]", opts.Origin)
	}
	if len(opts.Secret) < 32 {
		return nil, errors.New("review page: the URL secret is too short (use review.NewSecret)")
	}
	if opts.Gate == nil && opts.Register == nil {
		return nil, errors.New("review page: neither plans nor a registration to serve")
	}
	if opts.RPID == "" {
		opts.RPID = u.Hostname()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DiffPageBytes <= 0 {
		opts.DiffPageBytes = DiffPageBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ApproveCommand == nil {
		opts.ApproveCommand = func(id string) string { return "plangate approve " + id }
	}
	pages, err := template.New("").Funcs(templateFuncs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	static, _ := fs.Sub(assets, "assets/static")
	return &Handler{
		opts:     opts,
		host:     u.Host,
		cookie:   cookieName + "_" + cmpPort(u),
		sessions: newSessions(opts.Now),
		pages:    pages,
		static:   http.StripPrefix(Prefix+"static/", http.FileServer(http.FS(static))),
		diffs:    newDiffCache(),
	}, nil
}

// cmpPort is u's port, its scheme's default when it names none.
func cmpPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// URL is the page's URL with its secret: what a human opens.
func (h *Handler) URL() string {
	if h.opts.Register != nil && h.opts.Gate == nil && h.opts.Register.Name != "" {
		return h.opts.Origin + Prefix + "register?" + SecretParam + "=" + h.opts.Secret
	}
	return h.opts.Origin + Prefix + "?" + SecretParam + "=" + h.opts.Secret
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The page's own host only: a page of another name that resolves to
	// this address (DNS rebinding) gets nothing.
	if !strings.EqualFold(r.Host, h.host) {
		h.opts.Logger.Warn("review page refused a request", "reason", "host", "host", r.Host)
		h.fail(w, r, http.StatusForbidden, fmt.Sprintf("Host %q is not this page's: open %s%s (DNS rebinding is refused)", r.Host, h.opts.Origin, Prefix))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	path, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusSeeOther)
			return
		}
		h.fail(w, r, http.StatusNotFound, "no such page")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if strings.HasPrefix(path, "static/") {
			h.static.ServeHTTP(w, r)
			return
		}
	case http.MethodPost:
		// A state change comes from the page itself: same origin (every
		// browser sends Origin on a POST), then the CSRF token below.
		if o := r.Header.Get("Origin"); o != h.opts.Origin {
			h.opts.Logger.Warn("review page refused a request", "reason", "origin", "origin", o)
			h.fail(w, r, http.StatusForbidden, fmt.Sprintf("Origin %q may not change anything here: only the page %s itself", o, h.opts.Origin))
			return
		}
	default:
		hd.Set("Allow", "GET, HEAD, POST")
		h.fail(w, r, http.StatusMethodNotAllowed, "use GET or POST")
		return
	}
	if r.URL.Query().Has(SecretParam) {
		h.login(w, r)
		return
	}
	var sess *session
	if c, err := r.Cookie(h.cookie); err == nil {
		sess, _ = h.sessions.get(c.Value)
	}
	if sess == nil {
		h.fail(w, r, http.StatusForbidden, "this page opens only from the link with its secret that plangate review (or plangate server) printed: open that link again")
		return
	}
	if r.Method == http.MethodPost && !equalSecret(r.Header.Get(CSRFHeader), sess.csrf) {
		h.opts.Logger.Warn("review page refused a request", "reason", "csrf")
		h.fail(w, r, http.StatusForbidden, "the request lacks this page's CSRF token: reload the page and try again")
		return
	}
	h.route(w, r, path, sess)
}

// login exchanges the URL secret for a session cookie, and sends the
// browser to the same page without the secret in its address bar (nor in
// its history).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !equalSecret(r.URL.Query().Get(SecretParam), h.opts.Secret) {
		h.opts.Logger.Warn("review page refused a request", "reason", "secret")
		h.fail(w, r, http.StatusForbidden, "the link's secret is not this page's: open the link plangate review printed this time (each run has its own)")
		return
	}
	id, _ := h.sessions.create()
	http.SetCookie(w, &http.Cookie{
		Name: h.cookie, Value: id, Path: Prefix, MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, Secure: h.opts.TLS, SameSite: http.SameSiteStrictMode,
	})
	q := r.URL.Query()
	q.Del(SecretParam)
	to := r.URL.Path
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request, path string, sess *session) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case path == "" && get && h.opts.Gate != nil:
		h.listing(w, r, sess)
	case strings.HasPrefix(path, "plans/") && get && h.opts.Gate != nil:
		h.onePlan(w, r, sess, strings.TrimPrefix(path, "plans/"))
	case strings.HasPrefix(path, "api/plans/") && h.opts.Gate != nil:
		id, action, _ := strings.Cut(strings.TrimPrefix(path, "api/plans/"), "/")
		switch {
		case action == "diff" && get:
			h.diffPage(w, r, id)
		case action == "challenge" && post:
			h.challenge(w, r, sess, id)
		case action == "approve" && post:
			h.approve(w, r, sess, id)
		default:
			h.fail(w, r, http.StatusNotFound, "no such endpoint")
		}
	case path == "register" && get && h.opts.Register != nil:
		h.registerPage(w, r, sess)
	case path == "api/register/begin" && post && h.opts.Register != nil:
		h.registerBegin(w, r, sess)
	case path == "api/register/finish" && post && h.opts.Register != nil:
		h.registerFinish(w, r, sess)
	default:
		h.fail(w, r, http.StatusNotFound, "no such page")
	}
}

// apiError is a JSON error answer.
type apiError struct {
	Error string `json:"error"`
}

// fail answers an error: JSON to the page's script, else a plain page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.Contains(r.URL.Path, Prefix+"api/") {
		writeJSON(w, status, apiError{msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = h.pages.ExecuteTemplate(w, "error.html", map[string]string{"Error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a POST's JSON body into v, strictly.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the request body is not what the page sends: %w", err)
	}
	if dec.More() {
		return errors.New("the request body holds more than one JSON value")
	}
	return nil
}

// client is who the gate is told asks, for the audit log.
var client = audit.Client{Name: "plangate-review"}
