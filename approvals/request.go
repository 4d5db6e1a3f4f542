package approvals

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/lazyre"
)

const (
	// RequestPrefix starts every signed request; the version is in it.
	RequestPrefix = "pgr1."
	// RequestTTL is how long a signed request is good for: it is made
	// to be acted on at once.
	RequestTTL = 5 * time.Minute
	// MaxRequestLength bounds a request's normalized text. Real ones are
	// about 300 characters.
	MaxRequestLength = 1024
)

// Actions an approver signs requests for, and their subjects.
const (
	// ActionUnfreeze lifts a freeze; its subject is the stack's name, or
	// SubjectAllStacks for the all-stacks freeze.
	ActionUnfreeze   = "unfreeze"
	SubjectAllStacks = "*"
	// ActionConfigAccept accepts plangate.hcl as it is; its subject is
	// the SHA-256 (hex) of the file's bytes the approver reviewed.
	ActionConfigAccept = "config-accept"
	// ActionReview reads a plan's review from a plangate server (plangate
	// approve --server); its subject is the plan id or prefix asked for.
	ActionReview = "review"
	// ActionFreeze sets the kill switch from another machine (plangate
	// freeze --server); its subject is the stack, or SubjectAllStacks.
	ActionFreeze = "freeze"
	// ActionAudit reads a plangate server's records (plangate audit
	// --server): SubjectAuditLog its audit log's lines, SubjectAuditVerify
	// the check of the audit log's and the ledger's hash chains. Like a
	// review, it changes nothing, so its nonce is not spent: one request
	// reads every page of the log while it is good.
	ActionAudit        = "audit"
	SubjectAuditLog    = "log"
	SubjectAuditVerify = "verify"
)

var (
	actionPattern = lazyre.New(`^[a-z][a-z0-9-]{0,31}$`)
	// subjectPattern: names, "*", hex digests, paths; nothing that
	// encoding/json escapes, so a subject has one spelling in a payload.
	subjectPattern = lazyre.New(`^[A-Za-z0-9_.:*/@+=-]{1,256}$`)
)

// RequestClaims are what an approver signs in a request: one action on one
// subject, for a few minutes. The nonce makes each request unique, for a
// receiver that must refuse a replay.
type RequestClaims struct {
	Approver  string `json:"approver"`
	Action    string `json:"action"`
	Subject   string `json:"subject"`
	IssuedAt  int64  `json:"iat"` // unix seconds
	ExpiresAt int64  `json:"exp"`
	Nonce     string `json:"nonce"` // base64url of 16 random bytes
}

var requestFields = []string{"approver", "action", "subject", "iat", "exp", "nonce"}

// requestForm is the text form of signed requests. Its prefix differs from
// a token's and is signed with the payload, so that no request verifies
// as an approval token and no token as a request.
var requestForm = signedForm{prefix: RequestPrefix, plural: "requests", maxLen: MaxRequestLength}

// Request is a parsed signed request: an approver-signed statement of
// intent other than a plan approval ("unfreeze", later "config-accept"),
// bound to what it acts on and short-lived. Parsing checks its form only;
// VerifyRequest decides whether it is good.
type Request struct {
	Claims RequestClaims
	// Text is the request with whitespace removed: what was signed and
	// what is fingerprinted.
	Text string

	sig []byte
}

// SignRequest signs a request by k's approver to do action on subject,
// valid from now for RequestTTL. It returns the request's text,
// pgr1.<payload>.<signature> (base64url, no whitespace: Fingerprint of the
// text names it).
func SignRequest(k *PrivateKey, action, subject string, now time.Time) (string, error) {
	if k == nil || len(k.Key) != ed25519.PrivateKeySize {
		return "", errors.New("sign request: no valid approver key")
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sign request: %w", err)
	}
	c := &RequestClaims{
		Approver:  k.Approver,
		Action:    action,
		Subject:   subject,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(RequestTTL).Unix(),
		Nonce:     b64.EncodeToString(nonce),
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("sign request: %w", err)
	}
	return signRequestClaims(k.Key, c)
}

// signRequestClaims encodes and signs claims as they are, without
// checking them.
func signRequestClaims(key ed25519.PrivateKey, c *RequestClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign request: %w", err)
	}
	return requestForm.sign(key, payload), nil
}

const requestInvalid = "signed request is not valid: "

// requestProblem is how ParseRequest refuses, without quoting the request.
func requestProblem(what string) *RefusalError {
	return &RefusalError{Reason: requestInvalid + what + "; pass the whole request unchanged, or have the approver sign it again"}
}

// ParseRequest reads a request's text: whitespace is removed, and anything
// else that differs from what SignRequest produced is refused with a
// *RefusalError.
func ParseRequest(text string) (*Request, error) {
	st, err := requestForm.open(text)
	if err != nil {
		return nil, requestProblem(err.Error())
	}
	var c RequestClaims
	if err := decodeCanonical(st.payload, requestFields, &c, requestForm.plural); err != nil {
		return nil, requestProblem("its payload " + err.Error())
	}
	return &Request{Claims: c, Text: st.text, sig: st.sig}, nil
}

// validate checks the form of every claim.
func (c *RequestClaims) validate() error {
	switch {
	case !namePattern.MatchString(c.Approver):
		return errors.New("approver is not a valid approver name")
	case !actionPattern.MatchString(c.Action):
		return errors.New("action is not a plangate action")
	case !subjectPattern.MatchString(c.Subject):
		return errors.New("subject is not a name plangate acts on")
	}
	return validateWindow(c.IssuedAt, c.ExpiresAt, RequestTTL, "a request", c.Nonce)
}

// VerifyRequest checks that text is a request, signed by one of
// approvers, to do action on subject, and good at now (issued at most
// ClockSkew ahead, not expired). It returns the request's claims; any
// failure is a *RefusalError that never quotes the request. Replays within
// the few minutes a request lives are the caller's to refuse, by its
// nonce, where that matters.
func VerifyRequest(text, action, subject string, approvers []*config.Approver, now time.Time) (*RequestClaims, error) {
	req, err := ParseRequest(text)
	if err != nil {
		return nil, err
	}
	c := req.Claims
	var a *config.Approver
	for _, x := range approvers {
		if x != nil && x.Name == c.Approver {
			a = x
		}
	}
	if a == nil {
		return nil, refusef("signed request %s is signed as approver %q, who is not an approver in plangate.hcl (approvers: %s): only configured approvers can sign requests",
			req.Fingerprint(), c.Approver, approverNames(approvers))
	}
	if a.PublicKey == nil {
		return nil, refusef("signed request %s is signed as approver %s, who approves with a passkey: plangate config accept and plangate unfreeze are signed with an approver key for now; "+
			"ask an approver with a public_key in plangate.hcl to sign it", req.Fingerprint(), c.Approver)
	}
	if !req.VerifySignature(a.PublicKey) {
		return nil, refusef("signed request %s claims to be from %s, but its signature does not verify with %s's public key in plangate.hcl: it was altered or not made with %s's key",
			req.Fingerprint(), c.Approver, c.Approver, c.Approver)
	}
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.ExpiresAt, 0)
	switch {
	case c.Action != action:
		return nil, refusef("signed request %s from %s is a request to %s, not to %s: a request counts only for the action it names",
			req.Fingerprint(), c.Approver, c.Action, action)
	case c.Subject != subject:
		return nil, refusef("signed request %s from %s is to %s %s, not %s: a request counts only for what it names",
			req.Fingerprint(), c.Approver, c.Action, c.Subject, subject)
	case iat.After(now.Add(ClockSkew)):
		return nil, refusef("signed request %s from %s was issued at %s, which is in the future (now %s): the approver's clock or this machine's clock is wrong",
			req.Fingerprint(), c.Approver, stamp(iat), stamp(now))
	case !now.Before(exp):
		return nil, refusef("signed request %s from %s expired at %s: requests are good for %s; have %s sign it again",
			req.Fingerprint(), c.Approver, stamp(exp), RequestTTL, c.Approver)
	}
	return &c, nil
}

// VerifySignature reports whether pub signed this request.
func (r *Request) VerifySignature(pub ed25519.PublicKey) bool {
	return (&signedText{text: r.Text, sig: r.sig}).verify(pub)
}

// Fingerprint names the request in logs and the audit trail without
// revealing it, as Token.Fingerprint names a token.
func (r *Request) Fingerprint() string { return Fingerprint(r.Text) }

// String is the request's fingerprint, so that a request printed or logged
// by mistake does not leak.
func (r *Request) String() string { return "signed request " + r.Fingerprint() }

// GoString is String, for %#v.
func (r *Request) GoString() string { return r.String() }

// LogValue is String, for log/slog handlers.
func (r *Request) LogValue() slog.Value { return slog.StringValue(r.String()) }
