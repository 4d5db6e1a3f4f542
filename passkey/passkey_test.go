package passkey_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
)

const origin = "http://localhost:8711"

var b64 = base64.RawURLEncoding

// register runs a genuine registration of a fresh test authenticator.
func register(t *testing.T, rpID, origin string) (*passkeytest.TestAuthenticator, *passkey.Credential) {
	t.Helper()
	auth, err := passkeytest.New()
	require.NoError(t, err)
	opts, reg, err := passkey.BeginRegistration(rpID, "alice")
	require.NoError(t, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: origin})
	require.NoError(t, err)
	cred, err := reg.Finish(origin, resp)
	require.NoError(t, err)
	return auth, cred
}

func TestRegisterAssertVerify(t *testing.T) {
	auth, cred := register(t, "localhost", origin)
	assert.Equal(t, auth.CredentialID, cred.ID)
	assert.Equal(t, "ES256", cred.AlgorithmName())

	text := cred.String()
	assert.True(t, strings.HasPrefix(text, "webauthn:localhost:8711:"), text)
	assert.Equal(t, origin, cred.Origin(), "pinned to the page it was registered on")
	back, err := passkey.ParseCredential(text)
	require.NoError(t, err)
	assert.True(t, back.Equal(cred))
	assert.Equal(t, text, back.String())

	payload := []byte(`{"approver":"alice","plan_id":"x"}`)
	opts, err := passkey.AssertionOptions("localhost", payload, []*passkey.Credential{cred})
	require.NoError(t, err)
	var o struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			UserVerification string `json:"userVerification"`
			RPID             string `json:"rpId"`
		} `json:"publicKey"`
	}
	require.NoError(t, json.Unmarshal(opts, &o))
	assert.Equal(t, b64.EncodeToString(passkey.Challenge(payload)), o.PublicKey.Challenge)
	assert.Equal(t, "required", o.PublicKey.UserVerification)
	assert.Equal(t, "localhost", o.PublicKey.RPID)

	resp, err := auth.Assert(opts, passkeytest.Ceremony{Origin: origin})
	require.NoError(t, err)
	tok, err := passkey.TokenFromAssertion(b64.EncodeToString(payload), resp)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok, "pgt2."))

	// Pasted wrapped across lines, it still parses.
	a, err := passkey.ParseToken(tok[:100] + "\n  " + tok[100:])
	require.NoError(t, err)
	assert.Equal(t, tok, a.Text)
	assert.Equal(t, payload, a.Payload)
	counter, err := back.Verify(a)
	require.NoError(t, err)
	assert.Equal(t, auth.Counter, counter)
	assert.NotZero(t, counter)
}

func TestTokenFromAssertionRefusesOtherPayload(t *testing.T) {
	auth, cred := register(t, "localhost", origin)
	opts, err := passkey.AssertionOptions("localhost", []byte(`{"a":1}`), []*passkey.Credential{cred})
	require.NoError(t, err)
	resp, err := auth.Assert(opts, passkeytest.Ceremony{Origin: origin})
	require.NoError(t, err)
	_, err = passkey.TokenFromAssertion(b64.EncodeToString([]byte(`{"a":2}`)), resp)
	assert.ErrorContains(t, err, "different challenge")
}

func TestVerifyRefuses(t *testing.T) {
	auth, cred := register(t, "localhost", origin)
	_, other := register(t, "localhost", origin)
	payload := []byte(`{"approver":"alice"}`)
	ch := passkey.Challenge(payload)
	cases := []struct {
		name    string
		c       passkeytest.Ceremony
		cred    *passkey.Credential
		payload []byte
		want    string
	}{
		{name: "payload altered", payload: []byte(`{"approver":"bob"}`), want: "different challenge"},
		{name: "challenge of another payload", c: passkeytest.Ceremony{Challenge: passkey.Challenge([]byte("x"))}, want: "different challenge"},
		{name: "UV missing", c: passkeytest.Ceremony{Flags: passkeytest.FlagUP}, want: "UV flag not set"},
		{name: "UP missing", c: passkeytest.Ceremony{Flags: passkeytest.FlagUV}, want: "UP flag not set"},
		{name: "other site", c: passkeytest.Ceremony{Origin: "https://evil.example"}, want: "not the passkey's site"},
		{name: "look-alike host", c: passkeytest.Ceremony{Origin: "http://localhost.evil.example"}, want: "not the passkey's site"},
		{name: "http on a real host", c: passkeytest.Ceremony{Origin: "http://plangate.example.com"}, cred: hostCred(t, cred, "plangate.example.com"), want: "not https"},
		{name: "another port of localhost (a look-alike page an agent serves)", c: passkeytest.Ceremony{Origin: "http://localhost:9999"}, want: "than http://localhost:8711"},
		{name: "localhost without a port", c: passkeytest.Ceremony{Origin: "http://localhost"}, want: "than http://localhost:8711"},
		{name: "cross-origin frame", c: passkeytest.Ceremony{CrossOrigin: true}, want: "cross-origin"},
		{name: "registration instead of assertion", c: passkeytest.Ceremony{Type: "webauthn.create"}, want: `"webauthn.get"`},
		{name: "rp id hash of another site", c: passkeytest.Ceremony{RPID: "example.com"}, want: "RP ID hash mismatch"},
		{name: "another passkey", cred: other, want: "signature does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.Origin == "" {
				tc.c.Origin = origin
			}
			c := cred
			if tc.cred != nil {
				c = tc.cred
			}
			ad, cd, sig, err := auth.Sign(c.RPID, ch, tc.c)
			require.NoError(t, err)
			p := payload
			if tc.payload != nil {
				p = tc.payload
			}
			a, err := passkey.ParseToken(passkeytest.Token(p, ad, cd, sig))
			require.NoError(t, err)
			_, err = c.Verify(a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("genuine, for contrast", func(t *testing.T) {
		ad, cd, sig, err := auth.Sign("localhost", ch, passkeytest.Ceremony{Origin: origin})
		require.NoError(t, err)
		a, err := passkey.ParseToken(passkeytest.Token(payload, ad, cd, sig))
		require.NoError(t, err)
		_, err = cred.Verify(a)
		assert.NoError(t, err)
	})
	t.Run("signature over altered authenticator data", func(t *testing.T) {
		ad, cd, sig, err := auth.Sign("localhost", ch, passkeytest.Ceremony{Origin: origin})
		require.NoError(t, err)
		ad[36]++ // the counter's last byte
		a, err := passkey.ParseToken(passkeytest.Token(payload, ad, cd, sig))
		require.NoError(t, err)
		_, err = cred.Verify(a)
		assert.ErrorContains(t, err, "signature does not verify")
	})
}

// hostCred is cred scoped to another RP ID (the key is the same).
func hostCred(t *testing.T, cred *passkey.Credential, rpID string) *passkey.Credential {
	t.Helper()
	c, err := passkey.ParseCredential(strings.Replace(cred.String(), ":localhost:", ":"+rpID+":", 1))
	require.NoError(t, err)
	return c
}

func TestFinishRefuses(t *testing.T) {
	cases := []struct {
		name       string
		c          passkeytest.Ceremony
		pageOrigin string
		want       string
	}{
		{name: "UV missing", c: passkeytest.Ceremony{Flags: passkeytest.FlagUP | passkeytest.FlagAT}, want: "did not verify the user"},
		{name: "UP missing", c: passkeytest.Ceremony{Flags: passkeytest.FlagUV | passkeytest.FlagAT}, want: "present"},
		{name: "other challenge", c: passkeytest.Ceremony{Challenge: []byte("0123456789abcdef0123456789abcdef")}, want: "does not verify"},
		{name: "browser on another origin", c: passkeytest.Ceremony{Origin: "http://localhost:9999"}, want: "does not verify"},
		{name: "page not on the rp id", pageOrigin: "https://evil.example", want: "not the passkey's site"},
		{name: "rp id hash of another site", c: passkeytest.Ceremony{RPID: "example.com"}, want: "does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := passkeytest.New()
			require.NoError(t, err)
			opts, reg, err := passkey.BeginRegistration("localhost", "alice")
			require.NoError(t, err)
			if tc.c.Origin == "" {
				tc.c.Origin = origin
			}
			if tc.pageOrigin == "" {
				tc.pageOrigin = origin
			}
			resp, err := auth.Register(opts, tc.c)
			require.NoError(t, err)
			_, err = reg.Finish(tc.pageOrigin, resp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOriginAllowed(t *testing.T) {
	for _, tc := range []struct {
		origin, rpID string
		ok           bool
	}{
		{"http://localhost", "localhost", true},
		{"http://localhost:49152", "localhost", true},
		{"https://localhost:8443", "localhost", true},
		{"https://review.example.com", "review.example.com", true},
		{"https://review.example.com:8443", "review.example.com", true},
		{"http://review.example.com", "review.example.com", false},
		{"https://example.com", "review.example.com", false},
		{"https://review.example.com.evil.test", "review.example.com", false},
		{"https://user@review.example.com", "review.example.com", false},
		{"https://review.example.com/path", "review.example.com", false},
		{"https://review.example.com:x", "review.example.com", false},
		{"ftp://localhost", "localhost", false},
		{"localhost", "localhost", false},
	} {
		err := passkey.OriginAllowed(tc.origin, tc.rpID)
		assert.Equal(t, tc.ok, err == nil, "%s for %s: %v", tc.origin, tc.rpID, err)
	}
}

func TestParseCredentialRefuses(t *testing.T) {
	_, cred := register(t, "localhost", origin)
	good := cred.String()
	parts := strings.Split(good, ":")
	for name, text := range map[string]string{
		"empty":       "",
		"ed25519 key": "ed25519:AAAA",
		"missing key": strings.Join(parts[:4], ":"),
		"extra part":  good + ":AA",
		"padding":     good + "=",
		"no port (any page of localhost could use it)": "webauthn:localhost:" + parts[3] + ":" + parts[4],
		"port zero":        "webauthn:localhost:0:" + parts[3] + ":" + parts[4],
		"port too big":     "webauthn:localhost:65536:" + parts[3] + ":" + parts[4],
		"port with sign":   "webauthn:localhost:+8711:" + parts[3] + ":" + parts[4],
		"port leading 0":   "webauthn:localhost:08711:" + parts[3] + ":" + parts[4],
		"upper-case rp id": "webauthn:LOCALHOST:8711:" + parts[3] + ":" + parts[4],
		"ip rp id":         "webauthn:127.0.0.1:8711:" + parts[3] + ":" + parts[4],
		"key not cose":     "webauthn:localhost:8711:" + parts[3] + ":" + b64.EncodeToString([]byte("not cbor")),
		"key with trailer": good + "AA",
		"too long":         "webauthn:localhost:" + strings.Repeat("A", passkey.MaxCredentialLength),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := passkey.ParseCredential(text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "passkey")
		})
	}
}

// An EdDSA passkey (some security keys) verifies through go-webauthn too:
// a hand-made COSE OKP key and Ed25519 signature.
func TestVerifyEdDSA(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	cose := append([]byte{0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20}, pub...)
	cred, err := passkey.ParseCredential("webauthn:localhost:9000:" + b64.EncodeToString([]byte("ed-key")) + ":" + b64.EncodeToString(cose))
	require.NoError(t, err)
	assert.Equal(t, "EdDSA", cred.AlgorithmName())

	payload := []byte(`{"approver":"alice"}`)
	cd := []byte(`{"type":"webauthn.get","challenge":"` + b64.EncodeToString(passkey.Challenge(payload)) + `","origin":"http://localhost:9000"}`)
	rpHash := sha256.Sum256([]byte("localhost"))
	ad := append(rpHash[:], passkeytest.FlagUP|passkeytest.FlagUV, 0, 0, 0, 7)
	cdHash := sha256.Sum256(cd)
	sig := ed25519.Sign(priv, append(append([]byte{}, ad...), cdHash[:]...))
	a, err := passkey.ParseToken(passkeytest.Token(payload, ad, cd, sig))
	require.NoError(t, err)
	counter, err := cred.Verify(a)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), counter)

	sig[0] ^= 1
	a, err = passkey.ParseToken(passkeytest.Token(payload, ad, cd, sig))
	require.NoError(t, err)
	_, err = cred.Verify(a)
	assert.ErrorContains(t, err, "signature does not verify")
}

func TestApproverBlockLoadsBack(t *testing.T) {
	_, cred := register(t, "localhost", origin)
	block := cred.ApproverBlock("alice")
	assert.True(t, strings.HasPrefix(block, "approver \"alice\" {\n  passkey = \"webauthn:localhost:"), block)
	assert.Contains(t, block, cred.String())
}
