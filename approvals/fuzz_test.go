package approvals

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
)

// fuzzPasskeyToken is a genuine pgt2 token of the test plan, from a
// software authenticator registered through the real ceremony.
func fuzzPasskeyToken(f *testing.F) string {
	auth, err := passkeytest.New()
	require.NoError(f, err)
	opts, reg, err := passkey.BeginRegistration("localhost", "alice")
	require.NoError(f, err)
	resp, err := auth.Register(opts, passkeytest.Ceremony{Origin: "http://localhost"})
	require.NoError(f, err)
	cred, err := reg.Finish("http://localhost", resp)
	require.NoError(f, err)
	payload, _, err := NewPayload("alice", testPlanID, testSHA, testStack, testNow.Add(time.Hour), testNow, 0)
	require.NoError(f, err)
	raw, err := b64.DecodeString(payload)
	require.NoError(f, err)
	opts, err = passkey.AssertionOptions("localhost", raw, []*passkey.Credential{cred})
	require.NoError(f, err)
	resp, err = auth.Assert(opts, passkeytest.Ceremony{Origin: "http://localhost"})
	require.NoError(f, err)
	tok, err := passkey.TokenFromAssertion(payload, resp)
	require.NoError(f, err)
	return tok
}

func FuzzParseToken(f *testing.F) {
	valid := signClaims(f, "oncall", testClaims("oncall"))
	issued, _, err := Issue(testKey("lead"), testPlanID, testSHA, "db", testNow.Add(time.Hour), testNow, 0)
	require.NoError(f, err)
	pk := fuzzPasskeyToken(f)
	pkParts := strings.Split(pk, ".")
	for _, seed := range []string{
		pk,
		wrap(pk, 76, "\n"),
		pk + ".",
		strings.Join(pkParts[:4], "."),
		strings.Join([]string{pkParts[0], b64.EncodeToString([]byte(`{"approver":"alice"}`)), pkParts[2], pkParts[3], pkParts[4]}, "."),
		"pgt2.e30.AAAA.AAAA.AAAA",
		valid,
		issued,
		wrap(valid, 64, "\r\n"),
		" " + valid + "\n",
		valid + "=",
		"pgt1..",
		"pgt1.e30.AAAA",
		"pgt2." + valid[5:],
		signPayload("oncall", []byte(`{"approver":"oncall"}`)),
		signPayload("oncall", []byte(`{"approver":"oncall","approver":"x"}`)),
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tok, err := Parse(text)
		norm := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, text)
		if err != nil {
			var ref *RefusalError
			if !errors.As(err, &ref) {
				t.Fatalf("Parse returned %T, not *RefusalError: %v", err, err)
			}
			if len(norm) >= 40 && strings.Contains(ref.Reason, norm) {
				t.Fatalf("refusal quotes the token: %s", ref.Reason)
			}
			return
		}
		if tok.Text != norm {
			t.Fatalf("Text %q is not the input without whitespace %q", tok.Text, norm)
		}
		payload, err := json.Marshal(&tok.Claims)
		if err != nil {
			t.Fatal(err)
		}
		again := TokenPrefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(tok.sig)
		if a := tok.assertion; a != nil {
			again = passkeytest.Token(payload, a.AuthenticatorData, a.ClientDataJSON, a.Signature)
			if len(tok.sig) != 0 {
				t.Fatalf("a pgt2 token with an Ed25519 signature")
			}
			tok.sig = make([]byte, ed25519.SignatureSize) // for the shape check below
		}
		if again != tok.Text {
			t.Fatalf("re-serialized token differs:\n got %q\nwant %q", again, tok.Text)
		}
		if err := tok.Claims.validate(); err != nil {
			t.Fatalf("parsed claims are not valid: %v", err)
		}
		if len(tok.sig) != ed25519.SignatureSize || !strings.HasPrefix(tok.Fingerprint(), "sha256:") {
			t.Fatalf("bad token: %v", tok)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	valid := signTestRequest(f, "oncall")
	all, err := SignRequest(testKey("lead"), ActionUnfreeze, SubjectAllStacks, testNow)
	require.NoError(f, err)
	c := testRequestClaims("oncall")
	for _, seed := range []string{
		valid,
		all,
		wrap(valid, 64, "\r\n"),
		valid + "=",
		"pgr1..",
		"pgr1.e30.AAAA",
		"pgr2." + valid[5:],
		"pgt1." + valid[5:],
		issue(f, "oncall"),
		signWith(requestForm, "oncall", mustJSON(f, &c)),
		signWith(requestForm, "oncall", []byte(`{"approver":"oncall","approver":"x"}`)),
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		req, err := ParseRequest(text)
		norm := strings.Join(strings.FieldsFunc(text, unicode.IsSpace), "")
		if err != nil {
			var ref *RefusalError
			if !errors.As(err, &ref) {
				t.Fatalf("ParseRequest returned %T, not *RefusalError: %v", err, err)
			}
			if len(norm) >= 40 && strings.Contains(ref.Reason, norm) {
				t.Fatalf("refusal quotes the request: %s", ref.Reason)
			}
			if _, err := VerifyRequest(text, ActionUnfreeze, testStack, testApprovers("oncall", "lead"), testNow); err == nil {
				t.Fatalf("VerifyRequest accepts what ParseRequest refuses")
			}
			return
		}
		if req.Text != norm {
			t.Fatalf("Text %q is not the input without whitespace %q", req.Text, norm)
		}
		payload, err := json.Marshal(&req.Claims)
		if err != nil {
			t.Fatal(err)
		}
		if again := RequestPrefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(req.sig); again != req.Text {
			t.Fatalf("re-serialized request differs:\n got %q\nwant %q", again, req.Text)
		}
		if err := req.Claims.validate(); err != nil {
			t.Fatalf("parsed claims are not valid: %v", err)
		}
		if _, err := Parse(text); err == nil {
			t.Fatalf("a request parses as an approval token")
		}
	})
}

var errNoPassphrase = errors.New("no passphrase while fuzzing")

func FuzzReadPrivateKey(f *testing.F) {
	dir := f.TempDir()
	for i, pass := range []string{"", "pw"} {
		p := filepath.Join(dir, "seed"+string(rune('0'+i)))
		require.NoError(f, WritePrivateKey(p, "oncall", testKey("oncall").Key, []byte(pass)))
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"plangate_approver_key":1}`))
	f.Add([]byte(`{"plangate_approver_key":1,"plangate_approver_key":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// Deriving a key costs ~100 ms by design, which would stall the
		// fuzzer: the passphrase prompt fails instead, so the fuzzer covers
		// everything up to the decryption (TestReadPrivateKeyRefusesAlteredFiles
		// covers decryption). It must be asked only of encrypted files.
		asked := false
		k, err := ReadPrivateKey(path, func() ([]byte, error) {
			asked = true
			return nil, errNoPassphrase
		})
		if asked && !strings.Contains(string(data), EncryptionScrypt) {
			t.Fatalf("passphrase asked for a file that is not encrypted")
		}
		if err != nil {
			return
		}
		if len(k.Key) != ed25519.PrivateKeySize || !namePattern.MatchString(k.Approver) {
			t.Fatalf("accepted an invalid key: %v", k)
		}
		var file struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("accepted a file that is not JSON: %v", err)
		}
		pub, err := config.ParsePublicKey(file.PublicKey)
		if err != nil || !pub.Equal(k.Public()) {
			t.Fatalf("accepted a key that does not match its public_key")
		}
	})
}

func FuzzMatchAddress(f *testing.F) {
	for _, seed := range [][2]string{
		{"aws_db_instance.main", "aws_db_instance.main"},
		{"aws_instance.web[*]", `aws_instance.web["a.b[c]"]`},
		{"module.data.*", "module.data.module.x.aws_s3_bucket.b[0]"},
		{"module.*.aws_db_instance.main", `module.b["x"].aws_db_instance.main`},
		{`aws_s3_bucket.b["say \"hi\""]`, `aws_s3_bucket.b["say \"hi\""]`},
		{"aws_db_*.main", "data.aws_db_instance.main"},
		{"*", "x"},
		{"a.b[", "a.b["},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, address string) {
		got := MatchAddress(pattern, address)
		if !MatchAddress(address, address) {
			t.Fatalf("address %q does not match itself", address)
		}
		patErr := ValidatePattern(pattern)
		if (patErr == nil) != (func() bool { _, err := parseAddress(pattern, true); return err == nil }()) {
			t.Fatalf("ValidatePattern disagrees with the parser on %q", pattern)
		}
		addr, addrErr := parseAddress(address, false)
		if addrErr != nil {
			if got != (pattern == address) {
				t.Fatalf("non-address %q matched by %q: %v", address, pattern, got)
			}
			return
		}
		if patErr != nil && got {
			t.Fatalf("invalid pattern %q matched %q", pattern, address)
		}
		// Every address is a valid pattern, and the subtree pattern '*'
		// matches it.
		if err := ValidatePattern(address); err != nil {
			t.Fatalf("address %q is not a valid pattern: %v", address, err)
		}
		if !MatchAddress("*", address) {
			t.Fatalf("* does not match %q", address)
		}
		// Dropping the resource's instance key only widens a pattern.
		if got && patErr == nil {
			p, _ := parseAddress(pattern, true)
			if p.resource != nil && p.resource.hasKey {
				p.resource.hasKey, p.resource.key = false, ""
				if !p.match(addr) {
					t.Fatalf("%q matches %q but not without its key", pattern, address)
				}
			}
		}
	})
}
