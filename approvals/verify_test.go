package approvals

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testFacts(required int) PlanFacts {
	return PlanFacts{ID: testPlanID, Stack: testStack, SHA256: testSHA, ExpiresAt: testNow.Add(time.Hour), Required: required}
}

func TestVerifyAccepts(t *testing.T) {
	oncall, lead := issue(t, "oncall"), issue(t, "lead")
	oncall2 := issue(t, "oncall")
	tests := []struct {
		name          string
		tokens        []string
		required      int
		now           time.Time
		wantApprovers []string
		wantUses      int
	}{
		{name: "one approver", tokens: []string{oncall}, required: 1, wantApprovers: []string{"oncall"}, wantUses: 1},
		{name: "required 0 counts as 1", tokens: []string{oncall}, required: 0, wantApprovers: []string{"oncall"}, wantUses: 1},
		{name: "two approvers", tokens: []string{oncall, lead}, required: 2, wantApprovers: []string{"oncall", "lead"}, wantUses: 2},
		{name: "more approvers than needed", tokens: []string{lead, oncall}, required: 1, wantApprovers: []string{"lead", "oncall"}, wantUses: 2},
		{name: "two tokens of one approver, one needed", tokens: []string{oncall, oncall2}, required: 1, wantApprovers: []string{"oncall"}, wantUses: 2},
		{name: "wrapped across lines", tokens: []string{wrap(oncall, 60, "\n")}, required: 1, wantApprovers: []string{"oncall"}, wantUses: 1},
		{name: "issued slightly in the future (clock skew)", tokens: []string{oncall}, required: 1, now: testNow.Add(-ClockSkew), wantApprovers: []string{"oncall"}, wantUses: 1},
		{name: "one second before expiry", tokens: []string{oncall}, required: 1, now: testNow.Add(time.Hour - time.Second), wantApprovers: []string{"oncall"}, wantUses: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := OpenLedger(t.TempDir())
			require.NoError(t, err)
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			v, err := Verify(tt.tokens, testFacts(tt.required), testApprovers("oncall", "lead"), l, now)
			require.NoError(t, err)
			assert.Equal(t, tt.wantApprovers, v.Approvers)
			require.Len(t, v.Uses, tt.wantUses)
			require.Len(t, v.Fingerprints, tt.wantUses)
			for i, u := range v.Uses {
				assert.Equal(t, v.Fingerprints[i], u.Fingerprint)
				assert.Equal(t, testPlanID, u.PlanID)
				assertNoTokenIn(t, u.Fingerprint, tt.tokens[i])
			}
			used, err := l.Used(v.Uses[0].Nonce)
			require.NoError(t, err)
			assert.False(t, used, "Verify records nothing")
		})
	}
}

// TestVerifyAttacks is the attack table of the approval gate: each must be
// refused with a reason that says what is wrong and never quotes a token.
func TestVerifyAttacks(t *testing.T) {
	oncall, lead := issue(t, "oncall"), issue(t, "lead")
	mallory := testKey("mallory") // holds a key, but is not configured

	// Forged: claims to be oncall, signed with another key.
	forged, err := sign(mallory.Key, ptr(testClaims("oncall")))
	require.NoError(t, err)

	// Edited after signing: oncall's token for another stack, payload
	// changed to this stack, signature kept.
	otherStack := testClaims("oncall")
	otherStack.Stack = "db"
	edited := swapPayload(t, signClaims(t, "oncall", otherStack), testClaims("oncall"))

	spent := issue(t, "oncall")
	spentTok, err := Parse(spent)
	require.NoError(t, err)

	tests := []struct {
		name     string
		tokens   []string
		facts    PlanFacts
		now      time.Time
		contains []string
	}{
		{name: "no token", tokens: nil, facts: testFacts(1), contains: []string{"no approval token was given", "plangate approve " + testPlanID}},
		{name: "forged signature", tokens: []string{forged}, facts: testFacts(1), contains: []string{"signature does not verify with oncall's public key"}},
		{name: "payload edited after signing", tokens: []string{edited}, facts: testFacts(1), contains: []string{"signature does not verify"}},
		{name: "unknown approver", tokens: []string{signClaims(t, "mallory", testClaims("mallory"))}, facts: testFacts(1), contains: []string{`approver "mallory"`, "not an approver in plangate.hcl", "oncall, lead"}},
		{name: "token for another plan", tokens: []string{signClaims(t, "oncall", with(func(c *Claims) { c.PlanID = otherPlanID }))}, facts: testFacts(1),
			contains: []string{"is for plan " + otherPlanID + ", not " + testPlanID}},
		{name: "token for another stack", tokens: []string{signClaims(t, "oncall", with(func(c *Claims) { c.Stack = "db" }))}, facts: testFacts(1),
			contains: []string{"is for stack db, not stack web"}},
		{name: "token for an older plan of the same stack", tokens: []string{signClaims(t, "oncall", with(func(c *Claims) { c.PlanID = otherPlanID; c.PlanSHA256 = otherSHA }))}, facts: testFacts(1),
			contains: []string{"is for plan " + otherPlanID}},
		{name: "plan file changed since approval", tokens: []string{oncall}, facts: withFacts(func(f *PlanFacts) { f.SHA256 = otherSHA }),
			contains: []string{"plan file changed since approval", "aaaaaaaaaaaa", "bbbbbbbbbbbb"}},
		{name: "expired token", tokens: []string{signClaims(t, "oncall", testClaims("oncall"))}, facts: testFacts(1), now: testNow.Add(30 * time.Minute),
			contains: []string{"expired at 2026-03-14T12:30:00Z", "plangate approve"}},
		{name: "token outlives the plan", tokens: []string{signClaims(t, "oncall", with(func(c *Claims) { c.ExpiresAt = testNow.Add(2 * time.Hour).Unix() }))}, facts: testFacts(1),
			contains: []string{"after the plan itself"}},
		{name: "issued in the future", tokens: []string{signClaims(t, "oncall", with(func(c *Claims) {
			c.IssuedAt = testNow.Add(ClockSkew + time.Second).Unix()
		}))}, facts: testFacts(1), contains: []string{"in the future", "clock"}},
		{name: "replayed token", tokens: []string{spent}, facts: testFacts(1), contains: []string{"already used at 2026-03-14T12:00:00Z", "works once"}},
		{name: "one approver counted twice", tokens: []string{oncall, issue(t, "oncall")}, facts: testFacts(2),
			contains: []string{"oncall approved twice; this plan needs 2 different approvers"}},
		{name: "same token twice", tokens: []string{oncall, oncall}, facts: testFacts(2), contains: []string{"the same approval as token 1"}},
		{name: "not enough approvers", tokens: []string{lead}, facts: testFacts(2), contains: []string{"needs 2 different approvers and has 1 (lead)"}},
		{name: "one bad token among good ones", tokens: []string{oncall, "pgt9" + lead[4:]}, facts: testFacts(1), contains: []string{"approval token 2 is not valid: it is not a version this plangate reads"}},
		{name: "garbage", tokens: []string{"please apply"}, facts: testFacts(1), contains: []string{"does not start with pgt1."}},
		{name: "plan expired", tokens: []string{oncall}, facts: withFacts(func(f *PlanFacts) { f.ExpiresAt = testNow }), contains: []string{"plan " + testPlanID + " expired"}},
		{name: "too many tokens", tokens: make([]string, MaxTokens+1), facts: testFacts(1), contains: []string{"more than the 16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := OpenLedger(t.TempDir())
			require.NoError(t, err)
			require.NoError(t, l.Consume([]NonceUse{{Nonce: spentTok.Claims.Nonce, Approver: "oncall", PlanID: testPlanID, Fingerprint: spentTok.Fingerprint(), UsedAt: testNow}}))
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			v, err := Verify(tt.tokens, tt.facts, testApprovers("oncall", "lead"), l, now)
			require.Error(t, err)
			assert.Nil(t, v)
			var ref *RefusalError
			require.True(t, errors.As(err, &ref), "a *RefusalError, got %T: %v", err, err)
			for _, c := range tt.contains {
				assert.Contains(t, ref.Reason, c)
			}
			for _, tok := range append(tt.tokens, oncall, lead, forged, edited, spent) {
				assertNoTokenIn(t, ref.Reason, tok)
			}
		})
	}
}

// TestVerifyThenConsumeRace: two applies verify the same token at once;
// both pass Verify, and Consume lets exactly one through.
func TestVerifyThenConsumeRace(t *testing.T) {
	dir := t.TempDir()
	tok := issue(t, "oncall")
	results := make(chan error, 2)
	for range 2 {
		go func() {
			l, err := OpenLedger(dir)
			if err != nil {
				results <- err
				return
			}
			v, err := Verify([]string{tok}, testFacts(1), testApprovers("oncall"), l, testNow)
			if err != nil {
				results <- err
				return
			}
			results <- l.Consume(v.Uses)
		}()
	}
	var errs []error
	for range 2 {
		errs = append(errs, <-results)
	}
	ok := 0
	for _, err := range errs {
		var ref *RefusalError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ref):
			assert.Contains(t, ref.Reason, "already used")
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	assert.Equal(t, 1, ok)
}

func TestVerifyWithoutLedger(t *testing.T) {
	v, err := Verify([]string{issue(t, "oncall")}, testFacts(1), testApprovers("oncall"), nil, testNow)
	require.NoError(t, err)
	assert.Equal(t, []string{"oncall"}, v.Approvers)
}

func TestVerifyIncompleteFacts(t *testing.T) {
	_, err := Verify([]string{issue(t, "oncall")}, PlanFacts{ID: testPlanID}, testApprovers("oncall"), nil, testNow)
	require.Error(t, err)
	var ref *RefusalError
	assert.False(t, errors.As(err, &ref), "a caller's mistake, not a refusal")
}

// TestVerifyKeyRotation: once oncall's key in the config changes, tokens
// made with the old key no longer count.
func TestVerifyKeyRotation(t *testing.T) {
	tok := issue(t, "oncall")
	seed := sha256.Sum256([]byte("new key"))
	approvers := testApprovers("oncall")
	approvers[0].PublicKey = ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	_, err := Verify([]string{tok}, testFacts(1), approvers, nil, testNow)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "signature does not verify")
}

func ptr[T any](v T) *T { return &v }

func with(f func(c *Claims)) Claims {
	c := testClaims("oncall")
	f(&c)
	return c
}

func withFacts(f func(f *PlanFacts)) PlanFacts {
	facts := testFacts(1)
	f(&facts)
	return facts
}

// swapPayload puts the encoding of c in place of a signed token's payload,
// keeping its signature.
func swapPayload(t *testing.T, token string, c Claims) string {
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	return parts[0] + "." + b64.EncodeToString(mustJSON(t, c)) + "." + parts[2]
}
