package approvals

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIssueAndParse(t *testing.T) {
	k := testKey("oncall")
	text, claims, err := Issue(k, testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, 30*time.Minute)
	require.NoError(t, err)

	assert.True(t, strings.HasPrefix(text, "pgt1."))
	assert.Len(t, strings.Split(text, "."), 3)
	assert.NotContains(t, text, "=", "no padding")
	assert.Less(t, len(text), MaxTokenLength)

	tok, err := Parse(text)
	require.NoError(t, err)
	assert.Equal(t, *claims, tok.Claims)
	assert.Equal(t, text, tok.Text)
	assert.Equal(t, Claims{
		Approver: "oncall", PlanID: testPlanID, PlanSHA256: testSHA, Stack: testStack,
		IssuedAt: testNow.Unix(), ExpiresAt: testNow.Add(30 * time.Minute).Unix(), Nonce: claims.Nonce,
	}, tok.Claims)
	nonce, err := base64.RawURLEncoding.DecodeString(claims.Nonce)
	require.NoError(t, err)
	assert.Len(t, nonce, 16)

	assert.True(t, tok.VerifySignature(k.Public()))
	assert.False(t, tok.VerifySignature(testKey("lead").Public()), "another approver's key")
	assert.False(t, tok.VerifySignature(nil))

	again, _, err := Issue(k, testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, 30*time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, text, again, "each token has its own nonce")
}

func TestIssueExpiry(t *testing.T) {
	tests := []struct {
		name        string
		planExpires time.Time
		ttl         time.Duration
		wantExp     time.Time
		wantErr     string
	}{
		{name: "ttl ends first", planExpires: testNow.Add(time.Hour), ttl: 10 * time.Minute, wantExp: testNow.Add(10 * time.Minute)},
		{name: "plan ends first", planExpires: testNow.Add(time.Hour), ttl: 2 * time.Hour, wantExp: testNow.Add(time.Hour)},
		{name: "no ttl: the plan's expiry", planExpires: testNow.Add(time.Hour), ttl: 0, wantExp: testNow.Add(time.Hour)},
		{name: "sub-second plan expiry rounds down", planExpires: testNow.Add(time.Hour + 900*time.Millisecond), ttl: 2 * time.Hour, wantExp: testNow.Add(time.Hour)},
		{name: "plan expired", planExpires: testNow.Add(-time.Second), ttl: time.Hour, wantErr: "expired at 2026-03-14T11:59:59Z"},
		{name: "plan expires now", planExpires: testNow, ttl: time.Hour, wantErr: "can no longer be approved"},
		{name: "plan expires within the second", planExpires: testNow.Add(500 * time.Millisecond), ttl: time.Hour, wantErr: "less than a second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, c, err := Issue(testKey("oncall"), testPlanID, testSHA, testStack, tt.planExpires, testNow, tt.ttl)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Empty(t, text)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantExp.Unix(), c.ExpiresAt)
			assert.LessOrEqual(t, c.ExpiresAt, tt.planExpires.Unix(), "never later than the plan")
		})
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	exp := testNow.Add(time.Hour)
	tests := []struct {
		name               string
		key                *PrivateKey
		planID, sha, stack string
		contains           string
	}{
		{name: "no key", key: nil, planID: testPlanID, sha: testSHA, stack: testStack, contains: "no valid approver key"},
		{name: "plan id prefix", key: testKey("oncall"), planID: testPlanID[:8], sha: testSHA, stack: testStack, contains: "plan_id"},
		{name: "upper-case sha", key: testKey("oncall"), planID: testPlanID, sha: strings.ToUpper(testSHA), stack: testStack, contains: "plan_sha256"},
		{name: "bad stack", key: testKey("oncall"), planID: testPlanID, sha: testSHA, stack: "Web", contains: "stack"},
		{name: "bad approver", key: &PrivateKey{Approver: "", Key: testKey("x").Key}, planID: testPlanID, sha: testSHA, stack: testStack, contains: "approver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Issue(tt.key, tt.planID, tt.sha, tt.stack, exp, testNow, time.Hour)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.contains)
		})
	}
}

// TestParseAcceptsPastedWhitespace: humans paste tokens wrapped across
// lines, indented, or with a trailing newline.
func TestParseAcceptsPastedWhitespace(t *testing.T) {
	text := issue(t, "oncall")
	want, err := Parse(text)
	require.NoError(t, err)
	tests := map[string]string{
		"trailing newline":     text + "\n",
		"crlf wrapped at 64":   wrap(text, 64, "\r\n"),
		"wrapped and indented": wrap(text, 40, "\n    "),
		"tabs and spaces":      " \t" + text[:10] + " " + text[10:200] + "\t" + text[200:] + "  ",
		"non-breaking space":   text[:50] + "\u00a0" + text[50:],
	}
	for name, pasted := range tests {
		t.Run(name, func(t *testing.T) {
			tok, err := Parse(pasted)
			require.NoError(t, err)
			assert.Equal(t, text, tok.Text)
			assert.Equal(t, want.Fingerprint(), tok.Fingerprint())
			assert.True(t, tok.VerifySignature(testKey("oncall").Public()))
		})
	}
}

func wrap(s string, width int, sep string) string {
	var parts []string
	for len(s) > width {
		parts = append(parts, s[:width])
		s = s[width:]
	}
	return strings.Join(append(parts, s), sep)
}

// TestParseRefuses: every change to a token other than whitespace fails,
// with a reason that does not quote the token.
func TestParseRefuses(t *testing.T) {
	// Deterministic (Ed25519 signatures are), so every case is the same
	// on every run.
	valid := signClaims(t, "oncall", testClaims("oncall"))
	require.True(t, strings.ContainsAny(valid, "-_"), "the standard-alphabet case needs a '-' or '_' to change")
	parts := strings.Split(valid, ".")
	payloadB64, sigB64 := parts[1], parts[2]
	c := testClaims("oncall")
	payload := string(mustJSON(t, c))

	// withClaim re-signs the payload with one field replaced by raw JSON.
	withField := func(field, raw string) string {
		m := map[string]string{}
		for _, f := range claimFields {
			m[f] = ""
		}
		var b strings.Builder
		b.WriteString("{")
		for i, f := range claimFields {
			if i > 0 {
				b.WriteString(",")
			}
			v := string(mustJSON(t, map[string]any{
				"approver": c.Approver, "plan_id": c.PlanID, "plan_sha256": c.PlanSHA256, "stack": c.Stack,
				"iat": c.IssuedAt, "exp": c.ExpiresAt, "nonce": c.Nonce,
			}[f]))
			if f == field {
				v = raw
			}
			fmt.Fprintf(&b, "%q:%s", f, v)
		}
		b.WriteString("}")
		return signPayload("oncall", []byte(b.String()))
	}
	claimsWith := func(f func(c *Claims)) string {
		cc := c
		f(&cc)
		return signClaims(t, "oncall", cc)
	}

	tests := []struct {
		name     string
		text     string
		contains string
	}{
		{name: "empty", text: "", contains: "it is empty"},
		{name: "only whitespace", text: " \n\t", contains: "it is empty"},
		{name: "random text", text: "hello", contains: "does not start with pgt1."},
		{name: "upper-case prefix", text: "PGT1." + valid[5:], contains: "does not start with pgt1."},
		{name: "other version", text: "pgt3." + valid[5:], contains: "not a version this plangate reads"},
		{name: "prefix without dot", text: "pgt1" + valid[5:], contains: "not a version"},
		{name: "signature missing", text: "pgt1." + payloadB64, contains: "2 dot-separated parts"},
		{name: "trailing dot", text: valid + ".", contains: "4 dot-separated parts"},
		{name: "extra part", text: valid + ".AAAA", contains: "4 dot-separated parts"},
		{name: "empty payload", text: "pgt1.." + sigB64, contains: "payload is empty"},
		{name: "padding on signature", text: valid + "==", contains: "signature is not unpadded base64url"},
		{name: "padding on payload", text: "pgt1." + base64.URLEncoding.EncodeToString([]byte(payload)) + "." + sigB64, contains: "payload is not unpadded base64url"},
		{name: "standard alphabet", text: "pgt1." + strings.NewReplacer("-", "+", "_", "/").Replace(payloadB64+"."+sigB64), contains: "not unpadded base64url"},
		{name: "non-canonical trailing bits", text: valid[:len(valid)-1] + flipLowBits(valid[len(valid)-1:]), contains: "signature is not unpadded base64url"},
		{name: "zero-width space", text: valid[:30] + "\u200b" + valid[30:], contains: "not unpadded base64url"},
		{name: "invalid utf-8", text: valid[:30] + "\xff" + valid[30:], contains: "not text"},
		{name: "short signature", text: "pgt1." + payloadB64 + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 63)), contains: "63 bytes, not 64"},
		{name: "long signature", text: "pgt1." + payloadB64 + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 65)), contains: "65 bytes, not 64"},
		{name: "too long", text: "pgt1." + strings.Repeat("A", MaxTokenLength), contains: "more than a plangate token"},
		{name: "far too long", text: strings.Repeat(" ", maxPastedLength+1), contains: "far too long"},
		{name: "payload not json", text: signPayload("oncall", []byte("approver=oncall")), contains: "not valid JSON"},
		{name: "payload array", text: signPayload("oncall", []byte(`[1]`)), contains: "not a JSON object"},
		{name: "payload with trailing data", text: signPayload("oncall", []byte(payload+"{}")), contains: "after the JSON value"},
		{name: "unknown field", text: signPayload("oncall", []byte(strings.Replace(payload, "{", `{"admin":true,`, 1))), contains: `field "admin" is unknown`},
		{name: "duplicate field", text: signPayload("oncall", []byte(strings.Replace(payload, "{", `{"stack":"db",`, 1))), contains: `field "stack" appears twice`},
		{name: "field in other case", text: signPayload("oncall", []byte(strings.Replace(payload, `"stack"`, `"Stack"`, 1))), contains: `field "stack" is missing`},
		{name: "missing field", text: signPayload("oncall", []byte(strings.Replace(payload, `,"stack":"web"`, "", 1))), contains: `field "stack" is missing`},
		{name: "whitespace in json", text: signPayload("oncall", []byte(strings.Replace(payload, `,"stack"`, `, "stack"`, 1))), contains: "not encoded the way plangate encodes"},
		{name: "fields reordered", text: withReorder(t, c), contains: "not encoded the way plangate encodes"},
		{name: "escaped character", text: signPayload("oncall", []byte(strings.Replace(payload, `"web"`, `"w\u0065b"`, 1))), contains: "not encoded the way plangate encodes"},
		{name: "iat as string", text: withField("iat", `"1773489600"`), contains: "wrong type"},
		{name: "iat as float", text: withField("iat", `1773489600.0`), contains: "wrong type"},
		{name: "iat in exponent form", text: withField("iat", `1.7734896e9`), contains: "wrong type"},
		{name: "null stack", text: withField("stack", `null`), contains: "stack is not a valid stack name"},
		{name: "nested object", text: withField("stack", `{"a":1}`), contains: "wrong type"},
		{name: "plan id prefix", text: claimsWith(func(c *Claims) { c.PlanID = c.PlanID[:8] }), contains: "plan_id"},
		{name: "plan id upper case", text: claimsWith(func(c *Claims) { c.PlanID = strings.ToUpper(c.PlanID) }), contains: "plan_id"},
		{name: "plan id not v4", text: claimsWith(func(c *Claims) { c.PlanID = "3f2b8c1e-5a4d-1e6f-9b7a-1c2d3e4f5a6b" }), contains: "plan_id"},
		{name: "short sha", text: claimsWith(func(c *Claims) { c.PlanSHA256 = c.PlanSHA256[:63] }), contains: "plan_sha256"},
		{name: "upper-case sha", text: claimsWith(func(c *Claims) { c.PlanSHA256 = strings.ToUpper(c.PlanSHA256) }), contains: "plan_sha256"},
		{name: "bad stack name", text: claimsWith(func(c *Claims) { c.Stack = "../web" }), contains: "stack"},
		{name: "bad approver name", text: claimsWith(func(c *Claims) { c.Approver = "On Call" }), contains: "approver"},
		{name: "exp equals iat", text: claimsWith(func(c *Claims) { c.ExpiresAt = c.IssuedAt }), contains: "exp is not after iat"},
		{name: "exp before iat", text: claimsWith(func(c *Claims) { c.ExpiresAt = c.IssuedAt - 1 }), contains: "exp is not after iat"},
		{name: "zero iat", text: claimsWith(func(c *Claims) { c.IssuedAt = 0 }), contains: "iat"},
		{name: "lives longer than a plan may", text: claimsWith(func(c *Claims) { c.ExpiresAt = c.IssuedAt + 169*3600 }), contains: "longer than a plan may"},
		{name: "short nonce", text: claimsWith(func(c *Claims) { c.Nonce = b64.EncodeToString(make([]byte, 15)) }), contains: "nonce"},
		{name: "empty nonce", text: claimsWith(func(c *Claims) { c.Nonce = "" }), contains: "nonce"},
		{name: "padded nonce", text: claimsWith(func(c *Claims) { c.Nonce = base64.URLEncoding.EncodeToString(make([]byte, 16)) }), contains: "nonce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Parse(tt.text)
			require.Error(t, err)
			assert.Nil(t, tok)
			var ref *RefusalError
			require.True(t, errors.As(err, &ref), "a *RefusalError, got %T", err)
			assert.Contains(t, ref.Reason, tt.contains)
			assert.Contains(t, ref.Reason, "plangate approve", "says what the human can do")
			assertNoTokenIn(t, ref.Reason, tt.text)
		})
	}
}

// flipLowBits changes the unused low bits of the last base64 character of
// a 64-byte signature (2 data bits, 4 unused).
func flipLowBits(last string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.Index(alphabet, last)
	return string(alphabet[i^1])
}

func withReorder(t *testing.T, c Claims) string {
	p := fmt.Sprintf(`{"plan_id":%q,"approver":%q,"plan_sha256":%q,"stack":%q,"iat":%d,"exp":%d,"nonce":%q}`,
		c.PlanID, c.Approver, c.PlanSHA256, c.Stack, c.IssuedAt, c.ExpiresAt, c.Nonce)
	return signPayload("oncall", []byte(p))
}

// assertNoTokenIn checks that a message quotes no part of a token: neither
// whole nor any of its dot-separated parts longer than a few characters.
func assertNoTokenIn(t *testing.T, msg, token string) {
	t.Helper()
	norm := strings.Join(strings.Fields(token), "")
	if len(norm) > 16 {
		assert.NotContains(t, msg, norm)
	}
	for _, part := range strings.Split(norm, ".") {
		if len(part) > 16 {
			assert.NotContains(t, msg, part[:16])
		}
	}
}

// TestParseRefusesEveryByteChange changes each character of a valid token
// in turn (a forged or mistyped token): nothing may parse and verify.
func TestParseRefusesEveryByteChange(t *testing.T) {
	valid := issue(t, "oncall")
	pub := testKey("oncall").Public()
	for i := range len(valid) {
		for _, ch := range []byte{'A', 'z', '0', '-', '_', '.', '='} {
			if valid[i] == ch {
				continue
			}
			changed := valid[:i] + string(ch) + valid[i+1:]
			tok, err := Parse(changed)
			if err == nil && tok.VerifySignature(pub) {
				t.Fatalf("changing character %d to %q still gives a valid token", i, ch)
			}
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, err := Parse(issue(t, "oncall"))
	require.NoError(t, err)
	b, err := Parse(issue(t, "oncall"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^sha256:[0-9a-f]{16}$`), a.Fingerprint())
	assert.NotEqual(t, a.Fingerprint(), b.Fingerprint())
	assertNoTokenIn(t, a.Fingerprint(), a.Text)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", a, a, a, a)} {
		assert.Contains(t, out, a.Fingerprint())
		assertNoTokenIn(t, out, a.Text)
	}
}
