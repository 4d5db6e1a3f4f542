package gate

import (
	"context"
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
	"github.com/plangate/plangate/plan"
)

const reviewOrigin = "http://localhost:7433"

// registerPasskey runs the registration ceremony with a software
// authenticator and returns it with the credential text that plangate
// passkey register prints.
func registerPasskey(t *testing.T, name string) (*passkeytest.TestAuthenticator, string) {
	t.Helper()
	auth, err := passkeytest.New()
	require.NoError(t, err)
	opts, reg, err := passkey.BeginRegistration("localhost", name)
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: reviewOrigin})
	require.NoError(t, err)
	cred, err := reg.Finish(reviewOrigin, resp)
	require.NoError(t, err)
	return auth, cred.String()
}

// approveWithPasskey does what the review page does for approver name:
// the payload for the plan, the assertion options for the approver's
// passkey (as plangate.hcl holds it), the authenticator, the token.
func approveWithPasskey(t *testing.T, g *Gate, auth *passkeytest.TestAuthenticator, name string, rec *plan.Record, c passkeytest.Ceremony) string {
	t.Helper()
	cfg, err := config.Load(g.Config.Path) // the file: the approver may not be accepted yet
	require.NoError(t, err)
	a, ok := cfg.Approver(name)
	require.True(t, ok)
	require.NotNil(t, a.Passkey)
	payload, _, err := approvals.NewPayload(name, rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	opts, err := passkey.AssertionOptions("localhost", raw, []*passkey.Credential{a.Passkey})
	require.NoError(t, err)
	if c.Origin == "" {
		c.Origin = reviewOrigin
	}
	resp, err := auth.Assert(opts, c)
	require.NoError(t, err)
	tok, err := passkey.TokenFromAssertion(payload, resp)
	require.NoError(t, err)
	return tok
}

// passkeyGate is a gate on stack "s" that needs 2 approvers: alice with a
// key, bob with a passkey.
func passkeyGate(t *testing.T) (*Gate, *config.Stack, *approvals.PrivateKey, *passkeytest.TestAuthenticator) {
	t.Helper()
	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	auth, cred := registerPasskey(t, "bob")
	g, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, `variables = ["n"]
  policy {
    approvals = 2
  }
}
approver "alice" {
  public_key = "`+config.FormatPublicKey(pub)+`"
}
approver "bob" {
  passkey = "`+cred+`"`)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	g.Ledger = ledger
	st, _ := cfg.Stack("s")
	return g, st, &approvals.PrivateKey{Approver: "alice", Key: priv}, auth
}

// A plan that needs two approvers applies with alice's pgt1 and bob's
// pgt2, with real Terraform; the passkey token alone does not reach the
// quorum, is recorded by RecordApproval, works once, and a passkey that
// counts backwards is refused.
func TestApplyWithKeyAndPasskeyApprovals(t *testing.T) {
	g, st, alice, bob := passkeyGate(t)
	ctx := context.Background()
	agent := audit.Client{Name: "agent", Version: "1"}

	rec, err := g.Propose(ctx, st, map[string]any{"n": 2}, agent)
	require.NoError(t, err)
	pk := approveWithPasskey(t, g, bob, "bob", rec, passkeytest.Ceremony{})

	// The page records it (audited with its fingerprint, not spent).
	recorded, err := g.RecordApproval(rec.ID[:8], pk, "bob", audit.Client{Name: "review-page"})
	require.NoError(t, err)
	assert.Equal(t, "bob", recorded.Claims.Approver)

	_, err = g.Apply(ctx, rec.ID, []string{pk}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "needs 2 different approvers and has 1 (bob)")

	// A key file named for bob does not make bob's approval: bob has a passkey.
	_, bobKey, err := approvals.GenerateKey()
	require.NoError(t, err)
	_, err = g.Approve(rec.ID, &approvals.PrivateKey{Approver: "bob", Key: bobKey}, "root", audit.Client{})
	require.ErrorContains(t, err, `approver "bob" approves with a passkey`)

	key, err := g.Approve(rec.ID, alice, "root", audit.Client{Name: "plangate-cli"})
	require.NoError(t, err)
	out, err := g.Apply(ctx, rec.ID, []string{key.Token, pk}, agent, nil)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusApplied, out.Status)
	assert.Equal(t, []string{"alice", "bob"}, out.Approvers)
	applied, err := g.Store.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{approvals.Fingerprint(key.Token), approvals.Fingerprint(pk)}, applied.Apply.TokenFingerprints)

	// The audit log names the tokens by fingerprint and never holds one.
	log, err := os.ReadFile(g.Audit.Path())
	require.NoError(t, err)
	assert.NotContains(t, string(log), pk[:40])
	assert.Contains(t, string(log), approvals.Fingerprint(pk))

	// The passkey's counter is in the ledger; the next plan must count higher.
	next, err := g.Propose(ctx, st, map[string]any{"n": 3}, agent)
	require.NoError(t, err)
	used := bob.Counter
	back := used // an authenticator (a clone) that did not count up
	stale := approveWithPasskey(t, g, bob, "bob", next, passkeytest.Ceremony{Counter: &back})
	key2, err := g.Approve(next.ID, alice, "root", audit.Client{})
	require.NoError(t, err)
	_, err = g.Apply(ctx, next.ID, []string{key2.Token, stale}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "sign counter is "+itoa(used)+", not above "+itoa(used))

	// The same pgt2 for the applied plan again: refused.
	_, err = g.Apply(ctx, rec.ID, []string{key.Token, pk}, agent, nil)
	assert.Contains(t, refusalOf(t, err), "was already applied")

	fresh := approveWithPasskey(t, g, bob, "bob", next, passkeytest.Ceremony{})
	out, err = g.Apply(ctx, next.ID, []string{fresh, key2.Token}, agent, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"bob", "alice"}, out.Approvers)
	// Replayed after use: the nonce is spent (the plan is applied too, so
	// check the ledger directly).
	usedNonce, err := g.Ledger.Used(mustParse(t, fresh).Claims.Nonce)
	require.NoError(t, err)
	assert.True(t, usedNonce)
}

// Every forged or misdirected passkey token is refused by apply, with
// real Terraform never starting, and by RecordApproval.
func TestApplyRefusesBadPasskeyTokens(t *testing.T) {
	g, st, alice, bob := passkeyGate(t)
	ctx := context.Background()
	agent := audit.Client{Name: "agent"}
	rec, err := g.Propose(ctx, st, map[string]any{"n": 1}, agent)
	require.NoError(t, err)
	other, err := g.Propose(ctx, st, map[string]any{"n": 4}, agent)
	require.NoError(t, err)
	rec, err = g.Store.Get(rec.ID)
	require.NoError(t, err)
	key, err := g.Approve(other.ID, alice, "root", audit.Client{})
	require.NoError(t, err)
	stranger, _ := registerPasskey(t, "bob") // a passkey bob never registered in plangate.hcl

	good := approveWithPasskey(t, g, bob, "bob", other, passkeytest.Ceremony{})
	parts := strings.Split(good, ".")
	// Another plan's genuine payload under this plan's assertion.
	otherPayload, _, err := approvals.NewPayload("bob", rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, time.Now(), time.Hour)
	require.NoError(t, err)
	swapped := strings.Join([]string{parts[0], otherPayload, parts[2], parts[3], parts[4]}, ".")

	for _, tt := range []struct {
		name, token, want string
	}{
		{"token for another plan", approveWithPasskey(t, g, bob, "bob", rec, passkeytest.Ceremony{}), "is for plan " + rec.ID},
		{"tampered challenge (payload swapped)", swapped, "different challenge"},
		{"UV missing", approveWithPasskey(t, g, bob, "bob", other, passkeytest.Ceremony{Flags: passkeytest.FlagUP}), "did not verify the user"},
		{"UP missing", approveWithPasskey(t, g, bob, "bob", other, passkeytest.Ceremony{Flags: passkeytest.FlagUV}), "user was present"},
		{"cross-origin", approveWithPasskey(t, g, bob, "bob", other, passkeytest.Ceremony{Origin: "https://evil.example"}), "wrong site"},
		{"wrong rp id hash", approveWithPasskey(t, g, bob, "bob", other, passkeytest.Ceremony{RPID: "evil.example"}), "RP ID hash mismatch"},
		{"unregistered credential", approveWithPasskey(t, g, stranger, "bob", other, passkeytest.Ceremony{AnyCredential: true}), "signature does not verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.Apply(ctx, other.ID, []string{key.Token, tt.token}, agent, nil)
			reason := refusalOf(t, err)
			assert.Contains(t, reason, tt.want)
			assert.NotContains(t, reason, tt.token[5:45])
			_, err = g.RecordApproval(other.ID, tt.token, "bob", audit.Client{})
			require.Error(t, err)
			got, err := g.Store.Get(other.ID)
			require.NoError(t, err)
			assert.Equal(t, plan.StatusAwaitingApproval, got.Status, "nothing ran")
		})
	}
	// For contrast: the genuine one applies.
	out, err := g.Apply(ctx, other.ID, []string{key.Token, good}, agent, nil)
	require.NoError(t, err)
	assert.Equal(t, plan.StatusApplied, out.Status)
}

// A passkey approver added to plangate.hcl counts for nothing until an
// accepted approver runs plangate config accept.
func TestPasskeyApproverWaitsForConfigAccept(t *testing.T) {
	g, st, alice := approvingGate(t)
	live, err := config.NewLive(g.Config.Path)
	require.NoError(t, err)
	g.Live = live
	_, err = live.Load() // first use: alice only
	require.NoError(t, err)

	bob, cred := registerPasskey(t, "bob")
	src, err := os.ReadFile(g.Config.Path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(g.Config.Path, append(src, []byte("approver \"bob\" {\n  passkey = \""+cred+"\"\n}\n")...), 0o644))

	ctx := context.Background()
	agent := audit.Client{Name: "agent"}
	rec, err := g.Propose(ctx, st, map[string]any{"n": 1}, agent)
	require.NoError(t, err)
	pk := approveWithPasskey(t, g, bob, "bob", rec, passkeytest.Ceremony{})

	_, err = g.RecordApproval(rec.ID, pk, "bob", audit.Client{})
	require.ErrorContains(t, err, "not accepted yet")
	_, err = g.Apply(ctx, rec.ID, []string{pk}, agent, nil)
	reason := refusalOf(t, err)
	assert.Contains(t, reason, `"bob" is in plangate.hcl but not accepted`)

	s, err := live.Load()
	require.NoError(t, err)
	req, err := approvals.SignRequest(alice, approvals.ActionConfigAccept, s.FileSHA256, time.Now().UTC())
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, time.Now().UTC())
	require.NoError(t, err)

	out, err := g.Apply(ctx, rec.ID, []string{pk}, agent, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"bob"}, out.Approvers)
}

func mustParse(t *testing.T, token string) *approvals.Token {
	t.Helper()
	tok, err := approvals.Parse(token)
	require.NoError(t, err)
	return tok
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
