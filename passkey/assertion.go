package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/go-webauthn/webauthn/protocol"
)

const (
	// TokenPrefix starts every passkey approval token.
	TokenPrefix = "pgt2."
	// MaxTokenLength bounds a pgt2 token's text with whitespace removed.
	// Real tokens are about 1,000 characters (ES256 on a platform
	// authenticator); RS256 with extensions stays well below this.
	MaxTokenLength = 8192
	// maxPasted bounds the text ParseToken looks at before removing
	// whitespace, so that a huge paste costs nothing.
	maxPasted = 4 * MaxTokenLength

	maxPayload        = 1024
	minAuthData       = 37 // rpIdHash, flags, counter
	maxAuthData       = 2048
	maxClientDataJSON = 2048
	maxSignature      = 1024
)

// Assertion is a parsed pgt2 token: the claims payload an approver's
// passkey signed, and the three parts of the WebAuthn assertion. Parsing
// checks their form only; Credential.Verify checks the WebAuthn
// assertion, and approvals checks the claims.
type Assertion struct {
	Payload           []byte // the claims JSON; its SHA-256 is the challenge
	AuthenticatorData []byte
	ClientDataJSON    []byte
	Signature         []byte
	// Text is the token with whitespace removed, for fingerprints.
	Text string
}

// Challenge is the WebAuthn challenge that approves payload: its SHA-256.
func Challenge(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return sum[:]
}

// AssertionOptions is the JSON of a protocol.CredentialAssertion
// ({"publicKey": …}) for navigator.credentials.get that approves payload
// (the claims JSON, decoded): the challenge is its SHA-256, user
// verification is required, and only creds (all scoped to rpID) may
// answer.
func AssertionOptions(rpID string, payload []byte, creds []*Credential) ([]byte, error) {
	if err := ValidRPID(rpID); err != nil {
		return nil, fmt.Errorf("passkey assertion options: %w", err)
	}
	if len(payload) == 0 || len(payload) > maxPayload {
		return nil, fmt.Errorf("passkey assertion options: the payload is not 1 to %d bytes", maxPayload)
	}
	if len(creds) == 0 {
		return nil, errors.New("passkey assertion options: no passkey to ask for")
	}
	allow := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		if c == nil {
			return nil, errors.New("passkey assertion options: a nil passkey")
		}
		if c.RPID != rpID {
			return nil, fmt.Errorf("passkey assertion options: passkey %s is registered for %s, not %s: open the review page at %s, or register a passkey for %s",
				c.Fingerprint(), c.RPID, rpID, c.RPID, rpID)
		}
		allow = append(allow, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: c.ID})
	}
	ca := protocol.CredentialAssertion{Response: protocol.PublicKeyCredentialRequestOptions{
		Challenge:          Challenge(payload),
		Timeout:            CeremonyTimeout,
		RelyingPartyID:     rpID,
		AllowedCredentials: allow,
		UserVerification:   protocol.VerificationRequired,
	}}
	return json.Marshal(ca)
}

// TokenFromAssertion assembles the pgt2 token from the payload (base64url,
// as approvals.NewPayload returned it) and the browser's answer to
// AssertionOptions (PublicKeyCredential.toJSON(): base64url fields). It
// checks that the answer is for this payload; Credential.Verify does the
// rest when the token is used.
func TokenFromAssertion(payloadB64 string, response []byte) (string, error) {
	const fix = "; approve again on the review page"
	payload, err := b64.DecodeString(payloadB64)
	if err != nil || len(payload) == 0 || len(payload) > maxPayload {
		return "", errors.New("make passkey token: the payload is not 1 to 1024 bytes of base64url without padding")
	}
	if len(response) > maxResponse {
		return "", fmt.Errorf("make passkey token: the browser's answer is larger than %d bytes%s", maxResponse, fix)
	}
	var car protocol.CredentialAssertionResponse
	if err := json.Unmarshal(response, &car); err != nil {
		return "", fmt.Errorf("make passkey token: the browser's answer is not a WebAuthn assertion (%s)%s", clip(err.Error()), fix)
	}
	r := car.AssertionResponse
	a := &Assertion{Payload: payload, AuthenticatorData: r.AuthenticatorData, ClientDataJSON: r.ClientDataJSON, Signature: r.Signature}
	if err := a.checkSizes(); err != nil {
		return "", fmt.Errorf("make passkey token: the browser's answer: %w%s", err, fix)
	}
	cd, err := a.clientData()
	if err != nil {
		return "", fmt.Errorf("make passkey token: %w%s", err, fix)
	}
	if cd.Challenge != b64.EncodeToString(Challenge(payload)) {
		return "", errors.New("make passkey token: the passkey signed a different challenge than this approval's" + fix)
	}
	return TokenPrefix + b64.EncodeToString(a.Payload) + "." + b64.EncodeToString(a.AuthenticatorData) + "." +
		b64.EncodeToString(a.ClientDataJSON) + "." + b64.EncodeToString(a.Signature), nil
}

// ParseToken reads a pgt2 token as a human pasted it: whitespace anywhere
// is removed; then it must be pgt2. and four base64url parts without
// padding, each of a size a real assertion has. It checks form only.
func ParseToken(text string) (*Assertion, error) {
	if len(text) > maxPasted {
		return nil, fmt.Errorf("it is %d characters long, far more than a token", len(text))
	}
	norm := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, text)
	if len(norm) > MaxTokenLength {
		return nil, fmt.Errorf("it is %d characters long without whitespace, more than the %d a passkey token has", len(norm), MaxTokenLength)
	}
	rest, ok := strings.CutPrefix(norm, TokenPrefix)
	if !ok {
		return nil, fmt.Errorf("it does not start with %q", TokenPrefix)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return nil, fmt.Errorf("it has %d parts after %q, not 4 (payload, authenticator data, client data, signature)", len(parts), TokenPrefix)
	}
	names := [4]string{"payload", "authenticator data", "client data", "signature"}
	var raw [4][]byte
	for i, p := range parts {
		b, err := b64.DecodeString(p)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("its %s is not base64url without padding", names[i])
		}
		raw[i] = b
	}
	a := &Assertion{Payload: raw[0], AuthenticatorData: raw[1], ClientDataJSON: raw[2], Signature: raw[3], Text: norm}
	if err := a.checkSizes(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Assertion) checkSizes() error {
	switch {
	case len(a.Payload) == 0 || len(a.Payload) > maxPayload:
		return fmt.Errorf("its payload is not 1 to %d bytes", maxPayload)
	case len(a.AuthenticatorData) < minAuthData || len(a.AuthenticatorData) > maxAuthData:
		return fmt.Errorf("its authenticator data is not %d to %d bytes", minAuthData, maxAuthData)
	case len(a.ClientDataJSON) == 0 || len(a.ClientDataJSON) > maxClientDataJSON:
		return fmt.Errorf("its client data is not 1 to %d bytes", maxClientDataJSON)
	case len(a.Signature) == 0 || len(a.Signature) > maxSignature:
		return fmt.Errorf("its signature is not 1 to %d bytes", maxSignature)
	}
	return nil
}

func (a *Assertion) clientData() (*protocol.CollectedClientData, error) {
	var cd protocol.CollectedClientData
	if err := json.Unmarshal(a.ClientDataJSON, &cd); err != nil {
		return nil, errors.New("its client data is not the JSON a browser makes")
	}
	return &cd, nil
}

// Verify checks a as an assertion by c of a.Payload, with go-webauthn's
// assertion verification: a webauthn.get ceremony whose challenge is the
// SHA-256 of the payload, on an origin allowed for c.RPID, not cross-origin;
// the RP ID hash; user presence and user verification; and the signature
// under c's public key over authenticatorData || SHA-256(clientDataJSON).
// It returns the authenticator's sign counter, which the caller compares
// with the last one it recorded for c. Errors say what is wrong, for a
// human; they never quote the token.
func (c *Credential) Verify(a *Assertion) (uint32, error) {
	if c == nil || a == nil {
		return 0, errors.New("no passkey or no assertion")
	}
	if err := a.checkSizes(); err != nil {
		return 0, err
	}
	cd, err := a.clientData()
	if err != nil {
		return 0, err
	}
	if cd.Type != protocol.AssertCeremony {
		return 0, fmt.Errorf("its client data is of type %q, not %q: it was not made by a passkey approval", clip(string(cd.Type)), protocol.AssertCeremony)
	}
	challenge := b64.EncodeToString(Challenge(a.Payload))
	if cd.Challenge != challenge {
		return 0, errors.New("the passkey signed a different challenge than this token's payload: the payload was altered, or the assertion belongs to another approval")
	}
	if err := OriginAllowed(cd.Origin, c.RPID); err != nil {
		return 0, fmt.Errorf("it was made on the wrong site: %w", err)
	}
	if originPort(cd.Origin) != c.Port {
		return 0, fmt.Errorf("it was made on another origin (%s) than %s, the page passkey %s was registered on: any page of %s can ask a passkey to sign, so plangate counts only that one (approve there)",
			clip(cd.Origin), c.Origin(), c.Fingerprint(), c.RPID)
	}
	if cd.CrossOrigin || cd.TopOrigin != "" {
		return 0, errors.New("it was made inside a frame of another site (cross-origin): approve on the review page itself")
	}
	var ad protocol.AuthenticatorData
	if err := ad.Unmarshal(a.AuthenticatorData); err != nil {
		return 0, errors.New("its authenticator data is malformed")
	}
	rpHash := sha256.Sum256([]byte(c.RPID))
	switch {
	case !bytes.Equal(ad.RPIDHash, rpHash[:]):
		return 0, fmt.Errorf("its authenticator data is for another site than %s (RP ID hash mismatch)", c.RPID)
	case !ad.Flags.UserPresent():
		return 0, errors.New("the authenticator did not confirm a user was present (UP flag not set)")
	case !ad.Flags.UserVerified():
		return 0, errors.New("the authenticator did not verify the user (UV flag not set): plangate requires user verification (PIN, fingerprint or face)")
	}
	p := &protocol.ParsedCredentialAssertionData{
		Response: protocol.ParsedAssertionResponse{CollectedClientData: *cd, AuthenticatorData: ad, Signature: a.Signature},
		Raw: protocol.CredentialAssertionResponse{AssertionResponse: protocol.AuthenticatorAssertionResponse{
			AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: a.ClientDataJSON},
			AuthenticatorData:     a.AuthenticatorData,
			Signature:             a.Signature,
		}},
	}
	// The origin was checked above against plangate's rule (the RP ID and
	// the registering page's port); go-webauthn gets that one origin.
	if err := p.Verify(challenge, c.RPID, "", []string{cd.Origin}, nil, nil, protocol.TopOriginExplicitVerificationMode,
		false, true, true, c.PublicKey, protocol.SignaturePolicy{}); err != nil {
		return 0, fmt.Errorf("its signature does not verify with passkey %s (%s): it was altered or made with another passkey", c.Fingerprint(), detail(err))
	}
	return ad.Counter, nil
}
