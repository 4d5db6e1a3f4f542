package approvals

import (
	"errors"
	"fmt"
	"strings"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/passkey"
)

// PasskeyTokenPrefix starts the tokens a passkey approver makes on the
// review page: pgt2.<payload>.<authenticatorData>.<clientDataJSON>.<signature>.
const PasskeyTokenPrefix = passkey.TokenPrefix

// passkeyTokenProblem is tokenProblem for a pgt2 token.
func passkeyTokenProblem(what string) *RefusalError {
	return &RefusalError{Reason: tokenInvalid + what +
		"; copy the whole token the review page showed after the passkey approval, unchanged (line breaks do not matter), or approve again on the review page"}
}

// parsePasskeyToken reads a pgt2 token: its form (passkey.ParseToken) and
// its payload, the same claims as a pgt1 token's, as strictly.
func parsePasskeyToken(text string) (*Token, error) {
	a, err := passkey.ParseToken(text)
	if err != nil {
		return nil, passkeyTokenProblem(err.Error())
	}
	var c Claims
	if err := decodeCanonical(a.Payload, claimFields, &c, "tokens"); err != nil {
		return nil, passkeyTokenProblem("its payload " + err.Error())
	}
	return &Token{Claims: c, Text: a.Text, assertion: a}, nil
}

// IsPasskey reports whether t is a pgt2 token, made with a passkey.
func (t *Token) IsPasskey() bool { return t.assertion != nil }

// PasskeyUse is what a verified pgt2 token adds to its ledger line: which
// passkey made it, and its sign counter.
type PasskeyUse struct {
	Credential string // the credential's fingerprint
	Counter    uint32
}

// VerifyBy checks that approver a made t: for a pgt1 token, its Ed25519
// signature under a.PublicKey; for a pgt2 token, the WebAuthn assertion
// by a.Passkey (passkey.Credential.Verify: challenge, origin, RP ID, UP,
// UV, signature). For a pgt2 token it returns the passkey and its sign
// counter, which the caller checks against the ledger. The error says
// what is wrong in a phrase that starts "it" or "its", to follow "but".
func (t *Token) VerifyBy(a *config.Approver) (*PasskeyUse, error) {
	if a == nil {
		return nil, errors.New("no approver")
	}
	if t.assertion == nil {
		if a.PublicKey == nil {
			return nil, fmt.Errorf("it is a key-signed token (pgt1), and %s approves with a passkey in plangate.hcl: %s approves on the review page, which makes a pgt2 token", a.Name, a.Name)
		}
		if !t.VerifySignature(a.PublicKey) {
			return nil, fmt.Errorf("its signature does not verify with %s's public key in plangate.hcl: it was altered or not made with %s's key", a.Name, a.Name)
		}
		return nil, nil
	}
	if a.Passkey == nil {
		return nil, fmt.Errorf("it is a passkey token (pgt2), and %s has a public_key, not a passkey, in plangate.hcl: %s approves with plangate approve", a.Name, a.Name)
	}
	counter, err := a.Passkey.Verify(t.assertion)
	if err != nil {
		return nil, fmt.Errorf("its passkey assertion does not verify with %s's passkey in plangate.hcl: %s", a.Name, strings.TrimSuffix(err.Error(), "."))
	}
	return &PasskeyUse{Credential: a.Passkey.Fingerprint(), Counter: counter}, nil
}

// counterProblem says why counter does not follow last, or "": a passkey
// that counts must count up on every use, and a counter that did not
// means the passkey was cloned or the assertion replayed. Both zero is
// fine: many passkeys (synced ones) do not count.
func counterProblem(last, counter uint32) string {
	if (last != 0 || counter != 0) && counter <= last {
		return fmt.Sprintf("its passkey's sign counter is %d, not above %d, the counter of the last approval used from that passkey: "+
			"the assertion was replayed or the passkey copied to another authenticator", counter, last)
	}
	return ""
}
