package passkey_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
)

// seedToken is a genuine pgt2 token and the credential that made it.
func seedToken(f *testing.F) (string, *passkey.Credential) {
	auth, err := passkeytest.New()
	require.NoError(f, err)
	opts, reg, err := passkey.BeginRegistration("localhost", "alice")
	require.NoError(f, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: origin})
	require.NoError(f, err)
	cred, err := reg.Finish(origin, resp)
	require.NoError(f, err)
	payload := []byte(`{"approver":"alice","plan_id":"p"}`)
	opts, err = passkey.AssertionOptions("localhost", payload, []*passkey.Credential{cred})
	require.NoError(f, err)
	resp, err = auth.Assert(opts, passkeytest.Ceremony{Origin: origin})
	require.NoError(f, err)
	tok, err := passkey.TokenFromAssertion(b64.EncodeToString(payload), resp)
	require.NoError(f, err)
	return tok, cred
}

// FuzzParseToken: whatever the text, ParseToken does not panic; a token it
// takes is the input without whitespace, re-encodes to exactly that, and
// Verify on it (with the seed's credential) does not panic either.
//
//	go test ./passkey -run '^$' -fuzz FuzzParseToken -fuzztime 1m
func FuzzParseToken(f *testing.F) {
	tok, cred := seedToken(f)
	parts := strings.Split(tok, ".")
	for _, s := range []string{
		tok,
		" " + tok[:50] + "\n" + tok[50:] + "\t",
		tok + "=",
		tok + ".",
		strings.Join(parts[:4], "."),
		"pgt2.AA.AA.AA.AA",
		"pgt2....",
		"pgt1." + tok[5:],
		"pgt2." + strings.Repeat("A", 3000) + ".AA.AA.AA",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		a, err := passkey.ParseToken(text)
		if err != nil {
			norm := strings.Join(strings.FieldsFunc(text, unicode.IsSpace), "")
			if len(norm) > 40 && strings.Contains(err.Error(), norm) {
				t.Fatalf("the error quotes the token")
			}
			return
		}
		norm := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, text)
		if a.Text != norm || len(a.Text) > passkey.MaxTokenLength {
			t.Fatalf("Text is not the input without whitespace, or too long")
		}
		if again := passkeytest.Token(a.Payload, a.AuthenticatorData, a.ClientDataJSON, a.Signature); again != a.Text {
			t.Fatalf("re-encoded token differs:\n got %q\nwant %q", again, a.Text)
		}
		if _, err := cred.Verify(a); err != nil && text != tok && strings.Contains(err.Error(), a.Text) {
			t.Fatalf("Verify's error quotes the token")
		}
	})
}

// FuzzParseCredential: whatever the text, ParseCredential does not panic;
// a credential it takes round-trips through String exactly and holds a
// key plangate verifies with.
//
//	go test ./passkey -run '^$' -fuzz FuzzParseCredential -fuzztime 1m
func FuzzParseCredential(f *testing.F) {
	_, cred := seedToken(f)
	good := cred.String()
	parts := strings.Split(good, ":")
	for _, s := range []string{
		good,
		"webauthn:example.com:443:" + parts[3] + ":" + parts[4],
		"webauthn:localhost:7473:" + parts[3] + ":" + parts[4] + "AA",
		"webauthn:localhost:7473:" + parts[3] + ":pQECAyYgASFYIA",
		"webauthn:localhost:" + parts[3] + ":" + parts[4],
		"webauthn:localhost:7473:AA:oA",
		"webauthn:localhost:7473:AA:pAEBAycgBiFYIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // EdDSA
		"webauthn:LocalHost:7473:AA:AA",
		"webauthn::7473:AA:AA",
		"ed25519:AAAA",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := passkey.ParseCredential(text)
		if err != nil {
			return
		}
		if c.String() != text {
			t.Fatalf("String() = %q, not the text parsed %q", c.String(), text)
		}
		back, err := passkey.ParseCredential(c.String())
		if err != nil || !back.Equal(c) || back.Algorithm != c.Algorithm {
			t.Fatalf("the credential does not read back: %v", err)
		}
		if c.AlgorithmName() == "" || passkey.ValidRPID(c.RPID) != nil || len(c.ID) == 0 {
			t.Fatalf("accepted a credential plangate cannot use: %+v", c)
		}
	})
}
