package approvals

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/passkey"
)

const (
	// TokenPrefix starts every approval token; the version is in it.
	TokenPrefix = "pgt1."
	// MaxTokenLength bounds a token's normalized text. Real tokens are
	// about 450 characters.
	MaxTokenLength = 2048
	// maxPastedLength bounds the text Parse looks at before removing
	// whitespace, so that a huge paste costs nothing.
	maxPastedLength = pasteSlack * MaxTokenLength
	// nonceSize is the number of random bytes in a token's nonce.
	nonceSize = 16
)

var (
	b64 = base64.RawURLEncoding.Strict()
	// uuidV4Pattern is the shape of plan ids (github.com/google/uuid's
	// String of a random uuid).
	uuidV4Pattern = lazyre.New(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	sha256Pattern = lazyre.New(`^[0-9a-f]{64}$`)
)

// Claims are what an approver signs: exactly one plan file of one stack,
// for a limited time, once.
type Claims struct {
	Approver   string `json:"approver"`
	PlanID     string `json:"plan_id"`     // full uuid
	PlanSHA256 string `json:"plan_sha256"` // 64 lowercase hex
	Stack      string `json:"stack"`
	IssuedAt   int64  `json:"iat"` // unix seconds
	ExpiresAt  int64  `json:"exp"`
	Nonce      string `json:"nonce"` // base64url of 16 random bytes
}

var claimFields = []string{"approver", "plan_id", "plan_sha256", "stack", "iat", "exp", "nonce"}

// Token is a parsed approval token. Parsing checks its form only; Verify
// decides whether it approves a plan.
type Token struct {
	Claims Claims
	// Text is the token with whitespace removed: the exact text that was
	// signed and fingerprinted.
	Text string

	sig       []byte             // pgt1: over "pgt1.<payload b64>", the start of Text
	assertion *passkey.Assertion // pgt2: the WebAuthn assertion
}

// Issue signs an approval of one plan file by k's approver. The token
// expires at now+ttl or when the plan does, whichever is first (ttl <= 0:
// when the plan does). It returns the token text and its claims.
func Issue(k *PrivateKey, planID, planSHA256, stack string, planExpires, now time.Time, ttl time.Duration) (string, *Claims, error) {
	if k == nil || len(k.Key) != ed25519.PrivateKeySize {
		return "", nil, errors.New("issue approval token: no valid approver key")
	}
	c, err := newClaims(k.Approver, planID, planSHA256, stack, planExpires, now, ttl)
	if err != nil {
		return "", nil, err
	}
	text, err := sign(k.Key, c)
	if err != nil {
		return "", nil, err
	}
	return text, c, nil
}

// NewPayload makes the claims a passkey approver signs on the review page,
// with Issue's expiry rules, and their payload: the JSON a pgt2 token
// carries, base64url without padding. The WebAuthn challenge is the
// SHA-256 of the decoded payload (passkey.Challenge); passkey.
// TokenFromAssertion turns the browser's assertion into the token.
func NewPayload(approver, planID, planSHA256, stack string, planExpires, now time.Time, ttl time.Duration) (string, *Claims, error) {
	c, err := newClaims(approver, planID, planSHA256, stack, planExpires, now, ttl)
	if err != nil {
		return "", nil, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", nil, fmt.Errorf("make approval payload: %w", err)
	}
	return b64.EncodeToString(payload), c, nil
}

// newClaims makes the claims of a new approval: they expire at now+ttl or
// when the plan does, whichever is first (ttl <= 0: when the plan does).
func newClaims(approver, planID, planSHA256, stack string, planExpires, now time.Time, ttl time.Duration) (*Claims, error) {
	if !planExpires.After(now) {
		return nil, fmt.Errorf("plan %s expired at %s: it can no longer be approved; ask the agent to plan the change again",
			planID, planExpires.UTC().Format(time.RFC3339))
	}
	exp := planExpires
	if ttl > 0 && now.Add(ttl).Before(exp) {
		exp = now.Add(ttl)
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("issue approval token: %w", err)
	}
	c := &Claims{
		Approver:   approver,
		PlanID:     planID,
		PlanSHA256: planSHA256,
		Stack:      stack,
		IssuedAt:   now.Unix(),
		// Unix() rounds down, so the token never outlives the plan.
		ExpiresAt: exp.Unix(),
		Nonce:     b64.EncodeToString(nonce),
	}
	if c.ExpiresAt <= c.IssuedAt {
		return nil, fmt.Errorf("plan %s expires in less than a second: it can no longer be approved; ask the agent to plan the change again", planID)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("issue approval token: %w", err)
	}
	return c, nil
}

// sign encodes and signs claims as they are, without checking them.
func sign(key ed25519.PrivateKey, c *Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("issue approval token: %w", err)
	}
	return tokenForm.sign(key, payload), nil
}

// tokenForm is the text form of approval tokens.
var tokenForm = signedForm{prefix: TokenPrefix, plural: "tokens", maxLen: MaxTokenLength}

const tokenInvalid = "approval token is not valid: "

// tokenProblem is how Parse refuses: what is wrong with the token, and
// what the human can do, without ever quoting the token.
func tokenProblem(what string) *RefusalError {
	return &RefusalError{Reason: tokenInvalid + what +
		"; copy the whole token that plangate approve printed on its last line, unchanged (line breaks do not matter), or ask the approver to run plangate approve again"}
}

// isPasskeyToken reports whether text, whitespace removed, starts as a
// pgt2 token does.
func isPasskeyToken(text string) bool {
	head := text[:min(len(text), 64)]
	return strings.HasPrefix(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, head), PasskeyTokenPrefix)
}

// Parse reads a token as a human pasted it: all whitespace is removed (a
// token wrapped across lines still parses), and anything else that differs
// from what Issue produced is refused with a *RefusalError. A pgt2 token
// (a passkey's, from the review page) is read by passkey.ParseToken, and
// its payload as strictly as a pgt1 token's.
func Parse(text string) (*Token, error) {
	if isPasskeyToken(text) {
		return parsePasskeyToken(text)
	}
	sm, err := tokenForm.open(text)
	if err != nil {
		return nil, tokenProblem(err.Error())
	}
	var c Claims
	if err := decodeCanonical(sm.payload, claimFields, &c, tokenForm.plural); err != nil {
		return nil, tokenProblem("its payload " + err.Error())
	}
	return &Token{Claims: c, Text: sm.text, sig: sm.sig}, nil
}

// maxTokenLifetime bounds exp - iat: no plan lives longer.
const maxTokenLifetime = config.MaxPlanTTL

// validate checks the form of every claim.
func (c *Claims) validate() error {
	switch {
	case !namePattern.MatchString(c.Approver):
		return errors.New("approver is not a valid approver name")
	case !uuidV4Pattern.MatchString(c.PlanID):
		return errors.New("plan_id is not a full plan id")
	case !sha256Pattern.MatchString(c.PlanSHA256):
		return errors.New("plan_sha256 is not 64 lower-case hex digits")
	case !namePattern.MatchString(c.Stack):
		return errors.New("stack is not a valid stack name")
	}
	return validateWindow(c.IssuedAt, c.ExpiresAt, maxTokenLifetime, "a plan", c.Nonce)
}

// validateWindow checks the claims every signed text shares: iat and exp
// a window no longer than maxLife (what names whose), and a nonce.
func validateWindow(iat, exp int64, maxLife time.Duration, what, nonce string) error {
	switch {
	case iat <= 0:
		return errors.New("iat is not a time")
	case exp <= iat:
		return errors.New("exp is not after iat")
	case exp-iat > int64(maxLife/time.Second):
		return fmt.Errorf("it would live longer than %s may (%s)", what, maxLife)
	}
	if n, err := decodeB64URL(nonce); err != nil || len(n) != nonceSize {
		return fmt.Errorf("nonce is not %d bytes of base64url", nonceSize)
	}
	return nil
}

// Fingerprint names the token in logs and the audit trail without
// revealing it: "sha256:" and the first 16 hex digits of the SHA-256 of the
// normalized text.
func (t *Token) Fingerprint() string {
	return Fingerprint(t.Text)
}

// Fingerprint is Token.Fingerprint for a normalized token text.
func Fingerprint(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// VerifySignature reports whether pub signed this token.
func (t *Token) VerifySignature(pub ed25519.PublicKey) bool {
	return (&signedText{text: t.Text, sig: t.sig}).verify(pub)
}

// String is the token's fingerprint, so that a token printed or logged by
// mistake does not leak.
func (t *Token) String() string { return "approval token " + t.Fingerprint() }

// GoString is String, for %#v.
func (t *Token) GoString() string { return t.String() }

// LogValue is String, for log/slog handlers that would otherwise encode the
// struct's fields.
func (t *Token) LogValue() slog.Value { return slog.StringValue(t.String()) }
