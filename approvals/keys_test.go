package approvals

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

func staticPassphrase(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

func TestWriteAndReadPrivateKey(t *testing.T) {
	tests := []struct {
		name       string
		passphrase []byte
		encryption string
	}{
		{name: "unencrypted", passphrase: nil, encryption: EncryptionNone},
		{name: "empty passphrase is unencrypted", passphrase: []byte{}, encryption: EncryptionNone},
		{name: "passphrase", passphrase: []byte("correct horse battery staple"), encryption: EncryptionScrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, priv, err := GenerateKey()
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "oncall.key")
			require.NoError(t, WritePrivateKey(path, "oncall", priv, tt.passphrase))

			info, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Contains(t, string(data), `"plangate_approver_key": 1`)
			assert.Contains(t, string(data), `"approver": "oncall"`)
			assert.Contains(t, string(data), `"encryption": "`+tt.encryption+`"`)
			assert.Contains(t, string(data), config.FormatPublicKey(pub))
			if tt.encryption != EncryptionNone {
				assert.NotContains(t, string(data), base64.StdEncoding.EncodeToString(priv.Seed()), "an encrypted file must not hold the seed in clear")
			}

			calls := 0
			k, err := ReadPrivateKey(path, func() ([]byte, error) {
				calls++
				return tt.passphrase, nil
			})
			require.NoError(t, err)
			assert.Equal(t, "oncall", k.Approver)
			assert.Equal(t, priv, k.Key)
			assert.Equal(t, pub, k.Public())
			if tt.encryption == EncryptionNone {
				assert.Zero(t, calls, "the passphrase is asked for only when the file is encrypted")
			} else {
				assert.Equal(t, 1, calls)
			}
		})
	}
}

func TestReadPrivateKeyPassphraseProblems(t *testing.T) {
	_, priv, err := GenerateKey()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "oncall.key")
	require.NoError(t, WritePrivateKey(path, "oncall", priv, []byte("right")))

	tests := []struct {
		name       string
		passphrase func() ([]byte, error)
		wrong      bool
		contains   string
	}{
		{name: "wrong passphrase", passphrase: staticPassphrase("wrong"), wrong: true, contains: "wrong passphrase"},
		{name: "empty passphrase", passphrase: staticPassphrase(""), wrong: true, contains: "wrong passphrase"},
		{name: "no passphrase function", passphrase: nil, contains: "passphrase-protected"},
		{name: "passphrase prompt fails", passphrase: func() ([]byte, error) { return nil, errors.New("no terminal") }, contains: "no terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ReadPrivateKey(path, tt.passphrase)
			require.Error(t, err)
			assert.Nil(t, k)
			assert.Equal(t, tt.wrong, errors.Is(err, ErrWrongPassphrase))
			assert.Contains(t, err.Error(), tt.contains)
		})
	}
}

func TestWritePrivateKeyRefuses(t *testing.T) {
	_, priv, err := GenerateKey()
	require.NoError(t, err)
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) string // returns the path
		approver string
		key      []byte
		contains string
		leftover bool // a file is at path afterwards (the pre-existing one)
	}{
		{
			name: "existing file is never overwritten",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "k")
				require.NoError(t, os.WriteFile(p, []byte("precious"), 0o600))
				return p
			},
			approver: "oncall", key: priv, contains: "already exists", leftover: true,
		},
		{name: "invalid approver name", approver: "On Call", key: priv, contains: "approver name"},
		{name: "short key", approver: "oncall", key: priv[:32], contains: "not an Ed25519 private key"},
		{name: "inconsistent key", approver: "oncall", key: append(bytes.Clone(priv[:32]), make([]byte, 32)...), contains: "inconsistent"},
		{
			name: "missing directory",
			setup: func(t *testing.T, dir string) string {
				return filepath.Join(dir, "nope", "k")
			},
			approver: "oncall", key: priv, contains: "create key file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "k")
			if tt.setup != nil {
				path = tt.setup(t, dir)
			}
			err := WritePrivateKey(path, tt.approver, tt.key, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.contains)
			data, statErr := os.ReadFile(path)
			if tt.leftover {
				require.NoError(t, statErr)
				assert.Equal(t, "precious", string(data))
			} else {
				assert.ErrorIs(t, statErr, os.ErrNotExist, "no file is left behind")
			}
		})
	}
}

func TestReadPrivateKeyRefusesOpenPermissions(t *testing.T) {
	_, priv, err := GenerateKey()
	require.NoError(t, err)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k")
			require.NoError(t, WritePrivateKey(path, "oncall", priv, nil))
			require.NoError(t, os.Chmod(path, mode))
			_, err := ReadPrivateKey(path, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "chmod 600 "+path)
		})
	}
}

func TestReadPrivateKeyMissingFile(t *testing.T) {
	_, err := ReadPrivateKey(filepath.Join(t.TempDir(), "none"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plangate keygen")
}

// TestReadPrivateKeyRefusesAlteredFiles edits valid key files; every edit
// must be refused, and no error may quote the secret.
func TestReadPrivateKeyRefusesAlteredFiles(t *testing.T) {
	_, priv, err := GenerateKey()
	require.NoError(t, err)
	otherPub, _, err := GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	load := func(passphrase []byte) (map[string]any, string) {
		p := filepath.Join(t.TempDir(), "k")
		require.NoError(t, WritePrivateKey(p, "oncall", priv, passphrase))
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m, string(data)
	}
	plain, plainText := load(nil)
	sealed, _ := load([]byte("pw"))
	seed := base64.StdEncoding.EncodeToString(priv.Seed())
	sealedKey := sealed["sealed_key"].(string)

	edit := func(base map[string]any, f func(m map[string]any)) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		if kdf, ok := m["kdf"].(map[string]any); ok {
			c := map[string]any{}
			for k, v := range kdf {
				c[k] = v
			}
			m["kdf"] = c
		}
		f(m)
		return string(mustJSON(t, m))
	}
	tests := []struct {
		name     string
		text     string
		contains string
		wrong    bool // errors.Is(err, ErrWrongPassphrase)
	}{
		{name: "other public key, unencrypted", text: edit(plain, func(m map[string]any) { m["public_key"] = config.FormatPublicKey(otherPub) }), contains: "does not match public_key"},
		{name: "other public key, encrypted", text: edit(sealed, func(m map[string]any) { m["public_key"] = config.FormatPublicKey(otherPub) }), wrong: true},
		{name: "renamed approver, encrypted", text: edit(sealed, func(m map[string]any) { m["approver"] = "lead" }), wrong: true},
		{name: "sealed key bit flipped", text: edit(sealed, func(m map[string]any) {
			b, _ := base64.StdEncoding.DecodeString(sealedKey)
			b[0] ^= 1
			m["sealed_key"] = base64.StdEncoding.EncodeToString(b)
		}), wrong: true},
		{name: "unknown field", text: edit(plain, func(m map[string]any) { m["comment"] = "hi" }), contains: `field "comment" is unknown`},
		{name: "missing field", text: edit(plain, func(m map[string]any) { delete(m, "public_key") }), contains: `field "public_key" is missing`},
		{name: "key in other case", text: edit(plain, func(m map[string]any) { m["Approver"] = m["approver"]; delete(m, "approver") }), contains: `"approver" is missing`},
		{name: "duplicate field", text: strings.Replace(plainText, "{", `{"approver": "lead",`, 1), contains: `"approver" appears twice`},
		{name: "version 2", text: edit(plain, func(m map[string]any) { m["plangate_approver_key"] = 2 }), contains: "version 2 is not supported"},
		{name: "version as string", text: edit(plain, func(m map[string]any) { m["plangate_approver_key"] = "1" }), contains: "wrong type"},
		{name: "unknown encryption", text: edit(plain, func(m map[string]any) { m["encryption"] = "rot13" }), contains: `encryption "rot13" is not supported`},
		{name: "unencrypted with kdf", text: edit(plain, func(m map[string]any) { m["kdf"] = sealed["kdf"] }), contains: "only private_key"},
		{name: "encrypted with private_key", text: edit(sealed, func(m map[string]any) { m["private_key"] = seed }), contains: "must not hold private_key"},
		{name: "huge scrypt cost", text: edit(sealed, func(m map[string]any) { m["kdf"].(map[string]any)["n"] = 1 << 30 }), contains: "kdf parameters"},
		{name: "weak scrypt cost", text: edit(sealed, func(m map[string]any) { m["kdf"].(map[string]any)["n"] = 1 << 10 }), contains: "kdf parameters"},
		{name: "scrypt n not a power of two", text: edit(sealed, func(m map[string]any) { m["kdf"].(map[string]any)["n"] = 40000 }), contains: "kdf parameters"},
		{name: "unknown kdf field", text: edit(sealed, func(m map[string]any) { m["kdf"].(map[string]any)["x"] = 1 }), contains: "wrong type"},
		{name: "short salt", text: edit(sealed, func(m map[string]any) { m["kdf"].(map[string]any)["salt"] = "AAAA" }), contains: "salt"},
		{name: "short private key", text: edit(plain, func(m map[string]any) { m["private_key"] = seed[:20] }), contains: "private_key"},
		{name: "private key in url alphabet", text: edit(plain, func(m map[string]any) {
			m["private_key"] = base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
		}), contains: "private_key: not standard base64"},
		{name: "trailing data", text: plainText + "{}", contains: "after the JSON value"},
		{name: "not json", text: "ssh-ed25519 AAAA", contains: "not a plangate approver key file"},
		{name: "empty", text: "", contains: "not a plangate approver key file"},
		{name: "array", text: "[1,2]", contains: "not a plangate approver key file"},
		{name: "too large", text: strings.Repeat(" ", maxKeyFileSize+1), contains: "too large"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprint(i))
			require.NoError(t, os.WriteFile(path, []byte(tt.text), 0o600))
			k, err := ReadPrivateKey(path, staticPassphrase("pw"))
			require.Error(t, err)
			assert.Nil(t, k)
			assert.Equal(t, tt.wrong, errors.Is(err, ErrWrongPassphrase), "error: %v", err)
			if tt.contains != "" {
				assert.Contains(t, err.Error(), tt.contains)
			}
			assert.NotContains(t, err.Error(), seed)
			assert.NotContains(t, err.Error(), sealedKey)
		})
	}
}

func TestPrivateKeyNeverPrintsItsSecret(t *testing.T) {
	k := testKey("oncall")
	secret := base64.StdEncoding.EncodeToString(k.Key.Seed())
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "k", k)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", k)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", k, k, k, k),
		logged.String(),
	} {
		assert.Contains(t, out, "approver key oncall")
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, fmt.Sprint([]byte(k.Key)))
	}
}
