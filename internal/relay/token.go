package relay

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Token is an agent's bearer token. It prints as [redacted] wherever it
// is formatted or logged; only the Authorization header carries it.
type Token struct{ secret string }

func (t Token) String() string {
	if t.secret == "" {
		return "none"
	}
	return "[redacted]"
}

// Authorization is the value of the Authorization header that carries
// the token.
func (t Token) Authorization() string { return "Bearer " + t.secret }

// GoString keeps %#v from printing the secret.
func (t Token) GoString() string { return "relay.Token(" + t.String() + ")" }

// LogValue keeps slog from printing the secret.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// maxTokenFile bounds what is read of a token file: a token is a line.
const maxTokenFile = 64 << 10

// ReadToken reads the bearer token from the first line of the file at
// path. Like ssh with a private key, it refuses a file that its group or
// others may read: anyone who can read the token can act as the agent.
func ReadToken(path string) (Token, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Token{}, fmt.Errorf("--token-file %s does not exist: save the token `plangate agent-token add --name NAME` printed there (chmod 600)", path)
		}
		return Token{}, fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Token{}, fmt.Errorf("--token-file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Token{}, fmt.Errorf("--token-file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return Token{}, fmt.Errorf("--token-file %s is readable or writable by its group or others (mode %04o), and anyone who reads it can act as this agent: run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return Token{}, fmt.Errorf("--token-file: %w", err)
	}
	secret, err := parseToken(b)
	if err != nil {
		return Token{}, fmt.Errorf("--token-file %s: %w", path, err)
	}
	return Token{secret: secret}, nil
}

// parseToken returns the token on the first line of b. The token goes into
// an HTTP header verbatim, so anything but visible ASCII is refused.
func parseToken(b []byte) (string, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errors.New("its first line is empty: put the token `plangate agent-token add --name NAME` printed on it")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c <= ' ' || c > '~' {
			return "", fmt.Errorf("its first line holds a character no token has (byte %d): it should hold only the token `plangate agent-token add` printed", i+1)
		}
	}
	return line, nil
}
