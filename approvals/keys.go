package approvals

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/lazyre"
)

// Key file format constants; see the package comment.
const (
	keyFileVersion       = 1
	EncryptionNone       = "none"
	EncryptionScrypt     = "scrypt-xchacha20poly1305"
	scryptN              = 1 << 15
	scryptR              = 8
	scryptP              = 1
	scryptMinN           = 1 << 15
	scryptMaxN           = 1 << 18
	saltSize             = 16
	maxKeyFileSize       = 64 << 10
	keyAADPrefix         = "plangate approver key v1\x00"
	keyFileMode          = 0o600
	keyFileForbiddenBits = 0o077 // group and other access
)

// namePattern is config's rule for stack and approver names.
var namePattern = lazyre.New(`^[a-z][a-z0-9_-]{0,62}$`)

// ErrWrongPassphrase is returned (wrapped) by ReadPrivateKey when the
// passphrase does not decrypt the key file.
var ErrWrongPassphrase = errors.New("wrong passphrase: it does not decrypt this approver key (or the file was altered); try again")

// PrivateKey is an approver's signing key as read from their key file.
type PrivateKey struct {
	Approver string
	Key      ed25519.PrivateKey
}

// Public returns the public key that belongs in the approver block of
// plangate.hcl.
func (k *PrivateKey) Public() ed25519.PublicKey {
	return k.Key.Public().(ed25519.PublicKey)
}

// String names the key without its secret, so that a key printed or logged
// by mistake leaks nothing.
func (k *PrivateKey) String() string {
	if k == nil || len(k.Key) != ed25519.PrivateKeySize {
		return "approver key (invalid)"
	}
	return fmt.Sprintf("approver key %s (%s)", k.Approver, config.FormatPublicKey(k.Public()))
}

// GoString is String, for %#v.
func (k *PrivateKey) GoString() string { return k.String() }

// LogValue is String, for log/slog handlers that would otherwise encode the
// struct's fields.
func (k *PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// GenerateKey makes a new Ed25519 approver key pair from crypto/rand.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate approver key: %w", err)
	}
	return pub, priv, nil
}

// keyFile is the JSON shape of an approver key file.
type keyFile struct {
	Version    int         `json:"plangate_approver_key"`
	Approver   string      `json:"approver"`
	PublicKey  string      `json:"public_key"`
	Encryption string      `json:"encryption"`
	PrivateKey string      `json:"private_key,omitempty"` // encryption "none"
	KDF        *scryptSpec `json:"kdf,omitempty"`         // encryption EncryptionScrypt
	Nonce      string      `json:"nonce,omitempty"`
	SealedKey  string      `json:"sealed_key,omitempty"`
}

type scryptSpec struct {
	N    int    `json:"n"`
	R    int    `json:"r"`
	P    int    `json:"p"`
	Salt string `json:"salt"`
}

// WritePrivateKey writes the approver's private key file at path with mode
// 0600. It never overwrites: an existing file is an error. The file is
// written in full and fsynced before it is closed; on any error no file is
// left behind. A nil or empty passphrase writes the key unencrypted;
// otherwise the key is sealed as the package comment describes.
func WritePrivateKey(path, approver string, priv ed25519.PrivateKey, passphrase []byte) error {
	if !namePattern.MatchString(approver) {
		return fmt.Errorf("approver name %q is not valid: use 1 to 63 lower-case letters, digits, '_' or '-', starting with a letter (for example \"oncall\")", approver)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("approver key is %d bytes, not an Ed25519 private key (%d bytes)", len(priv), ed25519.PrivateKeySize)
	}
	seed := priv.Seed()
	if !bytes.Equal(ed25519.NewKeyFromSeed(seed), priv) {
		return errors.New("approver key is inconsistent: its public half does not belong to its seed")
	}
	kf := keyFile{
		Version:    keyFileVersion,
		Approver:   approver,
		PublicKey:  config.FormatPublicKey(priv.Public().(ed25519.PublicKey)),
		Encryption: EncryptionNone,
	}
	if len(passphrase) == 0 {
		kf.PrivateKey = base64.StdEncoding.EncodeToString(seed)
	} else {
		salt := make([]byte, saltSize)
		nonce := make([]byte, chacha20poly1305.NonceSizeX)
		if _, err := rand.Read(salt); err != nil {
			return fmt.Errorf("write approver key: %w", err)
		}
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("write approver key: %w", err)
		}
		kf.Encryption = EncryptionScrypt
		kf.KDF = &scryptSpec{N: scryptN, R: scryptR, P: scryptP, Salt: base64.StdEncoding.EncodeToString(salt)}
		sealed, err := sealSeed(seed, passphrase, salt, nonce, kf.KDF, kf.aad())
		if err != nil {
			return fmt.Errorf("write approver key: %w", err)
		}
		kf.Nonce = base64.StdEncoding.EncodeToString(nonce)
		kf.SealedKey = base64.StdEncoding.EncodeToString(sealed)
	}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return fmt.Errorf("write approver key: %w", err)
	}
	return writeNewFile(path, append(data, '\n'))
}

// aad binds the file's approver name and public key to the sealed seed.
func (kf *keyFile) aad() []byte {
	return []byte(keyAADPrefix + kf.Approver + "\x00" + kf.PublicKey)
}

func deriveKey(passphrase []byte, salt []byte, spec *scryptSpec) ([]byte, error) {
	return scrypt.Key(passphrase, salt, spec.N, spec.R, spec.P, chacha20poly1305.KeySize)
}

func sealSeed(seed, passphrase, salt, nonce []byte, spec *scryptSpec, aad []byte) ([]byte, error) {
	key, err := deriveKey(passphrase, salt, spec)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nonce, seed, aad), nil
}

// writeNewFile creates path exclusively with mode 0600, writes data, fsyncs
// and closes it, and removes it again if any step fails.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("key file %s already exists: plangate never overwrites a key file; choose another path, or move the old file away first", path)
	}
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	// The umask can only narrow the mode; make sure nothing widened it.
	err = f.Chmod(keyFileMode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	_ = atomicfile.SyncDir(filepath.Dir(path))
	return nil
}

// ReadPrivateKey reads an approver key file. passphrase is called only when
// the file is encrypted; a wrong passphrase gives an error wrapping
// ErrWrongPassphrase. A file that group or others may access is refused
// (run chmod 600 on it), like ssh refuses such keys.
func ReadPrivateKey(path string, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("approver key file %s does not exist: pass the file plangate keygen wrote, or run plangate keygen --name <you> to make one", path)
		}
		return nil, fmt.Errorf("open approver key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open approver key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("approver key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&keyFileForbiddenBits != 0 {
		return nil, fmt.Errorf("approver key file %s has mode %04o, so other users can access it: run chmod 600 %s "+
			"(and consider a new key with plangate keygen if anyone else may have read it)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read approver key file %s: %w", path, err)
	}
	k, err := parseKeyFile(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("approver key file %s: %w", path, err)
	}
	return k, nil
}

// parseKeyFile is ReadPrivateKey without the file system. Its errors never
// quote the file's content.
func parseKeyFile(data []byte, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	if len(data) > maxKeyFileSize {
		return nil, errors.New("too large to be an approver key file")
	}
	const notKeyFile = "not a plangate approver key file (plangate keygen writes them)"
	if err := checkJSONObject(data,
		[]string{"plangate_approver_key", "approver", "public_key", "encryption"},
		[]string{"private_key", "kdf", "nonce", "sealed_key"}); err != nil {
		return nil, fmt.Errorf("%s: %v", notKeyFile, err)
	}
	var kf keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%s: a field has the wrong type", notKeyFile)
	}
	if kf.Version != keyFileVersion {
		return nil, fmt.Errorf("approver key file version %d is not supported by this plangate (it reads version %d)", kf.Version, keyFileVersion)
	}
	if !namePattern.MatchString(kf.Approver) {
		return nil, errors.New("approver name in the key file is not valid")
	}
	pub, err := config.ParsePublicKey(kf.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("public_key: %v", err)
	}

	var seed []byte
	switch kf.Encryption {
	case EncryptionNone:
		if kf.KDF != nil || kf.Nonce != "" || kf.SealedKey != "" {
			return nil, errors.New(`an unencrypted key file has only private_key, not kdf, nonce or sealed_key`)
		}
		seed, err = decodeStd(kf.PrivateKey, ed25519.SeedSize)
		if err != nil {
			return nil, fmt.Errorf("private_key: %v", err)
		}
	case EncryptionScrypt:
		if kf.PrivateKey != "" {
			return nil, errors.New("an encrypted key file must not hold private_key")
		}
		if seed, err = kf.open(passphrase); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("encryption %q is not supported: use %q or %q", kf.Encryption, EncryptionNone, EncryptionScrypt)
	}
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if subtle.ConstantTimeCompare(priv.Public().(ed25519.PublicKey), pub) != 1 {
		return nil, errors.New("the private key does not match public_key: the file was altered; use the file plangate keygen wrote")
	}
	return &PrivateKey{Approver: kf.Approver, Key: priv}, nil
}

// open decrypts the seed of an encrypted key file.
func (kf *keyFile) open(passphrase func() ([]byte, error)) ([]byte, error) {
	spec := kf.KDF
	if spec == nil {
		return nil, errors.New("encrypted key file lacks kdf")
	}
	if spec.N < scryptMinN || spec.N > scryptMaxN || spec.N&(spec.N-1) != 0 || spec.R != scryptR || spec.P != scryptP {
		return nil, fmt.Errorf("kdf parameters are not supported: n must be a power of two from %d to %d, r %d and p %d",
			scryptMinN, scryptMaxN, scryptR, scryptP)
	}
	salt, err := decodeStd(spec.Salt, saltSize)
	if err != nil {
		return nil, fmt.Errorf("kdf salt: %v", err)
	}
	nonce, err := decodeStd(kf.Nonce, chacha20poly1305.NonceSizeX)
	if err != nil {
		return nil, fmt.Errorf("nonce: %v", err)
	}
	sealed, err := decodeStd(kf.SealedKey, ed25519.SeedSize+chacha20poly1305.Overhead)
	if err != nil {
		return nil, fmt.Errorf("sealed_key: %v", err)
	}
	if passphrase == nil {
		return nil, errors.New("the key is passphrase-protected, and no passphrase was given")
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	key, err := deriveKey(pass, salt, spec)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, sealed, kf.aad())
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return seed, nil
}

// decodeStd decodes canonical standard base64 of exactly size bytes.
func decodeStd(s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not standard base64")
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, not %d", len(b), size)
	}
	return b, nil
}
