package approvals

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
)

const testOrigin = "http://localhost:8711"

// passkeyApprover registers a fresh test authenticator for name through
// the real registration ceremony.
func passkeyApprover(t *testing.T, name string) (*passkeytest.TestAuthenticator, *config.Approver) {
	t.Helper()
	auth, err := passkeytest.New()
	require.NoError(t, err)
	opts, reg, err := passkey.BeginRegistration("localhost", name)
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: testOrigin})
	require.NoError(t, err)
	cred, err := reg.Finish(testOrigin, resp)
	require.NoError(t, err)
	// As plangate.hcl holds it: the printed text, parsed back.
	cred, err = passkey.ParseCredential(cred.String())
	require.NoError(t, err)
	return auth, &config.Approver{Name: name, Passkey: cred}
}

// passkeyToken approves the test plan as a on the review page would:
// NewPayload, the assertion options, the authenticator, TokenFromAssertion.
func passkeyToken(t *testing.T, auth *passkeytest.TestAuthenticator, a *config.Approver, c passkeytest.Ceremony) string {
	t.Helper()
	payload, _, err := NewPayload(a.Name, testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, time.Hour)
	require.NoError(t, err)
	return assertPayload(t, auth, a, payload, c)
}

func assertPayload(t *testing.T, auth *passkeytest.TestAuthenticator, a *config.Approver, payloadB64 string, c passkeytest.Ceremony) string {
	t.Helper()
	raw, err := b64.DecodeString(payloadB64)
	require.NoError(t, err)
	opts, err := passkey.AssertionOptions("localhost", raw, []*passkey.Credential{a.Passkey})
	require.NoError(t, err)
	if c.Origin == "" {
		c.Origin = testOrigin
	}
	resp, err := auth.Assert(opts, c)
	require.NoError(t, err)
	tok, err := passkey.TokenFromAssertion(payloadB64, resp)
	require.NoError(t, err)
	return tok
}

func TestVerifyPasskeyToken(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	tok := passkeyToken(t, auth, alice, passkeytest.Ceremony{})
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)

	v, err := Verify([]string{wrap(tok, 76, "\n")}, testFacts(1), []*config.Approver{alice}, l, testNow)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice"}, v.Approvers)
	require.Len(t, v.Uses, 1)
	assert.Equal(t, alice.Passkey.Fingerprint(), v.Uses[0].Credential)
	assert.Equal(t, auth.Counter, v.Uses[0].SignCount)
	assert.Equal(t, Fingerprint(tok), v.Fingerprints[0])
	require.NoError(t, l.Consume(v.Uses))

	// Single use: the same token again is a replay.
	_, err = Verify([]string{tok}, testFacts(1), []*config.Approver{alice}, l, testNow)
	assertRefused(t, err, tok, "already used")
}

func TestVerifyMixedKeyAndPasskey(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	approvers := append(testApprovers("oncall"), alice)
	pk, key := passkeyToken(t, auth, alice, passkeytest.Ceremony{}), issue(t, "oncall")

	v, err := Verify([]string{key, pk}, testFacts(2), approvers, nil, testNow)
	require.NoError(t, err)
	assert.Equal(t, []string{"oncall", "alice"}, v.Approvers)

	// Two passkey approvals by alice are still one approver.
	_, err = Verify([]string{pk, passkeyToken(t, auth, alice, passkeytest.Ceremony{})}, testFacts(2), approvers, nil, testNow)
	assertRefused(t, err, pk, "alice approved twice")
}

func TestVerifyPasskeyRefusals(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	_, stranger := passkeyApprover(t, "alice") // another passkey under alice's name
	approvers := append(testApprovers("oncall"), alice)

	// Another plan's payload with this plan's... nothing: a genuine token
	// for another plan.
	otherPayload, _, err := NewPayload("alice", otherPlanID, otherSHA, testStack, testNow.Add(time.Hour), testNow, time.Hour)
	require.NoError(t, err)
	otherPlan := assertPayload(t, auth, alice, otherPayload, passkeytest.Ceremony{})

	// The payload swapped for this plan's, the assertion kept: the
	// challenge no longer matches.
	parts := strings.Split(otherPlan, ".")
	thisPayload, _, err := NewPayload("alice", testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, time.Hour)
	require.NoError(t, err)
	swapped := strings.Join([]string{parts[0], thisPayload, parts[2], parts[3], parts[4]}, ".")

	// A payload whose plan_sha256 is another file's, genuinely signed.
	shaPayload, _, err := NewPayload("alice", testPlanID, otherSHA, testStack, testNow.Add(time.Hour), testNow, time.Hour)
	require.NoError(t, err)
	otherSHAToken := assertPayload(t, auth, alice, shaPayload, passkeytest.Ceremony{})

	tests := []struct {
		name      string
		token     string
		approvers []*config.Approver
		contains  string
	}{
		{name: "token for another plan", token: otherPlan, contains: "is for plan " + otherPlanID},
		{name: "payload of another plan (challenge mismatch)", token: swapped, contains: "different challenge"},
		{name: "plan file changed (sha mismatch)", token: otherSHAToken, contains: "the plan file changed since approval"},
		{name: "UV flag missing", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{Flags: passkeytest.FlagUP}), contains: "did not verify the user"},
		{name: "UP flag missing", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{Flags: passkeytest.FlagUV}), contains: "user was present"},
		{name: "cross-origin page", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{Origin: "https://evil.example"}), contains: "wrong site"},
		{name: "http on a host other than localhost", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{Origin: "http://127.0.0.1:8711"}), contains: "wrong site"},
		{name: "cross-origin frame", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{CrossOrigin: true}), contains: "cross-origin"},
		{name: "rp id hash of another site", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{RPID: "evil.example"}), contains: "RP ID hash mismatch"},
		{name: "unregistered credential (another passkey)", token: passkeyToken(t, auth, alice, passkeytest.Ceremony{}), approvers: append(testApprovers("oncall"), stranger), contains: "signature does not verify"},
		{name: "passkey token for a key approver", token: passkeyToken(t, auth, &config.Approver{Name: "oncall", Passkey: alice.Passkey}, passkeytest.Ceremony{}), contains: "oncall has a public_key, not a passkey"},
		{name: "key token for a passkey approver", token: issue(t, "alice"), contains: "alice approves with a passkey"},
		{name: "unknown approver", token: passkeyToken(t, auth, &config.Approver{Name: "mallory", Passkey: alice.Passkey}, passkeytest.Ceremony{}), contains: "not an approver in plangate.hcl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := approvers
			if tt.approvers != nil {
				as = tt.approvers
			}
			l, err := OpenLedger(t.TempDir())
			require.NoError(t, err)
			_, err = Verify([]string{tt.token}, testFacts(1), as, l, testNow)
			assertRefused(t, err, tt.token, tt.contains)
		})
	}
}

// TestPasskeySignCounter: a passkey that counts must count up from one
// used approval to the next; the last counter survives in the ledger.
func TestPasskeySignCounter(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	approvers := []*config.Approver{alice}
	dir := t.TempDir()
	l, err := OpenLedger(dir)
	require.NoError(t, err)
	at := func(n uint32) string {
		return passkeyToken(t, auth, alice, passkeytest.Ceremony{Counter: &n})
	}
	use := func(tok string) error {
		v, err := Verify([]string{tok}, testFacts(1), approvers, l, testNow)
		if err != nil {
			return err
		}
		return l.Consume(v.Uses)
	}
	require.NoError(t, use(at(10)))

	t.Run("same counter again", func(t *testing.T) {
		tok := at(10)
		assertRefused(t, use(tok), tok, "sign counter is 10, not above 10")
	})
	t.Run("lower counter, after reopening the ledger", func(t *testing.T) {
		l, err = OpenLedger(dir)
		require.NoError(t, err)
		tok := at(3)
		assertRefused(t, use(tok), tok, "sign counter is 3, not above 10")
	})
	t.Run("higher counter", func(t *testing.T) {
		require.NoError(t, use(at(11)))
	})
	t.Run("two verified in parallel: the lower one loses at Consume", func(t *testing.T) {
		hi, lo := at(20), at(15)
		vh, err := Verify([]string{hi}, testFacts(1), approvers, l, testNow)
		require.NoError(t, err)
		vl, err := Verify([]string{lo}, testFacts(1), approvers, l, testNow)
		require.NoError(t, err, "15 is above the 11 recorded so far")
		require.NoError(t, l.Consume(vh.Uses))
		err = l.Consume(vl.Uses)
		assertRefused(t, err, lo, "sign counter is 15, not above 20")
		used, err := l.Used(vl.Uses[0].Nonce)
		require.NoError(t, err)
		assert.False(t, used, "a refused Consume records nothing")
	})
	t.Run("two tokens of one passkey in one apply must count up too", func(t *testing.T) {
		first, second := at(31), at(30)
		_, err := Verify([]string{first, second}, testFacts(1), approvers, l, testNow)
		assertRefused(t, err, second, "approval token 2 from alice is refused: its passkey's sign counter is 30, not above 31")
		_, err = Verify([]string{second, first}, testFacts(1), approvers, l, testNow)
		require.NoError(t, err)
	})
	t.Run("a passkey that does not count (always 0)", func(t *testing.T) {
		auth0, bob := passkeyApprover(t, "bob")
		zero := uint32(0)
		for range 2 {
			tok := passkeyToken(t, auth0, bob, passkeytest.Ceremony{Counter: &zero})
			v, err := Verify([]string{tok}, testFacts(1), []*config.Approver{bob}, l, testNow)
			require.NoError(t, err)
			require.NoError(t, l.Consume(v.Uses))
		}
		// Once it counted, 0 is going back.
		one := uint32(1)
		tok := passkeyToken(t, auth0, bob, passkeytest.Ceremony{Counter: &one})
		v, err := Verify([]string{tok}, testFacts(1), []*config.Approver{bob}, l, testNow)
		require.NoError(t, err)
		require.NoError(t, l.Consume(v.Uses))
		tok = passkeyToken(t, auth0, bob, passkeytest.Ceremony{Counter: &zero})
		_, err = Verify([]string{tok}, testFacts(1), []*config.Approver{bob}, l, testNow)
		assertRefused(t, err, tok, "sign counter is 0, not above 1")
	})
}

func TestParsePasskeyTokenRefuses(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	tok := passkeyToken(t, auth, alice, passkeytest.Ceremony{})
	parts := strings.Split(tok, ".")
	edited := testClaims("alice")
	edited.Nonce = b64.EncodeToString([]byte("fedcba9876543210"))
	for name, text := range map[string]string{
		"four parts":           strings.Join(parts[:4], "."),
		"six parts":            tok + ".AAAA",
		"padding":              tok + "=",
		"payload not claims":   strings.Join([]string{parts[0], b64.EncodeToString([]byte(`{"a":1}`)), parts[2], parts[3], parts[4]}, "."),
		"payload with a space": strings.Join([]string{parts[0], b64.EncodeToString([]byte(` ` + string(mustJSON(t, edited)))), parts[2], parts[3], parts[4]}, "."),
		"too long":             tok + strings.Repeat("A", passkey.MaxTokenLength),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(text)
			assertRefused(t, err, text, "approval token is not valid")
			assert.Contains(t, err.Error(), "review page")
		})
	}
}

// assertRefused checks err is a *RefusalError that says want and never
// quotes the token.
func assertRefused(t *testing.T, err error, token, want string) {
	t.Helper()
	require.Error(t, err)
	var ref *RefusalError
	require.True(t, errors.As(err, &ref), "a refusal, got %T: %v", err, err)
	assert.Contains(t, err.Error(), want)
	assertNoTokenIn(t, err.Error(), token)
}

// TestPasskeyCounterCannotBeRolledBack: lowering the recorded counter in
// ledger.jsonl (to let a cloned passkey's assertion through) breaks the
// chain, and every apply is refused until a human looks.
func TestPasskeyCounterCannotBeRolledBack(t *testing.T) {
	auth, alice := passkeyApprover(t, "alice")
	dir := t.TempDir()
	l, err := OpenLedger(dir)
	require.NoError(t, err)
	n := uint32(40)
	v, err := Verify([]string{passkeyToken(t, auth, alice, passkeytest.Ceremony{Counter: &n})}, testFacts(1), []*config.Approver{alice}, l, testNow)
	require.NoError(t, err)
	require.NoError(t, l.Consume(v.Uses))

	data, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	require.Contains(t, string(data), `"sign_count":40`)
	require.NoError(t, os.WriteFile(l.Path(), bytes.Replace(data, []byte(`"sign_count":40`), []byte(`"sign_count":4`), 1), 0o600))

	n = 5
	_, err = Verify([]string{passkeyToken(t, auth, alice, passkeytest.Ceremony{Counter: &n})}, testFacts(1), []*config.Approver{alice}, l, testNow)
	var le *LedgerError
	require.ErrorAs(t, err, &le)
	assert.Contains(t, err.Error(), "line 1")
}

func TestNewPayload(t *testing.T) {
	planExp := testNow.Add(time.Hour)
	payload, c, err := NewPayload("alice", testPlanID, testSHA, testStack, planExp, testNow, 10*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, testNow.Add(10*time.Minute).Unix(), c.ExpiresAt, "the ttl, when shorter than the plan")
	raw, err := b64.DecodeString(payload)
	require.NoError(t, err)
	assert.Equal(t, mustJSON(t, c), raw, "the payload is the claims' canonical JSON")
	var back Claims
	require.NoError(t, decodeCanonical(raw, claimFields, &back, "tokens"))
	assert.Equal(t, *c, back)

	_, c, err = NewPayload("alice", testPlanID, testSHA, testStack, planExp, testNow, 0)
	require.NoError(t, err)
	assert.Equal(t, planExp.Unix(), c.ExpiresAt, "no ttl: the plan's expiry")
	_, c2, err := NewPayload("alice", testPlanID, testSHA, testStack, planExp, testNow, 0)
	require.NoError(t, err)
	assert.NotEqual(t, c.Nonce, c2.Nonce, "a fresh nonce each time")

	_, _, err = NewPayload("alice", testPlanID, testSHA, testStack, testNow, testNow, 0)
	assert.ErrorContains(t, err, "can no longer be approved")
	_, _, err = NewPayload("Alice!", testPlanID, testSHA, testStack, planExp, testNow, 0)
	assert.ErrorContains(t, err, "approver is not a valid approver name")
}
