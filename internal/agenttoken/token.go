// Package agenttoken owns the bearer tokens agents present to plangate
// server over TCP: one per agent, named, optionally limited to some stacks,
// stored in state_dir as SHA-256 hashes only (agent-tokens.json), and a
// per-token rate limiter. The secret is shown once, when it is made, and
// never stored: whoever reads state_dir learns which agents exist, not how
// to act as one.
//
// Token text is "pga1_" followed by 32 random bytes in unpadded base64url
// (43 characters): a prefix a secret scanner can match, as plangate's own
// audit log matches approval tokens.
package agenttoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/plangate/plangate/internal/lazyre"
)

// Prefix begins every agent token.
const Prefix = "pga1_"

// secretBytes is the random part's size: 256 bits, beyond guessing.
const secretBytes = 32

// tokenLen is the length of a token's text.
var tokenLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// namePattern is the shape of an agent's name and of a stack's (the same
// as plangate.hcl's names).
var namePattern = lazyre.New(`^[a-z][a-z0-9_-]{0,62}$`)

// Agent is who a valid bearer token speaks for.
type Agent struct {
	Name string
	// Stacks limits the agent to these stacks; nil or empty: every stack.
	Stacks []string
}

// Allows reports whether the agent may act on stack. A nil agent (no
// token) is allowed nothing.
func (a *Agent) Allows(stack string) bool {
	if a == nil {
		return false
	}
	return len(a.Stacks) == 0 || slices.Contains(a.Stacks, stack)
}

// ErrUnauthorized is what every refused bearer token is (errors.Is): no
// token, not a token, not one of this server's, or revoked. Any other
// error from Authenticate means the store could not be read, and the
// request is refused for that reason instead.
var ErrUnauthorized = errors.New("unauthorized")

// AuthError says why a bearer token was refused and what to do, without
// repeating the token.
type AuthError struct {
	// Agent names the token's agent when the token was one (revoked).
	Agent  string
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

// Is makes every AuthError an ErrUnauthorized.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }

const askOperator = "ask the server's operator for one (plangate agent-token add --name <agent>) and send it as Authorization: Bearer <token>, or give it to plangate serve --connect with --token-file"

// newSecret makes a token's text.
func newSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails; it crashes the program instead
	return Prefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashOf is the SHA-256 of a token's text: what the store keeps.
func hashOf(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// parseBearer turns what a client sent (the token, or a whole
// "Bearer <token>" header value) into a token's text, or says why it is
// none. The token itself never appears in the error.
func parseBearer(bearer string) (string, error) {
	t := strings.TrimSpace(bearer)
	if len(t) > 7 && strings.EqualFold(t[:7], "bearer ") {
		t = strings.TrimSpace(t[7:])
	}
	if t == "" {
		return "", &AuthError{Reason: "no bearer token: every request to plangate server over TCP needs an agent token: " + askOperator}
	}
	if len(t) != tokenLen || !strings.HasPrefix(t, Prefix) {
		return "", &AuthError{Reason: fmt.Sprintf("the bearer token is not a plangate agent token (%s followed by %d characters): %s", Prefix, tokenLen-len(Prefix), askOperator)}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(t[len(Prefix):])
	if err != nil || len(raw) != secretBytes {
		return "", &AuthError{Reason: fmt.Sprintf("the bearer token is garbled (after %s it must be %d base64url characters): copy it again from where plangate agent-token add printed it, or %s", Prefix, tokenLen-len(Prefix), askOperator)}
	}
	return t, nil
}

// checkName checks an agent's name.
func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("agent name %q: use 1 to 63 lower-case letters, digits, _ or -, starting with a letter", name)
	}
	return nil
}

// normalStacks checks stack names and returns them sorted, without
// repeats; nil for none (every stack).
func normalStacks(stacks []string) ([]string, error) {
	var out []string
	for _, s := range stacks {
		if !namePattern.MatchString(s) {
			return nil, fmt.Errorf("stack name %q: stack names are 1 to 63 lower-case letters, digits, _ or -, starting with a letter", s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
