package review

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/plan"
)

// registerOnPage runs the registration page's ceremony with a software
// authenticator (passkeytest: a real P-256 key, as a platform
// authenticator holds one) on port (0: any) and returns the approver block
// it printed and the port, where the passkey approves; the page is closed.
func registerOnPage(t *testing.T, name string, port int) (*passkeytest.TestAuthenticator, string, int) {
	t.Helper()
	var done string
	p := servePageOn(t, Options{Register: &Register{Name: name, Done: func(b string) { done = b }}}, port)
	defer p.close()
	require.Contains(t, p.h.URL(), "/review/register?k=")
	b := p.browser()
	doc := b.login()
	require.Len(t, find(doc, func(n *html.Node) bool { return n.Data == "button" && attr(n, "data-action") == "register" }), 1)
	require.Len(t, find(doc, func(n *html.Node) bool { return hasClass(n, "pre", "approver-block") }), 1)

	res := b.do(http.MethodPost, "/review/api/register/begin", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	opts, _ := io.ReadAll(res.Body)
	auth, err := passkeytest.New()
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: p.origin})
	require.NoError(t, err)
	res = b.do(http.MethodPost, "/review/api/register/finish", map[string]json.RawMessage{"response": resp}, nil)
	body, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var reg registered
	require.NoError(t, json.Unmarshal(body, &reg))
	assert.Equal(t, reg.Block, done, "the command gets the block the page shows")
	assert.True(t, strings.HasPrefix(reg.Block, "approver \""+name+"\" {\n  passkey = \"webauthn:localhost:"), reg.Block)

	// Once: the ceremony is spent.
	res = b.do(http.MethodPost, "/review/api/register/finish", map[string]json.RawMessage{"response": resp}, nil)
	assert.Equal(t, http.StatusConflict, res.StatusCode)
	_, portText, _ := strings.Cut(strings.TrimPrefix(p.origin, "http://"), ":")
	port, _ = strconv.Atoi(portText)
	return auth, reg.Block, port
}

// A passkey registered on the registration page approves a plan on the
// review page, and the token it shows applies the plan; what is not the
// ceremony's own answer approves nothing.
func TestPasskeyApprovalOnThePage(t *testing.T) {
	auth, block, port := registerOnPage(t, "bob", 0)
	f := newFixture(t, block)
	cfg, err := f.gate.Current()
	require.NoError(t, err)
	bob, ok := cfg.Approver("bob")
	require.True(t, ok, "the printed block is a valid approver")
	require.NotNil(t, bob.Passkey)

	p := servePageOn(t, Options{Gate: f.gate, Actor: "tester"}, port)
	b := p.browser()
	a := articles(b.login())[f.pending.ID]
	require.NotNil(t, a)
	btn := find(a, func(n *html.Node) bool { return n.Data == "button" && attr(n, "data-action") == "approve-passkey" })
	require.Len(t, btn, 1)
	assert.Equal(t, "bob", attr(btn[0], "data-approver"))
	assert.True(t, none(a, func(n *html.Node) bool { return n.Data == "select" }), "one passkey approver: no choice to make")
	assert.Equal(t, "plangate approve "+f.pending.ID, text(one(t, a, "code", "approve-command")), "alice has a key")
	one(t, a, "output", "token")

	base := "/review/api/plans/" + f.pending.ID
	challenge := func() []byte {
		res := b.do(http.MethodPost, base+"/challenge", map[string]string{"approver": "bob"}, nil)
		body, _ := io.ReadAll(res.Body)
		require.Equal(t, http.StatusOK, res.StatusCode, string(body))
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		return body
	}
	approve := func(resp []byte) (int, string, approved) {
		res := b.do(http.MethodPost, base+"/approve", map[string]any{"approver": "bob", "response": json.RawMessage(resp)}, nil)
		body, _ := io.ReadAll(res.Body)
		var ok approved
		var e apiError
		_ = json.Unmarshal(body, &ok)
		_ = json.Unmarshal(body, &e)
		return res.StatusCode, e.Error, ok
	}

	t.Run("a tampered challenge", func(t *testing.T) {
		opts := challenge()
		resp, err := auth.Assert(opts, passkeytest.Ceremony{Origin: p.origin, Challenge: []byte("another challenge of 32 bytes!!!")})
		require.NoError(t, err)
		code, msg, _ := approve(resp)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, msg, "different challenge")
	})
	t.Run("without user verification", func(t *testing.T) {
		resp, err := auth.Assert(challenge(), passkeytest.Ceremony{Origin: p.origin, Flags: passkeytest.FlagUP})
		require.NoError(t, err)
		code, msg, _ := approve(resp)
		assert.Equal(t, http.StatusUnprocessableEntity, code, msg)
		assert.Contains(t, msg, "not approved")
		assert.Contains(t, msg, "user verification")
	})
	t.Run("another page's origin", func(t *testing.T) {
		resp, err := auth.Assert(challenge(), passkeytest.Ceremony{Origin: "https://evil.example"})
		require.NoError(t, err)
		code, msg, _ := approve(resp)
		assert.Equal(t, http.StatusUnprocessableEntity, code, msg)
		assert.Contains(t, msg, "evil.example")
	})
	t.Run("an unregistered passkey", func(t *testing.T) {
		stranger, err := passkeytest.New()
		require.NoError(t, err)
		// Its answer, posted as if from bob's credential (a browser
		// would not even let it answer).
		var o struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
			} `json:"publicKey"`
		}
		require.NoError(t, json.Unmarshal(challenge(), &o))
		ch, err := base64.RawURLEncoding.DecodeString(o.PublicKey.Challenge)
		require.NoError(t, err)
		authData, clientData, sig, err := stranger.Sign("localhost", ch, passkeytest.Ceremony{Origin: p.origin})
		require.NoError(t, err)
		id := base64.RawURLEncoding.EncodeToString(auth.CredentialID)
		resp, err := json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key", "response": map[string]string{
			"authenticatorData": base64.RawURLEncoding.EncodeToString(authData),
			"clientDataJSON":    base64.RawURLEncoding.EncodeToString(clientData),
			"signature":         base64.RawURLEncoding.EncodeToString(sig),
		}})
		require.NoError(t, err)
		code, msg, _ := approve(resp)
		assert.Equal(t, http.StatusUnprocessableEntity, code, msg)
		assert.Contains(t, msg, "not approved")
	})

	var token string
	t.Run("the ceremony approves, once", func(t *testing.T) {
		resp, err := auth.Assert(challenge(), passkeytest.Ceremony{Origin: p.origin})
		require.NoError(t, err)
		code, msg, ok := approve(resp)
		require.Equal(t, http.StatusOK, code, msg)
		assert.True(t, strings.HasPrefix(ok.Token, "pgt2."), ok.Token)
		assert.Equal(t, "bob", ok.Approver)
		token = ok.Token
		// Replayed: the ceremony is spent.
		code, msg, _ = approve(resp)
		assert.Equal(t, http.StatusConflict, code)
		assert.Contains(t, msg, "no approval of this plan was begun")
	})
	t.Run("a challenge for another plan", func(t *testing.T) {
		other, err := f.gate.Propose(context.Background(), mustStack(t, f), map[string]any{"n": 2}, audit.Client{})
		require.NoError(t, err)
		resp, err := auth.Assert(challenge(), passkeytest.Ceremony{Origin: p.origin})
		require.NoError(t, err)
		res := b.do(http.MethodPost, "/review/api/plans/"+other.ID+"/approve", map[string]any{"approver": "bob", "response": json.RawMessage(resp)}, nil)
		assert.Equal(t, http.StatusConflict, res.StatusCode)
	})

	require.NotEmpty(t, token)
	var approvedBy []string
	require.NoError(t, f.gate.Audit.Read(func(_ int, e audit.Event, line []byte) error {
		assert.NotContains(t, string(line), token, "the token never reaches the audit log")
		if e.Event == audit.EventPlanApproved && e.PlanID == f.pending.ID {
			approvedBy = append(approvedBy, e.Approvers...)
		}
		return nil
	}))
	assert.Equal(t, []string{"bob"}, approvedBy)
	out, err := f.gate.Apply(context.Background(), f.pending.ID, []string{token}, audit.Client{Name: "agent"}, nil)
	require.NoError(t, err, "the page's token applies the plan")
	assert.Equal(t, plan.StatusApplied, out.Status)
}

func mustStack(t *testing.T, f *fixture) *config.Stack {
	cfg, err := f.gate.Current()
	require.NoError(t, err)
	st, ok := cfg.Stack("s")
	require.True(t, ok)
	return st
}

// The printed block is accepted by plangate's config reader as written.
func TestApproverBlockParses(t *testing.T) {
	_, block, _ := registerOnPage(t, "carol", 0)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "st"), 0o755))
	path := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(path, []byte("stack \"s\" {\n  dir = \"st\"\n}\n"+block), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	a, ok := cfg.Approver("carol")
	require.True(t, ok)
	assert.Equal(t, "localhost", a.Passkey.RPID)
}

// plangate server's page registers passkeys for its own host, the name
// asked on the page.
func TestRegistrationOnTheReviewPage(t *testing.T) {
	f := newFixture(t, "")
	p := servePage(t, Options{Gate: f.gate, Register: &Register{}})
	b := p.browser()
	doc := b.login()
	assert.NotEmpty(t, find(doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "/review/register" }))
	doc = b.get("/review/register")
	require.Len(t, find(doc, func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "name" }), 1)

	for _, bad := range []string{"", "a b", strings.Repeat("x", 65), "\"quote"} {
		res := b.do(http.MethodPost, "/review/api/register/begin", map[string]string{"name": bad}, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "%q", bad)
	}
	res := b.do(http.MethodPost, "/review/api/register/begin", map[string]string{"name": "dave"}, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	opts, _ := io.ReadAll(res.Body)
	auth, err := passkeytest.New()
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: p.origin})
	require.NoError(t, err)
	res = b.do(http.MethodPost, "/review/api/register/finish", map[string]json.RawMessage{"response": resp}, nil)
	body, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var reg registered
	require.NoError(t, json.Unmarshal(body, &reg))
	assert.True(t, strings.HasPrefix(reg.Block, "approver \"dave\" {\n  passkey = \"webauthn:localhost:"), reg.Block)
}

// With several passkey approvers, the page asks which one approves.
func TestSeveralPasskeyApprovers(t *testing.T) {
	_, bob, port := registerOnPage(t, "bob", 0)
	_, dave, _ := registerOnPage(t, "dave", port)
	f := newFixture(t, bob+dave)
	p := servePageOn(t, Options{Gate: f.gate}, port)
	b := p.browser()
	a := articles(b.login())[f.pending.ID]
	require.NotNil(t, a)
	sel := find(a, func(n *html.Node) bool { return n.Data == "select" && attr(n, "name") == "approver" })
	require.Len(t, sel, 1)
	var names []string
	for _, o := range find(sel[0], func(n *html.Node) bool { return n.Data == "option" }) {
		names = append(names, attr(o, "value"))
	}
	assert.Equal(t, []string{"bob", "dave"}, names)
	assert.Len(t, find(a, func(n *html.Node) bool { return attr(n, "data-action") == "approve-passkey" }), 1)
	res := b.do(http.MethodPost, "/review/api/plans/"+f.pending.ID+"/challenge", map[string]string{"approver": "dave"}, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
}
