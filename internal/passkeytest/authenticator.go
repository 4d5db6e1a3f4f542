// Package passkeytest is a software WebAuthn authenticator for tests: a
// real ECDSA P-256 key that registers (attestation "none") and signs
// assertions the way a platform authenticator does, with knobs to make the
// broken assertions a real one never would (UP or UV missing, another RP
// ID, a counter that goes back). It is test support, never used by
// plangate itself; it encodes CBOR and clientDataJSON by hand so that it
// does not share code with the verifier it tests.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Authenticator flags (WebAuthn §6.1).
const (
	FlagUP = 0x01
	FlagUV = 0x04
	FlagAT = 0x40
)

var b64 = base64.RawURLEncoding

// TestAuthenticator holds one passkey, as a platform authenticator would.
type TestAuthenticator struct {
	Key          *ecdsa.PrivateKey
	CredentialID []byte
	// Counter is the sign counter: incremented before every assertion
	// unless an Assertion sets Counter.
	Counter uint32
}

// New makes an authenticator with a fresh key and credential id.
func New() (*TestAuthenticator, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &TestAuthenticator{Key: k, CredentialID: id}, nil
}

// COSEKey is the credential public key as COSE_Key (EC2, ES256, P-256).
func (a *TestAuthenticator) COSEKey() []byte {
	x, y := make([]byte, 32), make([]byte, 32)
	a.Key.X.FillBytes(x)
	a.Key.Y.FillBytes(y)
	k := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	k = append(k, x...)
	k = append(k, 0x22, 0x58, 0x20)
	return append(k, y...)
}

// Ceremony shapes one registration or assertion; zero values are what a
// genuine authenticator in a browser would do.
type Ceremony struct {
	Origin string // required: the page's origin as the browser reports it
	// Flags replaces UP|UV (and AT at registration) when non-zero; use
	// FlagUV alone for "UP missing", FlagUP alone for "UV missing".
	Flags byte
	// RPID replaces the options' RP ID in the rpIdHash when set.
	RPID string
	// Counter, when set, is the sign counter used (and kept).
	Counter *uint32
	// Challenge replaces the options' challenge when set.
	Challenge []byte
	// Type replaces the clientData type when set.
	Type string
	// CrossOrigin sets clientData.crossOrigin.
	CrossOrigin bool
	// AnyCredential answers even when allowCredentials does not name this
	// credential, as a hostile client could.
	AnyCredential bool
}

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		UserVerification       string `json:"userVerification"`
		AuthenticatorSelection struct {
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (c Ceremony) clientData(typ string, challenge []byte) []byte {
	if c.Type != "" {
		typ = c.Type
	}
	if c.Challenge != nil {
		challenge = c.Challenge
	}
	cd := fmt.Sprintf(`{"type":%q,"challenge":%q,"origin":%q,"crossOrigin":%t}`, typ, b64.EncodeToString(challenge), c.Origin, c.CrossOrigin)
	return []byte(cd)
}

func (c Ceremony) authData(rpID string, flags byte, counter uint32) []byte {
	if c.RPID != "" {
		rpID = c.RPID
	}
	if c.Flags != 0 {
		flags = c.Flags
	}
	h := sha256.Sum256([]byte(rpID))
	ad := append(h[:], flags)
	return binary.BigEndian.AppendUint32(ad, counter)
}

func (a *TestAuthenticator) nextCounter(c Ceremony) uint32 {
	if c.Counter != nil {
		a.Counter = *c.Counter
	} else {
		a.Counter++
	}
	return a.Counter
}

// Register answers navigator.credentials.create options (the JSON
// passkey.BeginRegistration returns) as PublicKeyCredential.toJSON()
// would, with attestation "none".
func (a *TestAuthenticator) Register(optionsJSON []byte, c Ceremony) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("test authenticator: creation options: %w", err)
	}
	challenge, err := b64.DecodeString(o.PublicKey.Challenge)
	if err != nil || o.PublicKey.RP.ID == "" {
		return nil, errors.New("test authenticator: creation options without challenge or rp id")
	}
	cd := c.clientData("webauthn.create", challenge)
	ad := c.authData(o.PublicKey.RP.ID, FlagUP|FlagUV|FlagAT, a.nextCounter(c))
	ad = append(ad, make([]byte, 16)...) // aaguid: zeros, as with attestation none
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.CredentialID)))
	ad = append(ad, a.CredentialID...)
	ad = append(ad, a.COSEKey()...)
	// {"fmt": "none", "attStmt": {}, "authData": ad}, canonical CBOR.
	att := []byte{0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e', 0x67, 'a', 't', 't', 'S', 't', 'm', 't', 0xa0,
		0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a', 0x59}
	att = binary.BigEndian.AppendUint16(att, uint16(len(ad)))
	att = append(att, ad...)
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
	})
}

// Assert answers navigator.credentials.get options (the JSON
// passkey.AssertionOptions returns) as PublicKeyCredential.toJSON() would.
// It refuses, like a browser, when its credential is not allowed.
func (a *TestAuthenticator) Assert(optionsJSON []byte, c Ceremony) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("test authenticator: request options: %w", err)
	}
	challenge, err := b64.DecodeString(o.PublicKey.Challenge)
	if err != nil || o.PublicKey.RPID == "" {
		return nil, errors.New("test authenticator: request options without challenge or rpId")
	}
	allowed := len(o.PublicKey.AllowCredentials) == 0 || c.AnyCredential
	for _, d := range o.PublicKey.AllowCredentials {
		allowed = allowed || d.ID == b64.EncodeToString(a.CredentialID)
	}
	if !allowed {
		return nil, errors.New("test authenticator: its credential is not in allowCredentials")
	}
	ad, cd, sig, err := a.Sign(o.PublicKey.RPID, challenge, c)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.CredentialID), "rawId": b64.EncodeToString(a.CredentialID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
		},
	})
}

// Sign makes the three parts of an assertion of challenge for rpID:
// authenticatorData, clientDataJSON, and the signature over
// authenticatorData || SHA-256(clientDataJSON).
func (a *TestAuthenticator) Sign(rpID string, challenge []byte, c Ceremony) (authData, clientDataJSON, sig []byte, err error) {
	clientDataJSON = c.clientData("webauthn.get", challenge)
	authData = c.authData(rpID, FlagUP|FlagUV, a.nextCounter(c))
	cdHash := sha256.Sum256(clientDataJSON)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err = ecdsa.SignASN1(rand.Reader, a.Key, digest[:])
	return authData, clientDataJSON, sig, err
}

// Token assembles a pgt2 token from a payload (the claims JSON) and the
// parts of an assertion, without any check: for making tokens a genuine
// page would not.
func Token(payload, authData, clientDataJSON, sig []byte) string {
	return "pgt2." + b64.EncodeToString(payload) + "." + b64.EncodeToString(authData) + "." +
		b64.EncodeToString(clientDataJSON) + "." + b64.EncodeToString(sig)
}
