package approvals

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signTestRequest signs an unfreeze of the test stack by approver name at
// testNow.
func signTestRequest(t testing.TB, name string) string {
	t.Helper()
	text, err := SignRequest(testKey(name), ActionUnfreeze, testStack, testNow)
	require.NoError(t, err)
	return text
}

// testRequestClaims are valid claims for an unfreeze of the test stack.
func testRequestClaims(name string) RequestClaims {
	return RequestClaims{
		Approver:  name,
		Action:    ActionUnfreeze,
		Subject:   testStack,
		IssuedAt:  testNow.Unix(),
		ExpiresAt: testNow.Add(RequestTTL).Unix(),
		Nonce:     b64.EncodeToString([]byte("0123456789abcdef")),
	}
}

// signWith signs payload in form f with approver name's key.
func signWith(f signedForm, name string, payload []byte) string {
	return f.sign(testKey(name).Key, payload)
}

func TestSignAndVerifyRequest(t *testing.T) {
	text := signTestRequest(t, "oncall")
	assert.True(t, strings.HasPrefix(text, "pgr1."), text)
	assert.Len(t, strings.Split(text, "."), 3)
	assert.Less(t, len(text), MaxRequestLength)

	for name, now := range map[string]time.Time{
		"at once":                  testNow,
		"a minute later":           testNow.Add(time.Minute),
		"just before expiry":       testNow.Add(RequestTTL - time.Second),
		"signer's clock runs fast": testNow.Add(-ClockSkew),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := VerifyRequest(text, ActionUnfreeze, testStack, testApprovers("lead", "oncall"), now)
			require.NoError(t, err)
			assert.Equal(t, "oncall", c.Approver)
			assert.Equal(t, ActionUnfreeze, c.Action)
			assert.Equal(t, testStack, c.Subject)
			assert.Equal(t, testNow.Unix(), c.IssuedAt)
			assert.Equal(t, testNow.Add(5*time.Minute).Unix(), c.ExpiresAt)
			n, err := decodeB64URL(c.Nonce)
			require.NoError(t, err)
			assert.Len(t, n, nonceSize)
		})
	}

	all, err := SignRequest(testKey("oncall"), ActionUnfreeze, SubjectAllStacks, testNow)
	require.NoError(t, err)
	_, err = VerifyRequest(all, ActionUnfreeze, "*", testApprovers("oncall"), testNow)
	assert.NoError(t, err, "the all-stacks subject")

	pasted := wrap(text, 40, "\r\n  ") + "\n"
	req, err := ParseRequest(pasted)
	require.NoError(t, err, "whitespace does not matter")
	assert.Equal(t, text, req.Text)
	assert.Equal(t, Fingerprint(text), req.Fingerprint())
	_, err = VerifyRequest(pasted, ActionUnfreeze, testStack, testApprovers("oncall"), testNow)
	assert.NoError(t, err)

	again := signTestRequest(t, "oncall")
	assert.NotEqual(t, text, again, "each request has its own nonce")
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", req, req, req, req)} {
		assert.Contains(t, out, req.Fingerprint())
		assertNoTokenIn(t, out, text)
	}
}

func TestSignRequestRefusesBadInput(t *testing.T) {
	tests := []struct {
		name            string
		key             *PrivateKey
		action, subject string
		want            string
	}{
		{name: "no key", action: ActionUnfreeze, subject: testStack, want: "no valid approver key"},
		{name: "short key", key: &PrivateKey{Approver: "oncall", Key: make([]byte, 10)}, action: ActionUnfreeze, subject: testStack, want: "no valid approver key"},
		{name: "bad approver name", key: &PrivateKey{Approver: "On Call", Key: testKey("x").Key}, action: ActionUnfreeze, subject: testStack, want: "approver"},
		{name: "no action", key: testKey("oncall"), subject: testStack, want: "action"},
		{name: "upper-case action", key: testKey("oncall"), action: "Unfreeze", subject: testStack, want: "action"},
		{name: "no subject", key: testKey("oncall"), action: ActionUnfreeze, want: "subject"},
		{name: "subject with a space", key: testKey("oncall"), action: ActionUnfreeze, subject: "web db", want: "subject"},
		{name: "subject json escapes", key: testKey("oncall"), action: ActionUnfreeze, subject: "<web>", want: "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := SignRequest(tt.key, tt.action, tt.subject, testNow)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, text)
		})
	}
}

func TestVerifyRequestRefuses(t *testing.T) {
	valid := signTestRequest(t, "oncall")
	parts := strings.Split(valid, ".")
	c := testRequestClaims("oncall")
	claimsWith := func(f func(c *RequestClaims)) string {
		cc := c
		f(&cc)
		text, err := signRequestClaims(testKey("oncall").Key, &cc)
		require.NoError(t, err)
		return text
	}
	// An impostor's key, under oncall's name.
	forged, err := SignRequest(&PrivateKey{Approver: "oncall", Key: testKey("mallory").Key}, ActionUnfreeze, testStack, testNow)
	require.NoError(t, err)
	// oncall's request with its subject changed, signature kept.
	otherSubject := testRequestClaims("oncall")
	otherSubject.Subject = "db"
	tampered := "pgr1." + b64.EncodeToString(mustJSON(t, &otherSubject)) + "." + parts[2]
	mallory := signTestRequest(t, "mallory")

	tests := []struct {
		name     string
		text     string
		action   string
		subject  string
		now      time.Time
		contains string
	}{
		{name: "wrong action", text: valid, action: "config-accept", subject: testStack, contains: "is a request to unfreeze, not to config-accept"},
		{name: "wrong subject", text: valid, action: ActionUnfreeze, subject: "db", contains: "is to unfreeze web, not db"},
		{name: "one stack is not all stacks", text: valid, action: ActionUnfreeze, subject: SubjectAllStacks, contains: "not *"},
		{name: "expired", text: valid, action: ActionUnfreeze, subject: testStack, now: testNow.Add(RequestTTL), contains: "expired at 2026-03-14T12:05:00Z"},
		{name: "long expired", text: valid, action: ActionUnfreeze, subject: testStack, now: testNow.Add(24 * time.Hour), contains: "expired"},
		{name: "issued in the future", text: valid, action: ActionUnfreeze, subject: testStack, now: testNow.Add(-ClockSkew - time.Second), contains: "in the future"},
		{name: "unknown approver", text: mallory, action: ActionUnfreeze, subject: testStack, contains: `approver "mallory", who is not an approver in plangate.hcl (approvers: lead, oncall)`},
		{name: "another key under an approver's name", text: forged, action: ActionUnfreeze, subject: testStack, contains: "signature does not verify with oncall's public key"},
		{name: "tampered payload", text: tampered, action: ActionUnfreeze, subject: "db", contains: "signature does not verify"},
		{name: "tampered signature", text: parts[0] + "." + parts[1] + "." + strings.Repeat("A", 86), action: ActionUnfreeze, subject: testStack, contains: "signature does not verify"},
		{name: "empty", text: "", action: ActionUnfreeze, subject: testStack, contains: "it is empty"},
		{name: "other version", text: "pgr2." + valid[5:], action: ActionUnfreeze, subject: testStack, contains: "not a version this plangate reads (requests start with pgr1.)"},
		{name: "lives longer than a request may", text: claimsWith(func(c *RequestClaims) { c.ExpiresAt++ }), action: ActionUnfreeze, subject: testStack, contains: "longer than a request may (5m0s)"},
		{name: "exp before iat", text: claimsWith(func(c *RequestClaims) { c.ExpiresAt = c.IssuedAt }), action: ActionUnfreeze, subject: testStack, contains: "exp is not after iat"},
		{name: "short nonce", text: claimsWith(func(c *RequestClaims) { c.Nonce = b64.EncodeToString(make([]byte, 8)) }), action: ActionUnfreeze, subject: testStack, contains: "nonce"},
		{name: "unknown field", text: signWith(requestForm, "oncall", []byte(strings.Replace(string(mustJSON(t, &c)), "{", `{"admin":true,`, 1))), action: ActionUnfreeze, subject: testStack, contains: `field "admin" is unknown`},
		{name: "duplicate field", text: signWith(requestForm, "oncall", []byte(strings.Replace(string(mustJSON(t, &c)), "{", `{"subject":"db",`, 1))), action: ActionUnfreeze, subject: testStack, contains: `field "subject" appears twice`},
		{name: "not canonical", text: signWith(requestForm, "oncall", []byte(strings.Replace(string(mustJSON(t, &c)), `,"subject"`, `, "subject"`, 1))), action: ActionUnfreeze, subject: testStack, contains: "not encoded the way plangate encodes requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			got, err := VerifyRequest(tt.text, tt.action, tt.subject, testApprovers("lead", "oncall"), now)
			require.Error(t, err)
			assert.Nil(t, got)
			var ref *RefusalError
			require.True(t, errors.As(err, &ref), "a *RefusalError, got %T", err)
			assert.Contains(t, ref.Reason, tt.contains)
			assertNoTokenIn(t, ref.Reason, tt.text)
		})
	}

	t.Run("no approvers configured", func(t *testing.T) {
		_, err := VerifyRequest(valid, ActionUnfreeze, testStack, nil, testNow)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "(approvers: none configured)")
	})
}

// TestRequestsAndTokensDoNotCross: a request never verifies as an approval
// token, nor a token as a request — not as given, and not with its prefix
// swapped, even when the payload would read as the other kind.
func TestRequestsAndTokensDoNotCross(t *testing.T) {
	approvers := testApprovers("oncall")
	facts := PlanFacts{ID: testPlanID, Stack: testStack, SHA256: testSHA, ExpiresAt: testNow.Add(time.Hour)}
	token := issue(t, "oncall")
	request := signTestRequest(t, "oncall")

	t.Run("a token is not a request", func(t *testing.T) {
		for _, text := range []string{token, "pgr1." + token[5:]} {
			_, err := VerifyRequest(text, ActionUnfreeze, testStack, approvers, testNow)
			var ref *RefusalError
			require.ErrorAs(t, err, &ref)
			assertNoTokenIn(t, ref.Reason, text)
		}
	})
	t.Run("a request is not a token", func(t *testing.T) {
		for _, text := range []string{request, "pgt1." + request[5:]} {
			_, err := Verify([]string{text}, facts, approvers, nil, testNow)
			var ref *RefusalError
			require.ErrorAs(t, err, &ref)
			assertNoTokenIn(t, ref.Reason, text)
		}
	})
	// The prefix is signed: a signature over "pgt1.<payload>" does not
	// verify "pgr1.<payload>", even for a payload of the right fields.
	t.Run("a token signature does not sign a request", func(t *testing.T) {
		c := testRequestClaims("oncall")
		asToken := signWith(tokenForm, "oncall", mustJSON(t, &c))
		swapped := "pgr1." + asToken[5:]
		req, err := ParseRequest(swapped)
		require.NoError(t, err, "the payload reads as a request")
		assert.False(t, req.VerifySignature(testKey("oncall").Public()))
		_, err = VerifyRequest(swapped, ActionUnfreeze, testStack, approvers, testNow)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "signature does not verify")
	})
	t.Run("a request signature does not sign a token", func(t *testing.T) {
		c := testClaims("oncall")
		asRequest := signWith(requestForm, "oncall", mustJSON(t, &c))
		swapped := "pgt1." + asRequest[5:]
		tok, err := Parse(swapped)
		require.NoError(t, err, "the payload reads as a token")
		assert.False(t, tok.VerifySignature(testKey("oncall").Public()))
		_, err = Verify([]string{swapped}, facts, approvers, nil, testNow)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "signature does not verify")
	})
}

// TestRequestRefusesEveryByteChange: no single changed character of a
// request parses and verifies.
func TestRequestRefusesEveryByteChange(t *testing.T) {
	valid := signTestRequest(t, "oncall")
	pub := testKey("oncall").Public()
	for i := range len(valid) {
		for _, ch := range []byte{'A', 'z', '0', '-', '_', '.', '='} {
			if valid[i] == ch {
				continue
			}
			changed := valid[:i] + string(ch) + valid[i+1:]
			if req, err := ParseRequest(changed); err == nil && req.VerifySignature(pub) {
				t.Fatalf("changing character %d to %q still gives a valid request", i, ch)
			}
		}
	}
}
