// Package passkey owns plangate's WebAuthn passkeys: the credential text
// an approver block holds (passkey = "webauthn:…"), the server side of the
// registration and assertion ceremonies the review page runs, and the
// pgt2 approval token an assertion becomes. The WebAuthn verification is
// github.com/go-webauthn/webauthn's protocol package; this package decides
// what plangate accepts (ES256, EdDSA, RS256; user verification always;
// exactly the origin the credential was registered on). It knows nothing of
// plans, approvers or the ledger: approvals verifies a token's claims,
// and keeps the sign counter history.
package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/plangate/plangate/internal/lazyre"
)

const (
	// CredentialPrefix starts a credential's text; the version is in it.
	CredentialPrefix = "webauthn:"
	// MaxCredentialLength bounds a credential's text: a 1023-byte
	// credential id (WebAuthn's limit) and an RSA-4096 COSE key fit.
	MaxCredentialLength = 4096
	// maxCredentialID is WebAuthn's bound on a credential id.
	maxCredentialID = 1023
	// maxCOSEKey bounds a credential public key (RSA-4096 is about 540
	// bytes).
	maxCOSEKey = 1024
)

var (
	b64 = base64.RawURLEncoding.Strict()
	// rpIDPattern is what plangate accepts as an RP ID: a lower-case DNS
	// name (localhost included), no port, no trailing dot.
	rpIDPattern = lazyre.New(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
)

// Supported COSE algorithms: what go-webauthn verifies and plangate allows.
var supportedAlgs = map[webauthncose.COSEAlgorithmIdentifier]string{
	webauthncose.AlgES256: "ES256",
	webauthncose.AlgEdDSA: "EdDSA",
	webauthncose.AlgRS256: "RS256",
}

// Credential is a registered passkey: the RP ID it is scoped to, its
// credential id and its public key. None of it is secret.
type Credential struct {
	// RPID is the WebAuthn relying party id: the host name of the review
	// page the passkey was registered on (localhost for plangate review).
	RPID string
	// ID is the credential id the authenticator chose.
	ID []byte
	// PublicKey is the credential public key, COSE-encoded as the
	// authenticator gave it.
	PublicKey []byte
	// Algorithm is PublicKey's COSE algorithm (-7 ES256, -8 EdDSA, -257
	// RS256).
	Algorithm int64
	// Port is the port of the page the passkey was registered on, and the
	// only one it approves on. WebAuthn scopes a passkey to a host name:
	// for localhost that is every port, so a page an agent serves on
	// another port could ask the passkey to sign; plangate pins the
	// registering page's exact origin (Origin).
	Port int
}

// Origin is the one page origin c approves on: https://<rp id>[:port], or
// http://localhost:<port>.
func (c *Credential) Origin() string {
	scheme, def := "https", 443
	if c.RPID == "localhost" {
		scheme, def = "http", 80
	}
	if c.Port == def {
		return scheme + "://" + c.RPID
	}
	return fmt.Sprintf("%s://%s:%d", scheme, c.RPID, c.Port)
}

// originPort is the port of an origin OriginAllowed accepted: the one
// given, or its scheme's default.
func originPort(origin string) int {
	scheme, hostport, _ := strings.Cut(origin, "://")
	if _, port, ok := strings.Cut(hostport, ":"); ok {
		n, _ := strconv.Atoi(port)
		return n
	}
	if scheme == "http" {
		return 80
	}
	return 443
}

// ValidRPID reports whether rpID is an RP ID plangate accepts: a lower-case
// host name without port.
func ValidRPID(rpID string) error {
	last := rpID[strings.LastIndexByte(rpID, '.')+1:]
	if len(rpID) == 0 || len(rpID) > 253 || !rpIDPattern.MatchString(rpID) || digits(last) {
		return fmt.Errorf("RP ID %q is not a lower-case host name (no scheme, no port): use the host name of the review page's URL, e.g. localhost", clip(rpID))
	}
	return nil
}

// ParseCredential reads the text of an approver block's passkey attribute
// (what plangate passkey register printed):
// webauthn:<rp id>:<port>:<credential id>:<COSE public key>, the last two
// base64url without padding; port is that of the page it was registered
// on, the only page it approves on.
func ParseCredential(s string) (*Credential, error) {
	const fix = "; paste the passkey line plangate passkey register printed, unchanged, or register the passkey again"
	if len(s) > MaxCredentialLength {
		return nil, fmt.Errorf("passkey credential is %d characters, more than the %d a credential has%s", len(s), MaxCredentialLength, fix)
	}
	rest, ok := strings.CutPrefix(s, CredentialPrefix)
	if !ok {
		return nil, fmt.Errorf("passkey credential does not start with %q%s", CredentialPrefix, fix)
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 4 {
		return nil, fmt.Errorf("passkey credential has %d parts after %q, not 4 (RP ID, port, credential id, public key)%s", len(parts), CredentialPrefix, fix)
	}
	if err := ValidRPID(parts[0]); err != nil {
		return nil, fmt.Errorf("passkey credential: %w", err)
	}
	port, err := strconv.Atoi(parts[1])
	if err != nil || port < 1 || port > 65535 || !digits(parts[1]) || strconv.Itoa(port) != parts[1] {
		return nil, fmt.Errorf("passkey credential's port is not a port number (1 to 65535)%s", fix)
	}
	parts = append(parts[:1], parts[2:]...)
	id, err := b64.DecodeString(parts[1])
	if err != nil || len(id) == 0 || len(id) > maxCredentialID {
		return nil, fmt.Errorf("passkey credential id is not 1 to %d bytes of base64url without padding%s", maxCredentialID, fix)
	}
	pub, err := b64.DecodeString(parts[2])
	if err != nil || len(pub) == 0 || len(pub) > maxCOSEKey {
		return nil, fmt.Errorf("passkey public key is not 1 to %d bytes of base64url without padding%s", maxCOSEKey, fix)
	}
	c := &Credential{RPID: parts[0], ID: id, PublicKey: pub, Port: port}
	if err := c.checkKey(); err != nil {
		return nil, fmt.Errorf("passkey public key: %w%s", err, fix)
	}
	return c, nil
}

// checkKey parses the COSE key, refuses algorithms plangate does not
// accept, and sets Algorithm. The key must be exactly one CBOR item, so
// that the text round-trips and nothing rides along.
func (c *Credential) checkKey() error {
	var pk webauthncose.PublicKeyData
	if err := webauthncbor.Unmarshal(c.PublicKey, &pk); err != nil {
		return errors.New("not a COSE key")
	}
	alg := webauthncose.COSEAlgorithmIdentifier(pk.Algorithm)
	if _, ok := supportedAlgs[alg]; !ok {
		return fmt.Errorf("COSE algorithm %d is not one plangate accepts (ES256, EdDSA, RS256)", pk.Algorithm)
	}
	if _, err := webauthncose.ParsePublicKey(c.PublicKey); err != nil {
		return fmt.Errorf("not a valid %s key", supportedAlgs[alg])
	}
	c.Algorithm = pk.Algorithm
	return nil
}

// String is the credential's text, as ParseCredential reads it and
// plangate passkey register prints it.
func (c *Credential) String() string {
	if c == nil {
		return ""
	}
	return CredentialPrefix + c.RPID + ":" + strconv.Itoa(c.Port) + ":" + b64.EncodeToString(c.ID) + ":" + b64.EncodeToString(c.PublicKey)
}

// ApproverBlock is the approver block for plangate.hcl that holds c, as
// plangate passkey register prints it.
func (c *Credential) ApproverBlock(name string) string {
	return fmt.Sprintf("approver %q {\n  passkey = %q\n}\n", name, c.String())
}

// Fingerprint names the credential in the ledger, the audit log and
// messages: "sha256:" and the first 16 hex digits of the SHA-256 of its
// credential id.
func (c *Credential) Fingerprint() string {
	sum := sha256.Sum256(c.ID)
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// Equal reports whether c and o are the same credential.
func (c *Credential) Equal(o *Credential) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.RPID == o.RPID && bytes.Equal(c.ID, o.ID) && bytes.Equal(c.PublicKey, o.PublicKey)
}

// AlgorithmName is Algorithm's name (ES256, EdDSA, RS256).
func (c *Credential) AlgorithmName() string {
	return supportedAlgs[webauthncose.COSEAlgorithmIdentifier(c.Algorithm)]
}

// OriginAllowed checks that a page origin may register or use a passkey of
// rpID (Verify then checks the port the credential pins):
// its host is rpID exactly, over https, or http only when rpID
// is localhost. Nothing else: no path, no user info.
func OriginAllowed(origin, rpID string) error {
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok || strings.ContainsAny(hostport, "/?#@") {
		return fmt.Errorf("origin %q is not a web origin (scheme://host[:port])", clip(origin))
	}
	host := hostport
	if h, port, ok := strings.Cut(hostport, ":"); ok {
		host = h
		if !digits(port) {
			return fmt.Errorf("origin %q has a port that is not a number", clip(origin))
		}
	}
	switch {
	case host != rpID:
		return fmt.Errorf("origin %s is not the passkey's site %s: the passkey was registered for %s, and only a review page on that host can use it", clip(origin), rpID, rpID)
	case scheme == "https":
		return nil
	case scheme == "http" && rpID == "localhost":
		return nil
	}
	return fmt.Errorf("origin %s is not https: only http://localhost may serve the review page without TLS", clip(origin))
}

func digits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// clip bounds text from outside that a message quotes.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
