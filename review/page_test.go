package review

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/plangate/plangate/audit"
)

// The page, with real Terraform plans: the pending plan with its deletion
// and the CLI's own diff text; the plans that cannot be approved shown as
// such, with no way to approve them; every request checked.
func TestReviewPage(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	p := servePage(t, Options{Gate: f.gate, Actor: "tester", DiffPageBytes: 256})
	b := p.browser()
	doc := b.login()
	arts := articles(doc)

	t.Run("the pending plan, its deletions and the CLI's diff", func(t *testing.T) {
		a := arts[f.pending.ID]
		require.NotNil(t, a, "the pending plan is listed")
		assert.Equal(t, "awaiting_approval", attr(a, "data-status"))
		cli, err := f.gate.ApproveView(ctx, f.pending.ID, false, audit.Client{})
		require.NoError(t, err)
		assert.Equal(t, cli.Summary.Headline(), text(one(t, a, "h2", "summary-line")))
		lis := find(one(t, a, "ul", "deletions"), func(n *html.Node) bool { return n.Data == "li" })
		require.Len(t, lis, 1)
		assert.Equal(t, "terraform_data.item[1] delete", text(lis[0]))
		assert.Equal(t, "plangate approve "+f.pending.ID, text(one(t, a, "code", "approve-command")))

		// The diff's first page is in the page; the rest loads on demand,
		// page by page, until the text is the CLI's, byte for byte.
		pre := one(t, a, "pre", "diff")
		got := text(pre)
		require.Greater(t, len(cli.Summary.Diff), 256, "the diff takes more than one page")
		require.Less(t, len(got), len(cli.Summary.Diff), "only the first page is in the page")
		btn := find(a, func(n *html.Node) bool { return n.Data == "button" && attr(n, "data-action") == "more-diff" })
		require.Len(t, btn, 1)
		next, version := attr(btn[0], "data-next"), attr(btn[0], "data-version")
		for pages := 1; next != "0"; pages++ {
			require.Less(t, pages, 100)
			res := b.do(http.MethodGet, "/review/api/plans/"+f.pending.ID+"/diff?page="+next+"&v="+version, nil, nil)
			require.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
			var ans diffAnswer
			require.NoError(t, json.NewDecoder(res.Body).Decode(&ans))
			got += PlainText(ans.Segments)
			next = jsonInt(ans.Next)
		}
		assert.Equal(t, cli.Summary.Diff, got, "the diff's text is the CLI's")
		// Coloured as Terraform colours it: the deletion's "-" red.
		reds := find(pre, func(n *html.Node) bool { return hasClass(n, "span", "ansi-red") })
		assert.NotEmpty(t, reds)
	})

	t.Run("blocked, expired and applied plans are shown as such, never approvable", func(t *testing.T) {
		for rec, status := range map[string]string{f.blocked.ID: "blocked", f.expired.ID: "expired", f.applied.ID: "applied"} {
			a := arts[rec]
			require.NotNil(t, a, status)
			assert.Equal(t, status, attr(a, "data-status"))
			assert.True(t, none(a, func(n *html.Node) bool { return hasClass(n, "code", "approve-command") }), "%s: no approve command", status)
			assert.True(t, none(a, func(n *html.Node) bool { return attr(n, "data-action") == "approve-passkey" }), "%s: no passkey button", status)
			assert.Contains(t, text(one(t, a, "p", "refusal")), "Not approvable", status)
			// And the server refuses the ceremony's challenge.
			res := b.do(http.MethodPost, "/review/api/plans/"+rec+"/challenge", map[string]string{"approver": "alice"}, nil)
			assert.Equal(t, http.StatusConflict, res.StatusCode, status)
			assert.Contains(t, errorOf(t, res), "not approvable", status)
		}
		blocked := arts[f.blocked.ID]
		assert.Len(t, find(one(t, blocked, "ul", "deletions"), func(n *html.Node) bool { return n.Data == "li" }), 2, "a blocked plan's deletions are listed too")
	})

	t.Run("a key approver gets no challenge", func(t *testing.T) {
		res := b.do(http.MethodPost, "/review/api/plans/"+f.pending.ID+"/challenge", map[string]string{"approver": "alice"}, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Contains(t, errorOf(t, res), "has no passkey")
	})

	t.Run("one plan's page", func(t *testing.T) {
		doc := b.get("/review/plans/" + f.pending.ID)
		a := articles(doc)
		require.Len(t, a, 1)
		assert.NotNil(t, a[f.pending.ID])
		res := b.do(http.MethodGet, "/review/plans/00000000-0000-4000-8000-000000000000", nil, nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})

	t.Run("headers", func(t *testing.T) {
		res := b.do(http.MethodGet, "/review/", nil, nil)
		assert.Equal(t, CSP, res.Header.Get("Content-Security-Policy"))
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
		body, _ := io.ReadAll(res.Body)
		for _, external := range []string{"http://", "https://", "//"} {
			assert.NotContains(t, strings.ReplaceAll(string(body), "Plangate", ""), `src="`+external, "no external assets")
			assert.NotContains(t, string(body), `href="`+external)
		}
		js := b.do(http.MethodGet, "/review/static/review.js", nil, nil)
		assert.Equal(t, http.StatusOK, js.StatusCode)
		assert.Contains(t, js.Header.Get("Content-Type"), "javascript")
	})
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func errorOf(t *testing.T, res *http.Response) string {
	t.Helper()
	var e apiError
	require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
	return e.Error
}

// The page's security, each check tried against a live page.
func TestReviewPageRefuses(t *testing.T) {
	f := newFixture(t, "")
	p := servePage(t, Options{Gate: f.gate, Actor: "tester"})
	challenge := "/review/api/plans/" + f.pending.ID + "/challenge"
	body := map[string]string{"approver": "alice"}

	t.Run("no secret, no page", func(t *testing.T) {
		b := p.browser()
		for _, path := range []string{"/review/", "/review/plans/" + f.pending.ID, "/review/api/plans/" + f.pending.ID + "/diff?page=1&v=x"} {
			res := b.do(http.MethodGet, path, nil, nil)
			assert.Equal(t, http.StatusForbidden, res.StatusCode, path)
		}
		res := b.do(http.MethodGet, "/review/?k="+NewSecret(), nil, nil)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "another run's secret")
		assert.Empty(t, res.Cookies())
		res = b.do(http.MethodPost, challenge, body, nil)
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
	})

	t.Run("the secret is exchanged for a strict cookie and dropped from the address", func(t *testing.T) {
		b := p.browser()
		res := b.do(http.MethodGet, strings.TrimPrefix(p.h.URL(), p.origin), nil, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		assert.Equal(t, "/review/", res.Header.Get("Location"))
		c := res.Cookies()
		require.Len(t, c, 1)
		assert.True(t, c[0].HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, c[0].SameSite)
		assert.Equal(t, "/review/", c[0].Path)
		assert.False(t, c[0].Secure, "plain http on loopback")
		assert.NotContains(t, c[0].Value, strings.TrimPrefix(p.h.URL(), p.origin+"/review/?k="), "the cookie is not the secret")

		// Over TLS (plangate server), the cookie is Secure.
		h, err := New(Options{Gate: f.gate, Origin: "https://plangate.example:8443", Secret: NewSecret(), TLS: true})
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodGet, h.URL(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusSeeOther, rec.Code)
		tc := rec.Result().Cookies()
		require.Len(t, tc, 1)
		assert.True(t, tc[0].Secure)
		assert.True(t, tc[0].HttpOnly)
	})

	b := p.browser()
	b.login()
	t.Run("CSRF token missing or wrong", func(t *testing.T) {
		for name, tok := range map[string]string{"missing": "", "wrong": NewSecret()} {
			res := b.do(http.MethodPost, challenge, body, map[string]string{CSRFHeader: tok})
			assert.Equal(t, http.StatusForbidden, res.StatusCode, name)
			assert.Contains(t, errorOf(t, res), "CSRF", name)
		}
		other := p.browser()
		other.login()
		res := b.do(http.MethodPost, challenge, body, map[string]string{CSRFHeader: other.csrf})
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "another session's token")
		// The right token passes these checks (the key approver is then refused).
		res = b.do(http.MethodPost, challenge, body, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	})

	t.Run("another Host", func(t *testing.T) {
		_, port, _ := strings.Cut(strings.TrimPrefix(p.origin, "http://"), ":")
		for _, host := range []string{"evil.example:" + port, "127.0.0.1:" + port, "localhost", "localhost:1"} {
			res := b.do(http.MethodGet, "/review/", nil, map[string]string{"Host": host})
			assert.Equal(t, http.StatusForbidden, res.StatusCode, host)
			res = b.do(http.MethodPost, challenge, body, map[string]string{"Host": host})
			assert.Equal(t, http.StatusForbidden, res.StatusCode, host)
		}
	})

	t.Run("a cross-origin POST", func(t *testing.T) {
		for _, origin := range []string{"http://evil.example", "null", "", "https" + strings.TrimPrefix(p.origin, "http"), "http://127.0.0.1" + p.origin[len("http://localhost"):]} {
			res := b.do(http.MethodPost, challenge, body, map[string]string{"Origin": origin})
			assert.Equal(t, http.StatusForbidden, res.StatusCode, "Origin %q", origin)
		}
	})

	t.Run("request bodies are bounded", func(t *testing.T) {
		huge := map[string]string{"approver": strings.Repeat("a", MaxBodyBytes)}
		res := b.do(http.MethodPost, challenge, huge, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		res = b.do(http.MethodPost, challenge, map[string]any{"approver": "alice", "extra": 1}, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "unknown fields")
	})

	t.Run("an approval without a ceremony", func(t *testing.T) {
		res := b.do(http.MethodPost, "/review/api/plans/"+f.pending.ID+"/approve", map[string]any{"approver": "alice", "response": map[string]string{}}, nil)
		assert.Equal(t, http.StatusConflict, res.StatusCode)
		assert.Contains(t, errorOf(t, res), "no approval of this plan was begun")
	})
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:0"} {
		_, err := ListenLoopback(addr)
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "loopback", addr)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := ListenLoopback(addr)
		require.NoError(t, err, addr)
		ln.Close()
	}
}
