package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The review page in a real Chromium, as an approver uses it: a pending
// plan with its deletions above the fold and the CLI's diff; a passkey
// registered with `plangate passkey register` on a virtual authenticator
// (CTAP2, user verification), accepted by the key approver, approving on
// the page; the token it shows applying through the TypeScript SDK. Then
// what must be refused: a tampered challenge, a token for another plan, a
// replay, credentials never accepted, and another origin — a page on
// another localhost port, as an agent's dev server would be.
//
// Screenshots go to $PLANGATE_SCREENSHOTS when set (make
// review-screenshots writes the README's, docs/review-*.png), else to a
// temporary directory.
func TestReviewPageInChromium(t *testing.T) {
	requireClients(t)
	requireChromium(t)
	b := startBrowser(t)
	// Two stacks: the demo's web tier, and slow (200 instances: a diff
	// longer than one page of the review page's).
	p := newProject(t, "slow")
	shots := os.Getenv("PLANGATE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if !filepath.IsAbs(shots) {
		shots = filepath.Join(repoRoot, shots)
	}
	stackDir := filepath.Join(p.dir, "stacks", "web")
	dataDir := filepath.Join(p.state, "terraform", "web")

	// History: six web servers, applied with the key approver's token.
	r := sdkCalls(t, p.cfg, tool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 6}}))
	require.False(t, r[0].IsError, r[0].Text)
	first := r[0].Structured["plan_id"].(string)
	// Then a long plan on slow, and P1, the plan the approver reviews:
	// down to two web servers, four deleted (the newest, so first on the
	// page); and the first page of each diff as an agent reads it.
	r = sdkCalls(t, p.cfg,
		tool("apply_plan", map[string]any{"plan_id": first, "approval_tokens": []string{keyApprove(t, p, first)}}),
		tool("plan_change", map[string]any{"stack": "slow"}),
		tool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 2}}),
		tool("get_plan", map[string]any{"plan_id": map[string]any{"$planId": 2}, "structured_diff": true}),
		tool("get_plan", map[string]any{"plan_id": map[string]any{"$planId": 1}, "structured_diff": true}),
	)
	for _, c := range r {
		require.False(t, c.IsError, c.Text)
	}
	require.Len(t, webServers(stateList(t, stackDir, dataDir)), 6)
	longID := r[1].Structured["plan_id"].(string)
	p1 := r[2].Structured
	p1ID := p1["plan_id"].(string)
	p1Headline, _, _ := strings.Cut(r[2].Text, "\n")
	p1Diff, longDiff := r[3], r[4]
	require.Equal(t, "awaiting_approval", p1["status"])
	wantDeleted := []string{"terraform_data.web[2]", "terraform_data.web[3]", "terraform_data.web[4]", "terraform_data.web[5]"}

	review := startLong(t, "review", "--config", p.cfg, "--no-browser", "--listen", "127.0.0.1:0")
	reviewURL := review.firstLine(t)
	u, err := url.Parse(reviewURL)
	require.NoError(t, err, "plangate review's first line is the page's URL: %q", reviewURL)
	require.Equal(t, "localhost", u.Hostname(), "the URL is on localhost (the passkeys' RP ID): %s", reviewURL)
	require.Equal(t, "/review/", u.Path)
	require.NotEmpty(t, u.Query().Get("k"), "the URL carries the run's secret")
	reviewOrigin := u.Scheme + "://" + u.Host

	t.Run("lists the pending plan: deletions above the fold, the CLI's diff", func(t *testing.T) {
		var opened struct {
			Status int    `json:"status"`
			URL    string `json:"url"`
		}
		b.do(t, &opened, "open", map[string]any{"page": "alice", "url": reviewURL, "authenticator": true})
		require.Equal(t, 200, opened.Status)
		assert.NotContains(t, opened.URL, "k=", "the secret leaves the address bar once exchanged for a session")
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		pl := v.plan(p1ID)
		require.NotNil(t, pl, "the page lists plan %s; it shows %v", p1ID, v.ids())
		assert.Equal(t, "awaiting_approval", pl.Status)
		require.NotNil(t, pl.Summary)
		assert.Equal(t, p1Headline, strings.TrimSpace(*pl.Summary), "the first line is the one the agent got")

		var shown []string
		for _, d := range pl.Deletions {
			shown = append(shown, strings.Fields(d.Text)[0])
			assert.True(t, d.Box.Visible, "deletion %q is visible", d.Text)
			assert.True(t, d.Box.Top >= 0 && d.Box.Bottom <= v.Viewport.Height && d.Box.Left >= 0 && d.Box.Right <= v.Viewport.Width,
				"deletion %q is inside the first %gx%g of the page without scrolling: %+v", d.Text, v.Viewport.Width, v.Viewport.Height, d.Box)
		}
		assert.Equal(t, wantDeleted, shown, "every deletion, one item each")
		assert.Equal(t, 1280.0, v.Viewport.Width)
		assert.Equal(t, 800.0, v.Viewport.Height)
		require.NotNil(t, pl.ApproveCommand, "a key approver sees the command to run")
		assert.Equal(t, "plangate approve "+p1ID, strings.TrimSpace(*pl.ApproveCommand))
		assert.Nil(t, pl.PasskeyButton, "no passkey approver yet: no passkey button")
		assert.Empty(t, v.ExternalResources, "no external assets")
		assert.Empty(t, pageProblems(v.Console), "no script error, no CSP violation")
		b.do(t, nil, "screenshot", map[string]any{"page": "alice", "path": filepath.Join(shots, "review-page.png")})
		checkPNG(t, filepath.Join(shots, "review-page.png"), 1280, 800)

		// The diff: the page's, once every page of it is loaded, is the
		// text get_plan gives an agent and plangate show prints.
		var full struct {
			Presses int    `json:"presses"`
			Diff    string `json:"diff"`
		}
		b.do(t, &full, "expandDiff", map[string]any{"page": "alice", "planId": p1ID})
		cli := fullDiff(t, p.cfg, p1ID, p1Diff)
		require.Contains(t, cli, "# terraform_data.web[5] will be destroyed")
		assert.Equal(t, cli, full.Diff, "the page's diff is the CLI's, character for character")
		show := mustRun(t, "show", "--config", p.cfg, p1ID)
		assert.Contains(t, show, "\n"+cli+"\nNext:", "plangate show prints the same diff")
	})

	t.Run("a long diff loads on demand, to the CLI's last character", func(t *testing.T) {
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		require.Equal(t, []string{p1ID, longID}, planIDs(v.Plans[:min(2, len(v.Plans))]), "pending plans, newest first")
		pl := v.plan(longID)
		require.NotNil(t, pl.Diff)
		cli := fullDiff(t, p.cfg, longID, longDiff)
		require.True(t, pl.MoreDiff, "a %d-byte diff has a button for the rest", len(cli))
		assert.Less(t, len(*pl.Diff), len(cli), "the page first shows part of it")
		assert.True(t, strings.HasPrefix(cli, *pl.Diff), "that part is the diff's beginning")
		var full struct {
			Presses int    `json:"presses"`
			Diff    string `json:"diff"`
		}
		b.do(t, &full, "expandDiff", map[string]any{"page": "alice", "planId": longID})
		assert.GreaterOrEqual(t, full.Presses, 1)
		assert.Equal(t, cli, full.Diff, "every page loaded: the CLI's diff, character for character")
		assert.Contains(t, full.Diff, "# terraform_data.item[199] will be created")
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		assert.False(t, v.plan(longID).MoreDiff, "no button once it is all there")
		t.Logf("%d bytes of diff in %d presses", len(cli), full.Presses)
	})

	// Alice registers a passkey; the key approver accepts her.
	var aliceCred credential
	t.Run("the review page registers a passkey; config accept takes it", func(t *testing.T) {
		block := registerPasskey(t, b, reviewURL, "alice")
		appendConfig(t, p, block)
		out := mustRun(t, "config", "accept", "--config", p.cfg, "--key", p.key, "--yes")
		assert.Contains(t, out, "alice")
		var creds []credential
		b.do(t, &creds, "credentials", map[string]any{"page": "alice"})
		require.Len(t, creds, 1, "the virtual authenticator holds alice's passkey")
		aliceCred = creds[0]
		assert.Equal(t, "localhost", aliceCred.RPID)
	})

	t.Run("the review tab still works after a passkey registration in the same browser", func(t *testing.T) {
		// Back to the review tab, as the human would: the registration
		// page (another port of localhost, so the same cookie jar) must
		// not have logged it out.
		b.do(t, nil, "open", map[string]any{"page": "alice", "url": reviewOrigin + "/review/"})
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		assert.NotNil(t, v.plan(p1ID), "the review page lists its plans without its secret link again; it shows: %v %v", v.ids(), v.Errors)
	})

	var token string
	t.Run("the page approves with the passkey", func(t *testing.T) {
		b.do(t, nil, "open", map[string]any{"page": "alice", "url": reviewURL})
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		pl := v.plan(p1ID)
		require.NotNil(t, pl, v.ids())
		require.NotNil(t, pl.PasskeyButton, "alice, accepted, gets the passkey button:\n%s", pl.Text)
		assert.False(t, pl.PasskeyButton.Disabled)
		assert.NotNil(t, pl.ApproveCommand, "the key approver still sees the command")
		// With the keyboard alone: Tab to the button, Enter.
		var a approveResult
		b.do(t, &a, "approveByKeyboard", map[string]any{"page": "alice", "planId": p1ID, "approver": "alice"})
		require.Equal(t, "output.token", a.Shown, "the page shows a token, not an error: %v", a.Errors)
		t.Logf("the approve button took focus after %d Tab presses", a.Tabs)
		// The Approvals line counts the approval at once, without a reload.
		assert.Contains(t, a.Approvals, "0 still needed; approved so far by alice at ", "the page's Approvals line after approving")
		token = a.Token
		require.True(t, strings.HasPrefix(token, "pgt2."), token)
		require.Len(t, strings.Split(token, "."), 5, "pgt2.<payload>.<authenticatorData>.<clientDataJSON>.<signature>")
		claims := tokenClaims(t, token)
		assert.Equal(t, "alice", claims["approver"])
		assert.Equal(t, p1ID, claims["plan_id"])
		assert.Equal(t, p1["plan_sha256"], claims["plan_sha256"])
		assert.Equal(t, "web", claims["stack"])
		cd := clientData(t, token)
		assert.Equal(t, "webauthn.get", cd["type"])
		assert.Equal(t, reviewOrigin, cd["origin"])
		require.Len(t, a.Credentials, 1)
		assert.Greater(t, a.Credentials[0].SignCount, aliceCred.SignCount, "the authenticator signed (its counter moved)")
		b.do(t, nil, "screenshot", map[string]any{"page": "alice", "path": filepath.Join(shots, "review-approved.png")})
		checkPNG(t, filepath.Join(shots, "review-approved.png"), 1280, 800)
	})
	require.NotEmpty(t, token, "no passkey token: the rest has nothing to try")

	t.Run("refused: the page's assertion sent to the server again", func(t *testing.T) {
		type replay struct {
			ChallengeStatus int    `json:"challengeStatus"`
			Status          int    `json:"status"`
			Body            string `json:"body"`
		}
		// As it was: the ceremony it answered is finished.
		var again replay
		b.do(t, &again, "replayApprove", map[string]any{"page": "alice"})
		assert.Equal(t, http.StatusConflict, again.Status, "the same assertion twice approves once: %s", again.Body)
		// After a new challenge: the old assertion signed the old one.
		var fresh replay
		b.do(t, &fresh, "replayApprove", map[string]any{"page": "alice", "challengeFirst": true, "approver": "alice"})
		assert.Equal(t, http.StatusOK, fresh.ChallengeStatus, "the page may ask for a new challenge")
		assert.Equal(t, http.StatusBadRequest, fresh.Status, "an old assertion does not answer a new challenge: %s", fresh.Body)
		assert.Contains(t, fresh.Body, "challenge")
		assert.NotContains(t, again.Body+fresh.Body, "pgt2.", "no token comes back")
		assert.Len(t, review.stderr.lines("passkey approval recorded"), 1, "one approval recorded, not three")
	})

	// P2, another pending plan on the same stack.
	r = sdkCalls(t, p.cfg, tool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 3}}))
	require.False(t, r[0].IsError, r[0].Text)
	p2 := r[0].Structured
	p2ID := p2["plan_id"].(string)

	t.Run("refused: a second authenticator whose passkey was never accepted", func(t *testing.T) {
		// Mallory registers, and her block reaches plangate.hcl (an agent
		// can edit the file) but no approver accepts it.
		block := registerPasskey(t, b, reviewURL, "mallory")
		appendConfig(t, p, block)
		b.do(t, nil, "open", map[string]any{"page": "mallory", "url": reviewURL})
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "mallory"})
		pl := v.plan(p2ID)
		require.NotNil(t, pl, v.ids())
		require.NotNil(t, pl.PasskeyButton, "alice's button is there")
		assert.NotContains(t, pl.Approvers, "mallory", "the page offers no approver that is not accepted")
		assert.NotContains(t, pl.PasskeyButton.Text, "mallory")
		// Mallory makes the page ask for her anyway (the button says whom
		// it approves as): the server refuses to begin.
		var before []credential
		b.do(t, &before, "credentials", map[string]any{"page": "mallory"})
		require.Len(t, before, 1)
		var a approveResult
		b.do(t, &a, "approve", map[string]any{"page": "mallory", "planId": p2ID, "forceApprover": "mallory"})
		assert.Empty(t, a.Token, "no token for an approver nobody accepted")
		require.NotEmpty(t, a.Errors, "the page says why")
		assert.Contains(t, a.Errors[0], "mallory")
		t.Logf("the page says: %s", a.Errors[0])
		require.Len(t, a.Credentials, 1)
		assert.Equal(t, before[0].SignCount, a.Credentials[0].SignCount, "mallory's passkey was never asked to sign")
	})

	t.Run("refused: a credential with alice's id and another key", func(t *testing.T) {
		// What someone who read alice's (public) credential id could
		// hold: the same id, a key pair of their own.
		b.do(t, nil, "forgeCredential", map[string]any{"page": "forger", "credentialId": aliceCred.CredentialID, "rpId": "localhost", "userHandle": aliceCred.UserHandle})
		b.do(t, nil, "open", map[string]any{"page": "forger", "url": reviewURL})
		var a approveResult
		b.do(t, &a, "approve", map[string]any{"page": "forger", "planId": p2ID, "approver": "alice"})
		assert.Empty(t, a.Token, "no token from a key that is not alice's")
		assert.Equal(t, "p.error[role=\"alert\"]", a.Shown)
		require.NotEmpty(t, a.Errors)
		assert.Contains(t, strings.Join(a.Errors, " "), "signature", "the page says the signature does not verify")
	})

	attacker := newAttackerSite(t)
	t.Run("refused: a POST from another origin with the session's cookie", func(t *testing.T) {
		// The browser holds the review page's session cookie (SameSite
		// does not help: another port of localhost is the same site).
		begun := len(review.stderr.lines("passkey approval begun"))
		var got scriptResult
		b.do(t, &got, "script", map[string]any{"page": "alice", "url": attacker.page("csrf", map[string]any{
			"challenge": reviewOrigin + "/review/api/plans/" + p2ID + "/challenge",
			"approve":   reviewOrigin + "/review/api/plans/" + p2ID + "/approve",
		})})
		t.Logf("attacker page saw: %v; network: %v", got.Result, got.Responses)
		// The browser sent the simple POSTs with the cookie (and hides the
		// answer from the attacker: CORP same-origin); the server refused
		// each on its Origin, and logged it.
		sent := 0
		for _, e := range got.Responses {
			if e.Method == "POST" && strings.HasPrefix(e.URL, reviewOrigin) {
				sent++
				assert.NotEqual(t, http.StatusOK, e.Status, "the attacker reads no answer from %s", e.URL)
			}
		}
		assert.GreaterOrEqual(t, sent, 3, "the attacker's POSTs went out")
		refused := review.stderr.lines("review page refused a request", "reason=origin", attacker.origin)
		assert.Len(t, refused, 2, "plangate review refused both simple POSTs on their Origin (the CORS one never left the browser):\n%s", review.stderr)
		assert.Equal(t, "TypeError", got.Result["corsFetch"], "a CORS request with the CSRF header is blocked by the browser")
		assert.Len(t, review.stderr.lines("passkey approval begun"), begun, "no approval was begun")
	})

	otherSHA := p2["plan_sha256"].(string)
	refusals := []struct {
		name, plan, token, why string
	}{
		{"a token for another plan", p2ID, token, ""},
		{"a tampered challenge: the payload names another plan file", p1ID, editClaims(t, token, map[string]string{"plan_sha256": otherSHA}), "challenge"},
		{"a tampered challenge: the payload names another plan", p2ID, editClaims(t, token, map[string]string{"plan_id": p2ID, "plan_sha256": otherSHA}), "challenge"},
	}
	// One SDK session: the refusals, then the real token twice, then P3
	// (one server fewer) for the last test.
	calls := []map[string]any{}
	for _, c := range refusals {
		calls = append(calls, tool("apply_plan", map[string]any{"plan_id": c.plan, "approval_tokens": []string{c.token}}))
	}
	calls = append(calls,
		tool("apply_plan", map[string]any{"plan_id": p1ID, "approval_tokens": []string{token}}),
		tool("apply_plan", map[string]any{"plan_id": p1ID, "approval_tokens": []string{token}}),
		tool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 1}}),
	)
	res := sdkCalls(t, p.cfg, calls...)
	applied, replayed, planned := res[len(refusals)], res[len(refusals)+1], res[len(refusals)+2]

	t.Run("refused: tampered tokens, a token for another plan", func(t *testing.T) {
		for i, c := range refusals {
			assert.True(t, res[i].IsError, "%s: apply_plan refuses it; it answered: %s", c.name, res[i].Text)
			assert.Contains(t, res[i].Text, c.why, c.name)
			assert.NotContains(t, res[i].Text, c.token, "%s: the refusal does not quote the token", c.name)
			t.Logf("%s: %s", c.name, firstLine(res[i].Text))
		}
	})

	t.Run("the shown token applies through the TypeScript SDK; a replay is refused", func(t *testing.T) {
		res := []sdkCall{applied, replayed}
		require.False(t, res[0].IsError, "the passkey token applies: %s", res[0].Text)
		assert.Equal(t, "applied", res[0].Structured["status"])
		assert.Contains(t, res[0].Text, "approved by alice")
		assert.Equal(t, []string{"terraform_data.web[0]", "terraform_data.web[1]"}, webServers(stateList(t, stackDir, dataDir)), "Terraform's state: two web servers left")
		assert.True(t, res[1].IsError, "the same token again is refused: %s", res[1].Text)
		t.Logf("replayed: %s", firstLine(res[1].Text))
		assert.Len(t, webServers(stateList(t, stackDir, dataDir)), 2)

		// The page shows P1 applied and P2 superseded, neither approvable.
		b.do(t, nil, "open", map[string]any{"page": "alice", "url": reviewOrigin + "/review/"})
		var v pageView
		b.do(t, &v, "inspect", map[string]any{"page": "alice"})
		for id, status := range map[string]string{p1ID: "applied", p2ID: "superseded"} {
			pl := v.plan(id)
			if !assert.NotNil(t, pl, "the page still shows %s (%s): %v", id, status, v.ids()) {
				continue
			}
			assert.Equal(t, status, pl.Status)
			assert.Nil(t, pl.PasskeyButton, "%s plan: no approve button", status)
			assert.Nil(t, pl.ApproveCommand, "%s plan: no approve command", status)
		}
		out := mustRun(t, "audit", "--config", p.cfg)
		assert.NotContains(t, out, "pgt2.", "no token in the audit log")
	})

	t.Run("refused: an assertion made on another origin", func(t *testing.T) {
		// An agent serves a page on another localhost port and asks the
		// human to approve there: the browser lets a page on any port of
		// localhost use a passkey of RP ID localhost, and the human sees
		// the same "localhost" in the passkey prompt. The page builds the
		// payload for a plan of its choosing; its assertion must not
		// approve anything.
		require.False(t, planned.IsError, planned.Text)
		p3 := planned.Structured
		payload := rawPayload(t, token)
		payload = strings.Replace(payload, p1ID, p3["plan_id"].(string), 1)
		payload = strings.Replace(payload, p1["plan_sha256"].(string), p3["plan_sha256"].(string), 1)
		payload = strings.Replace(payload, tokenClaims(t, token)["nonce"].(string), randomNonce(), 1)
		var got scriptResult
		b.do(t, &got, "script", map[string]any{"page": "alice", "url": attacker.page("mint", map[string]any{
			"payload": payload, "credentialId": aliceCred.CredentialID,
		})})
		require.Empty(t, got.Result["error"], "the attacker page got an assertion: %v", got.Result)
		forged, _ := got.Result["token"].(string)
		require.True(t, strings.HasPrefix(forged, "pgt2."), "%v", got.Result)
		assert.Equal(t, attacker.origin, clientData(t, forged)["origin"])
		res := sdkCalls(t, p.cfg, tool("apply_plan", map[string]any{"plan_id": p3["plan_id"], "approval_tokens": []string{forged}}))
		assert.True(t, res[0].IsError, "a passkey assertion made on %s (not the review page %s) must not apply a plan: %s", attacker.origin, reviewOrigin, res[0].Text)
		assert.Contains(t, res[0].Text, "origin")
		assert.Len(t, webServers(stateList(t, stackDir, dataDir)), 2, "Terraform's state is unchanged")
	})
}

// keyApprove signs a plan with the project's key approver, as a human
// does in a terminal, and returns the token (the last line).
func keyApprove(t *testing.T, p *proj, id string) string {
	t.Helper()
	out := mustRun(t, "approve", "--config", p.cfg, "--key", p.key, "--yes", id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// registerPasskey registers a passkey for name on the review page itself
// (its Register a passkey page, the name typed), with the page's own
// virtual authenticator, and returns the approver block the page shows.
// A localhost passkey approves only on the origin it was registered on,
// so it is made where it will be used.
func registerPasskey(t *testing.T, b *browser, reviewURL, name string) string {
	t.Helper()
	u, err := url.Parse(reviewURL)
	require.NoError(t, err)
	regURL := u.Scheme + "://" + u.Host + "/review/register?k=" + u.Query().Get("k")
	b.do(t, nil, "open", map[string]any{"page": name, "url": regURL, "authenticator": true})
	var res struct {
		Shown       string       `json:"shown"`
		Block       *string      `json:"block"`
		Errors      []string     `json:"errors"`
		Credentials []credential `json:"credentials"`
	}
	b.do(t, &res, "register", map[string]any{"page": name, "approver": name})
	require.Equal(t, "pre.approver-block", res.Shown, "the page shows the approver block: %v", res.Errors)
	require.Len(t, res.Credentials, 1, "the authenticator made one passkey")
	block := strings.TrimSpace(*res.Block)
	require.True(t, strings.HasPrefix(block, fmt.Sprintf("approver %q {", name)), block)
	require.Contains(t, block, `passkey = "webauthn:localhost:`+u.Port()+`:`, "pinned to the review page's port")
	return block
}

func appendConfig(t *testing.T, p *proj, text string) {
	t.Helper()
	f, err := os.OpenFile(p.cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + text + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// fullDiff is a plan's whole diff as get_plan pages it to an agent,
// from its first page on.
func fullDiff(t *testing.T, cfg, id string, page sdkCall) string {
	t.Helper()
	var diff strings.Builder
	for range 100 {
		require.False(t, page.IsError, page.Text)
		s, _ := page.Structured["diff"].(string)
		diff.WriteString(s)
		next, _ := page.Structured["next_offset"].(float64)
		if next == 0 {
			return diff.String()
		}
		page = sdkCalls(t, cfg, tool("get_plan", map[string]any{"plan_id": id, "offset": next, "structured_diff": true}))[0]
	}
	t.Fatal("get_plan paged more than 100 times")
	return ""
}

func webServers(state []string) []string {
	var out []string
	for _, a := range state {
		if strings.HasPrefix(a, "terraform_data.web[") {
			out = append(out, a)
		}
	}
	return out
}

// pageProblems are the console's errors and warnings but the browser's
// own request for /favicon.ico, which the page does not serve.
func pageProblems(console []string) []string {
	var out []string
	for _, c := range console {
		if !strings.Contains(c, "/favicon.ico)") {
			out = append(out, c)
		}
	}
	return out
}

func planIDs(plans []planView) []string {
	var ids []string
	for _, p := range plans {
		ids = append(ids, p.ID)
	}
	return ids
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// credential is one passkey a virtual authenticator holds.
type credential struct {
	CredentialID string `json:"credentialId"` // base64
	RPID         string `json:"rpId"`
	SignCount    int    `json:"signCount"`
	UserHandle   string `json:"userHandle"`
}

type approveResult struct {
	Tabs        int          `json:"tabs"`
	Shown       string       `json:"shown"`
	Token       string       `json:"token"`
	Errors      []string     `json:"errors"`
	Approvals   string       `json:"approvals"`
	Credentials []credential `json:"credentials"`
}

type scriptResult struct {
	Result    map[string]any `json:"result"`
	Responses []netEvent     `json:"responses"`
	Console   []string       `json:"console"`
}

var b64u = base64.RawURLEncoding

func tokenPart(t *testing.T, token string, i int) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 5, "a pgt2 token has five parts")
	b, err := b64u.DecodeString(parts[i])
	require.NoError(t, err, "part %d is base64url", i)
	return b
}

func rawPayload(t *testing.T, token string) string { return string(tokenPart(t, token, 1)) }

func tokenClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(tokenPart(t, token, 1), &m))
	return m
}

func clientData(t *testing.T, token string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(tokenPart(t, token, 3), &m))
	return m
}

// editClaims changes claims of a real token's payload in place (the
// payload's other bytes unchanged), keeping its assertion.
func editClaims(t *testing.T, token string, set map[string]string) string {
	t.Helper()
	payload := rawPayload(t, token)
	claims := tokenClaims(t, token)
	for k, v := range set {
		old, _ := claims[k].(string)
		require.NotEmpty(t, old, "claim %s", k)
		require.Contains(t, payload, `"`+old+`"`)
		payload = strings.Replace(payload, `"`+old+`"`, `"`+v+`"`, 1)
	}
	parts := strings.Split(token, ".")
	parts[1] = b64u.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64u.EncodeToString(b)
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err, "%s is a PNG", path)
	assert.Equal(t, w, cfg.Width, path)
	assert.Equal(t, h, cfg.Height, path)
}

// attackerSite is a web site of the test's own on another localhost
// port: what an agent's dev server could serve.
type attackerSite struct {
	origin string
}

func newAttackerSite(t *testing.T) *attackerSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script, ok := attackerScripts[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>definitely not plangate</title><body data-args=\"%s\"><script>%s</script>",
			html.EscapeString(r.URL.Query().Get("args")), script)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &attackerSite{origin: "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)}
}

func (a *attackerSite) page(name string, args map[string]any) string {
	b, _ := json.Marshal(args)
	return a.origin + "/" + name + "?" + url.Values{"args": {string(b)}}.Encode()
}

// attackerScripts run on the attacker's page; each leaves its findings in
// window.__result.
var attackerScripts = map[string]string{
	// csrf: POSTs to the review page's API with the browser's cookies.
	"csrf": `(async () => {
  const a = JSON.parse(document.body.dataset.args);
  const out = {};
  const body = JSON.stringify({ approver: "alice" });
  for (const [k, u] of [["challenge", a.challenge], ["approve", a.approve]]) {
    try {
      await fetch(u, { method: "POST", mode: "no-cors", credentials: "include", headers: { "Content-Type": "text/plain" }, body });
      out[k] = "sent";
    } catch (e) { out[k] = e.name; }
  }
  try {
    const r = await fetch(a.challenge, { method: "POST", credentials: "include", headers: { "Content-Type": "application/json", "X-Plangate-CSRF": "guess" }, body });
    out.corsFetch = "status " + r.status;
  } catch (e) { out.corsFetch = e.name; }
  window.__result = out;
})();`,
	// mint: asks the passkey for an assertion over a payload of the
	// attacker's choosing and assembles a pgt2 token from it.
	"mint": `(async () => {
  const a = JSON.parse(document.body.dataset.args);
  const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  try {
    const payload = new TextEncoder().encode(a.payload);
    const challenge = await crypto.subtle.digest("SHA-256", payload);
    const id = Uint8Array.from(atob(a.credentialId), (c) => c.charCodeAt(0));
    const cred = await navigator.credentials.get({ publicKey: {
      challenge, rpId: "localhost", userVerification: "required",
      allowCredentials: [{ type: "public-key", id }],
    } });
    const r = cred.response;
    window.__result = { token: ["pgt2", b64u(payload), b64u(r.authenticatorData), b64u(r.clientDataJSON), b64u(r.signature)].join(".") };
  } catch (e) {
    window.__result = { error: String(e) };
  }
})();`,
}
