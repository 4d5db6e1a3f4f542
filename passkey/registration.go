package passkey

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// CeremonyTimeout is how long the browser is told a ceremony may take.
const CeremonyTimeout = 5 * 60 * 1000 // milliseconds

// maxResponse bounds the browser's JSON for one ceremony.
const maxResponse = 64 << 10

// credParams are the algorithms plangate asks authenticators for, in its
// order of preference.
var credParams = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// Registration is one registration ceremony in progress: what Finish
// checks the browser's answer against. Keep it server-side; it holds the
// challenge.
type Registration struct {
	RPID     string
	Approver string

	challenge []byte
	userID    []byte
}

// BeginRegistration starts registering a passkey for approverName, scoped
// to rpID (the review page's host name). options is the JSON of a
// protocol.CredentialCreation ({"publicKey": …}) for
// navigator.credentials.create, after the page decodes its base64url
// fields: a fresh challenge, user verification required, no attestation
// asked for.
func BeginRegistration(rpID, approverName string) ([]byte, *Registration, error) {
	if err := ValidRPID(rpID); err != nil {
		return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	if approverName == "" || len(approverName) > 64 {
		return nil, nil, errors.New("begin passkey registration: the approver name must be 1 to 64 characters")
	}
	r := &Registration{RPID: rpID, Approver: approverName, challenge: make([]byte, 32), userID: make([]byte, 16)}
	if _, err := rand.Read(r.challenge); err != nil {
		return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	if _, err := rand.Read(r.userID); err != nil {
		return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	cc := protocol.CredentialCreation{Response: protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{CredentialEntity: protocol.CredentialEntity{Name: "plangate"}, ID: rpID},
		User: protocol.UserEntity{
			CredentialEntity: protocol.CredentialEntity{Name: approverName},
			DisplayName:      approverName + " (plangate approver)",
			ID:               protocol.URLEncodedBase64(r.userID),
		},
		Challenge:  r.challenge,
		Parameters: credParams,
		Timeout:    CeremonyTimeout,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired,
		},
		Attestation: protocol.PreferNoAttestation,
	}}
	options, err := json.Marshal(cc)
	if err != nil {
		return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return options, r, nil
}

// Finish checks the browser's answer to the registration options
// (PublicKeyCredential.toJSON(): base64url fields) given on a page served
// at origin, with go-webauthn: a webauthn.create ceremony with this
// challenge at this origin, the RP ID hash, user presence and user
// verification, an algorithm plangate accepts, and the attestation
// statement when there is one. It returns the new credential.
func (r *Registration) Finish(origin string, response []byte) (*Credential, error) {
	const fix = "; start the registration again"
	if r == nil || len(r.challenge) == 0 {
		return nil, errors.New("finish passkey registration: no registration was begun")
	}
	if err := OriginAllowed(origin, r.RPID); err != nil {
		return nil, fmt.Errorf("finish passkey registration: %w", err)
	}
	if len(response) > maxResponse {
		return nil, fmt.Errorf("finish passkey registration: the browser's answer is larger than %d bytes%s", maxResponse, fix)
	}
	pcc, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("finish passkey registration: the browser's answer is not a WebAuthn registration (%s)%s", detail(err), fix)
	}
	ad := pcc.Response.AttestationObject.AuthData
	switch {
	case !ad.Flags.UserPresent():
		return nil, errors.New("finish passkey registration: the authenticator did not confirm a user was present; touch the security key or confirm the prompt" + fix)
	case !ad.Flags.UserVerified():
		return nil, errors.New("finish passkey registration: the authenticator did not verify the user (PIN, fingerprint or face): plangate requires user verification; use an authenticator that supports it" + fix)
	}
	_, err = pcc.Verify(b64.EncodeToString(r.challenge), r.RPID, []string{origin}, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, true, true, nil, credParams, protocol.AttestationPolicy{}, protocol.SignaturePolicy{})
	if err != nil {
		return nil, fmt.Errorf("finish passkey registration: the registration does not verify (%s)%s", detail(err), fix)
	}
	c := &Credential{RPID: r.RPID, ID: ad.AttData.CredentialID, PublicKey: ad.AttData.CredentialPublicKey, Port: originPort(origin)}
	if len(c.ID) == 0 || len(c.ID) > maxCredentialID || len(c.PublicKey) > maxCOSEKey {
		return nil, errors.New("finish passkey registration: the authenticator's credential id or key is not of a size WebAuthn allows" + fix)
	}
	if err := c.checkKey(); err != nil {
		return nil, fmt.Errorf("finish passkey registration: the new passkey's key: %w%s", err, fix)
	}
	return c, nil
}

// detail is a go-webauthn error's explanation, bounded.
func detail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		s := pe.Details
		if pe.DevInfo != "" {
			s += ": " + pe.DevInfo
		}
		return clip(s)
	}
	return clip(err.Error())
}
