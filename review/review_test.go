package review

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
)

const module = `
variable "n" {
  type    = number
  default = 0
}
resource "terraform_data" "item" {
  count = var.n
  input = "item-${count.index}"
}
`

// fixture is a gate with real Terraform plans of every kind the page
// tells apart: applied, pending with a deletion, blocked, expired.
type fixture struct {
	gate                               *gate.Gate
	key                                *approvals.PrivateKey
	applied, pending, blocked, expired *plan.Record
}

func newFixture(t *testing.T, extraConfig string) *fixture {
	t.Helper()
	tftest.Setup(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stack"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stack", "main.tf"), []byte(module), 0o644))
	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	hcl := fmt.Sprintf(`stack "s" {
  dir       = "stack"
  variables = ["n"]
  policy {
    max_deletions = 1
  }
}
approver "alice" {
  public_key = %q
}
%s`, config.FormatPublicKey(pub), extraConfig)
	cfgPath := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfgPath, []byte(hcl), 0o644))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g := &gate.Gate{Config: cfg, Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, nil), Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir)}
	st, _ := cfg.Stack("s")
	ctx := context.Background()
	agent := audit.Client{Name: "test-agent", Version: "1.2"}
	key := &approvals.PrivateKey{Approver: "alice", Key: priv}
	f := &fixture{gate: g, key: key}

	f.applied, err = g.Propose(ctx, st, map[string]any{"n": 2}, agent)
	require.NoError(t, err)
	a, err := g.Approve(f.applied.ID, key, "root", audit.Client{})
	require.NoError(t, err)
	_, err = g.Apply(ctx, f.applied.ID, []string{a.Token}, agent, nil)
	require.NoError(t, err)

	f.blocked, err = g.Propose(ctx, st, map[string]any{"n": 0}, agent)
	require.NoError(t, err)
	require.Equal(t, plan.StatusBlocked, f.blocked.Status)
	f.expired, err = g.Propose(ctx, st, map[string]any{"n": 3}, agent)
	require.NoError(t, err)
	f.expired, err = g.Store.Update(f.expired.ID, func(r *plan.Record) error { r.ExpiresAt = time.Now().Add(-time.Minute); return nil })
	require.NoError(t, err)
	f.pending, err = g.Propose(ctx, st, map[string]any{"n": 1}, agent)
	require.NoError(t, err)
	require.Equal(t, plan.StatusAwaitingApproval, f.pending.Status)
	require.Equal(t, []string{"terraform_data.item[1]"}, addresses(f.pending.Deleted))
	return f
}

func addresses(ds []plan.Deletion) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Address)
	}
	return out
}

// page is a review page served on loopback, as plangate review serves it.
type page struct {
	t      *testing.T
	h      *Handler
	origin string
	addr   string // where it listens
	close  func()
}

func servePage(t *testing.T, opts Options) *page {
	t.Helper()
	return servePageOn(t, opts, 0)
}

// servePageOn serves the page on a port of its own (0: any free one): a
// localhost passkey approves only on the port it was registered on.
func servePageOn(t *testing.T, opts Options, port int) *page {
	t.Helper()
	ln, err := ListenLoopback(fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	port = ln.Addr().(*net.TCPAddr).Port
	opts.Origin = fmt.Sprintf("http://localhost:%d", port)
	if opts.Secret == "" {
		opts.Secret = NewSecret()
	}
	h, err := New(opts)
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &page{t: t, h: h, origin: opts.Origin, addr: ln.Addr().String(), close: func() { _ = srv.Close() }}
}

// browser is an HTTP client that sends what a browser on the page would:
// Host localhost:PORT, cookies, no redirects followed.
type browser struct {
	p      *page
	client *http.Client
	csrf   string
}

func (p *page) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{p: p, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", p.addr)
		}},
	}}
}

func (b *browser) do(method, path string, body any, header map[string]string) *http.Response {
	b.p.t.Helper()
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		require.NoError(b.p.t, err)
		r = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, b.p.origin+path, r)
	require.NoError(b.p.t, err)
	if method == http.MethodPost {
		req.Header.Set("Origin", b.p.origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(CSRFHeader, b.csrf)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := b.client.Do(req)
	require.NoError(b.p.t, err)
	b.p.t.Cleanup(func() { res.Body.Close() })
	return res
}

// login opens the printed URL and follows its redirect: the session.
func (b *browser) login() *html.Node {
	b.p.t.Helper()
	u, err := url.Parse(b.p.h.URL())
	require.NoError(b.p.t, err)
	res := b.do(http.MethodGet, u.RequestURI(), nil, nil)
	require.Equal(b.p.t, http.StatusSeeOther, res.StatusCode)
	return b.get(res.Header.Get("Location"))
}

// get fetches a page of the session and parses it, as a browser would.
func (b *browser) get(path string) *html.Node {
	b.p.t.Helper()
	res := b.do(http.MethodGet, path, nil, nil)
	body, _ := io.ReadAll(res.Body)
	require.Equal(b.p.t, http.StatusOK, res.StatusCode, string(body))
	doc, err := html.Parse(strings.NewReader(string(body)))
	require.NoError(b.p.t, err)
	if body := find(doc, func(n *html.Node) bool { return n.Data == "body" }); len(body) == 1 {
		b.csrf = attr(body[0], "data-csrf")
	}
	return doc
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, tag, class string) bool {
	return n.Data == tag && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// articles are the page's plans by id.
func articles(doc *html.Node) map[string]*html.Node {
	out := map[string]*html.Node{}
	for _, a := range find(doc, func(n *html.Node) bool { return hasClass(n, "article", "plan") }) {
		out[attr(a, "data-plan-id")] = a
	}
	return out
}

func one(t *testing.T, n *html.Node, tag, class string) *html.Node {
	t.Helper()
	got := find(n, func(x *html.Node) bool { return hasClass(x, tag, class) })
	require.Len(t, got, 1, "%s.%s", tag, class)
	return got[0]
}

func none(n *html.Node, match func(*html.Node) bool) bool { return len(find(n, match)) == 0 }
