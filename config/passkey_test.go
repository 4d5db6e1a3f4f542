package config

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/passkeytest"
	"github.com/plangate/plangate/passkey"
)

// Two genuine ES256 credentials (from passkeytest), fixed so that fuzz
// seeds reproduce.
const (
	testCredA = "webauthn:localhost:7473:Lxfgb1MLRxNQngtpCPln0g:pQECAyYgASFYINsDneG_k06z1D83lU7PUvECxqG048IanMsfaZ1wlLIGIlggRZgkKEehKq0EWIRu9DCAjRi3yukQIeXK_olk6eFZ0CU"
	testCredB = "webauthn:localhost:7473:VDw5WoUrIusCmDKf639KuA:pQECAyYgASFYIBrf-9b7N7aTD5nimcWIc1iqH4vF1Mo6K7h4uZr2rBPBIlggrPpGRVrI0t2c8KtaHoLRlmmcrP9cesQIQiZMlTMQPr0"
)

var passkeyConfigSeeds = []string{
	"approver \"alice\" { passkey = \"" + testCredA + "\" }\n",
	"approver \"alice\" {\n  passkey = \"" + testCredA + "\"\n}\napprover \"bob\" {\n  passkey = \"" + testCredB + "\"\n}\n",
	"approver \"alice\" {\n  passkey    = \"" + testCredA + "\"\n  public_key = \"ed25519:AAAA\"\n}\n",
	"approver \"alice\" { passkey = \"" + testCredA + "\" }\napprover \"bob\" { passkey = \"" + testCredA + "\" }\n",
	"approver \"alice\" { passkey = \"webauthn:localhost:7473:AA:AA\" }\n",
	"approver \"alice\" { passkey = \"" + strings.Replace(testCredA, "localhost", "example.com:443", 1) + "\" }\n",
	"approver \"alice\" { passkey = 1 }\n",
}

// freshCredential is a new genuine credential's text.
func freshCredential(t *testing.T) string {
	t.Helper()
	a, err := passkeytest.New()
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	c, err := passkey.ParseCredential("webauthn:localhost:7473:" + enc.EncodeToString(a.CredentialID) + ":" + enc.EncodeToString(a.COSEKey()))
	require.NoError(t, err)
	return c.String()
}

func TestLoadPasskeyApprover(t *testing.T) {
	key := testKey(t)
	cred, err := passkey.ParseCredential(testCredA)
	require.NoError(t, err)
	// The block plangate passkey register prints, pasted as it is.
	cfg, err := Load(writeConfig(t, baseline(key)+cred.ApproverBlock("bob")))
	require.NoError(t, err)
	require.Len(t, cfg.Approvers, 2)
	alice, bob := cfg.Approvers[0], cfg.Approvers[1]
	assert.NotNil(t, alice.PublicKey)
	assert.Nil(t, alice.Passkey)
	require.NotNil(t, bob.Passkey)
	assert.Nil(t, bob.PublicKey)
	assert.Equal(t, testCredA, bob.Passkey.String())
	assert.Equal(t, "localhost", bob.Passkey.RPID)
	assert.Equal(t, testCredA, bob.CredentialText())
	assert.Contains(t, KeyLabel(bob), "passkey sha256:")
}

func TestLoadPasskeyApproverErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  string
		want []string
	}{
		{name: "key and passkey", src: passkeyConfigSeeds[2], want: []string{"Approver with a key and a passkey", "both public_key and passkey"}},
		{name: "one passkey, two names", src: passkeyConfigSeeds[3], want: []string{"Duplicate approver passkey", `approver "bob" has the same passkey as approver "alice"`}},
		{name: "not a credential", src: passkeyConfigSeeds[4], want: []string{"Invalid passkey", "plangate passkey register"}},
		{name: "rp id with a port", src: passkeyConfigSeeds[5], want: []string{"Invalid passkey"}},
		{name: "not a string", src: passkeyConfigSeeds[6], want: []string{"Invalid passkey", "does not start with \"webauthn:\""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.src))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestMergePasskeyApprover: a passkey approver added, or a passkey
// changed, loosens like a key does, and the accepted one stays.
func TestMergePasskeyApprover(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	key := testKey(t)
	withBob := func(cred string) string { return baseline(key) + `approver "bob" { passkey = "` + cred + `" }` + "\n" }
	accepted := loadSrc(t, dir, withBob(testCredA))

	for _, tt := range []struct {
		name     string
		file     string
		loosens  bool
		setting  string
		bobCred  string // the passkey enforced for bob; "" when bob is not enforced
		aliceKey bool
	}{
		{name: "passkey approver added", file: withBob(testCredA) + `approver "carol" { passkey = "` + freshCredential(t) + `" }` + "\n", loosens: true, setting: `approver "carol"`, bobCred: testCredA},
		{name: "passkey changed", file: withBob(testCredB), loosens: true, setting: `approver "bob"`, bobCred: testCredA},
		{name: "passkey replaced by a key", file: baseline(key) + `approver "bob" { public_key = "` + testKey(t) + `" }` + "\n", loosens: true, setting: `approver "bob"`, bobCred: testCredA},
		{name: "key replaced by a passkey", file: strings.Replace(withBob(testCredA), `public_key = "`+key+`"`, `passkey = "`+testCredB+`"`, 1), loosens: true, setting: `approver "alice"`, bobCred: testCredA, aliceKey: true},
		{name: "passkey approver removed", file: baseline(key), loosens: false, setting: `approver "bob"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := loadSrc(t, dir, tt.file)
			eff, changes := Merge(accepted, file)
			var found bool
			for _, c := range changes {
				if c.Setting == tt.setting {
					found = true
					assert.Equal(t, tt.loosens, c.Loosens, "%s", c)
				}
			}
			require.True(t, found, "no change for %s in %v", tt.setting, changes)
			bob, ok := eff.Approver("bob")
			if tt.bobCred == "" {
				assert.False(t, ok)
			} else {
				require.True(t, ok)
				require.NotNil(t, bob.Passkey, "the accepted passkey stays until the new one is accepted")
				assert.Equal(t, tt.bobCred, bob.Passkey.String())
			}
			if tt.aliceKey {
				alice, ok := eff.Approver("alice")
				require.True(t, ok)
				assert.Equal(t, key, FormatPublicKey(alice.PublicKey))
			}
			_, carol := eff.Approver("carol")
			assert.False(t, carol, "an added approver is not enforced before acceptance")
		})
	}
	eff, changes := Merge(accepted, loadSrc(t, dir, withBob(testCredA)))
	assert.Empty(t, changes)
	assert.True(t, SettingsOf(eff).Equal(SettingsOf(accepted)))
}

// TestLivePasskeyApproverWaitsForAcceptance: the accepted-config record
// holds the passkey credential itself, so an approver's acceptance covers
// exactly the credential they reviewed.
func TestLivePasskeyApproverWaitsForAcceptance(t *testing.T) {
	key := testKey(t)
	l, path, _ := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	mustWrite(t, path, baseline(key)+`approver "bob" { passkey = "`+testCredA+`" }`+"\n")
	s, err := l.Load()
	require.NoError(t, err)
	_, trusted := s.Config.Approver("bob")
	require.False(t, trusted, "a passkey approver added to the file is not trusted before acceptance")
	require.True(t, s.PendingApprover("bob"))

	_, err = l.Accept(s, "alice", "fp")
	require.NoError(t, err)
	s, err = l.Load()
	require.NoError(t, err)
	bob, trusted := s.Config.Approver("bob")
	require.True(t, trusted)
	assert.Equal(t, testCredA, bob.Passkey.String())

	// The record holds the credential; a changed credential waits again.
	var found bool
	for _, a := range SettingsOf(s.Config).Approvers {
		if a.Name == "bob" {
			found = true
			assert.Equal(t, testCredA, a.Passkey)
			assert.Empty(t, a.PublicKey)
		}
	}
	require.True(t, found)
	mustWrite(t, path, baseline(key)+`approver "bob" { passkey = "`+testCredB+`" }`+"\n")
	s, err = l.Load()
	require.NoError(t, err)
	bob, _ = s.Config.Approver("bob")
	assert.Equal(t, testCredA, bob.Passkey.String(), "the accepted credential stays")
	assert.True(t, s.PendingApprover("bob"))
}

func TestAcceptedRecordPasskeyRefusals(t *testing.T) {
	cfg := loadSrc(t, filepath.Dir(writeConfig(t, "")), baseline(testKey(t))+`approver "bob" { passkey = "`+testCredA+`" }`+"\n")
	good := SettingsOf(cfg)
	_, err := good.Config(cfg.Path)
	require.NoError(t, err)
	for name, edit := range map[string]func(s *Settings){
		"passkey edited":         func(s *Settings) { s.Approvers[1].Passkey = testCredA[:len(testCredA)-4] },
		"key and passkey":        func(s *Settings) { s.Approvers[1].PublicKey = s.Approvers[0].PublicKey },
		"neither":                func(s *Settings) { s.Approvers[1].Passkey = "" },
		"one passkey, two names": func(s *Settings) { s.Approvers[0].PublicKey, s.Approvers[0].Passkey = "", testCredA },
	} {
		t.Run(name, func(t *testing.T) {
			s := SettingsOf(cfg)
			edit(&s)
			_, err := s.Config(cfg.Path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "approver")
		})
	}
}
