package approvals

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

// Fixed test identities: deterministic keys, so fuzz seeds and failures
// reproduce.
const (
	testPlanID  = "3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b"
	otherPlanID = "9d8c7b6a-5f4e-4d3c-8b2a-0f1e2d3c4b5a"
	testSHA     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	otherSHA    = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	testStack   = "web"
)

var testNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// testKey returns a deterministic approver key named name.
func testKey(name string) *PrivateKey {
	seed := sha256.Sum256([]byte("plangate test approver " + name))
	return &PrivateKey{Approver: name, Key: ed25519.NewKeyFromSeed(seed[:])}
}

func testApprovers(names ...string) []*config.Approver {
	var out []*config.Approver
	for _, n := range names {
		out = append(out, &config.Approver{Name: n, PublicKey: testKey(n).Public()})
	}
	return out
}

// issue makes a token for the test plan by approver name.
func issue(t testing.TB, name string) string {
	t.Helper()
	tok, _, err := Issue(testKey(name), testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, time.Hour)
	require.NoError(t, err)
	return tok
}

// testClaims are valid claims for the test plan.
func testClaims(name string) Claims {
	return Claims{
		Approver:   name,
		PlanID:     testPlanID,
		PlanSHA256: testSHA,
		Stack:      testStack,
		IssuedAt:   testNow.Unix(),
		ExpiresAt:  testNow.Add(30 * time.Minute).Unix(),
		Nonce:      b64.EncodeToString([]byte("0123456789abcdef")),
	}
}

// signClaims signs arbitrary claims, valid or not, as approver name.
func signClaims(t testing.TB, name string, c Claims) string {
	t.Helper()
	tok, err := sign(testKey(name).Key, &c)
	require.NoError(t, err)
	return tok
}

// signPayload signs arbitrary payload bytes as approver name, so that a
// test of the payload's form is not a test of its signature.
func signPayload(name string, payload []byte) string {
	signed := TokenPrefix + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(ed25519.Sign(testKey(name).Key, []byte(signed)))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
