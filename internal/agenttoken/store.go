package agenttoken

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/plangate/plangate/internal/atomicfile"
	"github.com/plangate/plangate/internal/flock"
	"github.com/plangate/plangate/internal/lazyre"
)

// FileName is the store's file inside the state directory.
const FileName = "agent-tokens.json"

// fileVersion is the store file's format.
const fileVersion = 1

// maxFileSize bounds what is read of the store file (tens of thousands
// of tokens): a larger file is damage, not tokens.
const maxFileSize = 4 << 20

// Info describes a token for a human: never its secret or its hash.
type Info struct {
	Name      string
	Stacks    []string // nil: every stack
	CreatedAt time.Time
	// RevokedAt is when the token was revoked; zero while it is live.
	RevokedAt time.Time
}

// Store is the agent tokens of one state directory. Any number of Stores
// and processes may use one directory at once: writes take a file lock
// and replace the file atomically, and Authenticate notices a changed
// file at the next call.
type Store struct {
	path, lockPath string
	now            func() time.Time

	mu     sync.Mutex
	cached *loaded // the file as last read; nil before the first read
}

// loaded is the store file as read, with the stat that identifies it.
type loaded struct {
	info   os.FileInfo // nil: there was no file
	tokens []record
	hashes [][sha256.Size]byte // tokens[i]'s hash, decoded
}

// storeFile is the file's JSON.
type storeFile struct {
	Version int      `json:"version"`
	Tokens  []record `json:"tokens"`
}

type record struct {
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the token's text.
	SHA256    string    `json:"sha256"`
	Stacks    []string  `json:"stacks,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func (r *record) live() bool { return r.RevokedAt.IsZero() }

// Open opens the store of stateDir, which must exist. A store file that
// exists but cannot be read or parsed is an error here, and at every call
// until it is repaired.
func Open(stateDir string) (*Store, error) {
	if fi, err := os.Stat(stateDir); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", stateDir)
	}
	path := filepath.Join(stateDir, FileName)
	s := &Store{path: path, lockPath: path + ".lock", now: func() time.Time { return time.Now().UTC() }}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the store file's path.
func (s *Store) Path() string { return s.path }

// Add makes a token for the agent name, limited to stacks (none: every
// stack), and returns its text: the only time it is seen. A name may have
// one live token at a time.
func (s *Store) Add(name string, stacks []string, now time.Time) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	stacks, err := normalStacks(stacks)
	if err != nil {
		return "", err
	}
	secret := newSecret()
	sum := hashOf(secret)
	err = s.update(func(tokens []record) ([]record, error) {
		for _, r := range tokens {
			if r.Name == name && r.live() {
				return nil, fmt.Errorf("agent %q already has a live token: revoke it first (plangate agent-token revoke %s), or choose another name", name, name)
			}
		}
		return append(tokens, record{Name: name, SHA256: hex.EncodeToString(sum[:]), Stacks: stacks, CreatedAt: now.UTC()}), nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// List returns every token, live and revoked, in the order they were made.
func (s *Store) List() ([]Info, error) {
	l, err := s.load()
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(l.tokens))
	for i, r := range l.tokens {
		out[i] = Info{Name: r.Name, Stacks: slices.Clone(r.Stacks), CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
	}
	return out, nil
}

// Revoke revokes the live token of the agent name. The revoked token stays
// on file, so that its bearer is told it was revoked rather than unknown.
func (s *Store) Revoke(name string) error {
	return s.update(func(tokens []record) ([]record, error) {
		for i := range tokens {
			if tokens[i].Name == name && tokens[i].live() {
				tokens[i].RevokedAt = s.now()
				return tokens, nil
			}
		}
		return nil, fmt.Errorf("no live agent token named %q: plangate agent-token list shows them", name)
	})
}

// Authenticate returns the agent a bearer token (the token's text, or a
// whole "Bearer <token>" header value) speaks for. A refused token is an
// error that is ErrUnauthorized and says what to do; any other error means
// the store could not be read, and nothing is authenticated. The file is
// read again whenever it changed, so that a revoke or an add made by
// another process applies from the next call.
func (s *Store) Authenticate(bearer string) (*Agent, error) {
	token, err := parseBearer(bearer)
	if err != nil {
		return nil, err
	}
	l, err := s.load()
	if err != nil {
		return nil, err
	}
	sum := hashOf(token)
	match := -1
	// Every hash is compared, in constant time, whatever matched before.
	for i := range l.hashes {
		if subtle.ConstantTimeCompare(sum[:], l.hashes[i][:]) == 1 {
			match = i
		}
	}
	switch {
	case match < 0 && len(l.tokens) == 0:
		return nil, &AuthError{Reason: "this plangate server has no agent tokens yet: " + askOperator}
	case match < 0:
		return nil, &AuthError{Reason: "the bearer token is not one of this plangate server's agent tokens: " + askOperator}
	}
	r := l.tokens[match]
	if !r.live() {
		return nil, &AuthError{Agent: r.Name, Reason: fmt.Sprintf("the agent token of %q was revoked at %s: ask the server's operator for a new one (plangate agent-token add --name %s)",
			r.Name, r.RevokedAt.Format(time.RFC3339), r.Name)}
	}
	return &Agent{Name: r.Name, Stacks: slices.Clone(r.Stacks)}, nil
}

// load returns the file's tokens, read again when the file changed since
// the last read (another inode, size or modification time: every write
// replaces the file).
func (s *Store) load() (*loaded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.cached = &loaded{}
		return s.cached, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent token store: %w", err)
	}
	defer f.Close()
	// The stat of the open file is the stat of what is read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("agent token store: %w", err)
	}
	if c := s.cached; c != nil && c.info != nil && os.SameFile(c.info, fi) && c.info.Size() == fi.Size() && c.info.ModTime().Equal(fi.ModTime()) {
		return c, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("agent token store: %w", err)
	}
	tokens, err := parseFile(data)
	if err != nil {
		return nil, s.damaged(err)
	}
	l := &loaded{info: fi, tokens: tokens, hashes: make([][sha256.Size]byte, len(tokens))}
	for i, r := range tokens {
		hex.Decode(l.hashes[i][:], []byte(r.SHA256)) //nolint:errcheck // parseFile checked it
	}
	s.cached = l
	return l, nil
}

func (s *Store) damaged(err error) error {
	return fmt.Errorf("agent token store %s is damaged: %v — no agent can authenticate until it is repaired: restore it from a backup, or remove it and give every agent a new token (plangate agent-token add)", s.path, err)
}

// update changes the file under its lock: fn gets the tokens as they are
// on disk now, and returns them as they must be.
func (s *Store) update(fn func([]record) ([]record, error)) error {
	return flock.WithFile(s.lockPath, func() error {
		data, err := os.ReadFile(s.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("agent token store: %w", err)
		}
		var tokens []record
		if err == nil {
			if tokens, err = parseFile(data); err != nil {
				return s.damaged(err)
			}
		}
		tokens, err = fn(tokens)
		if err != nil {
			return err
		}
		out, err := json.Marshal(storeFile{Version: fileVersion, Tokens: tokens}, jsontext.WithIndent("  "))
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(s.path, append(out, '\n')); err != nil {
			return fmt.Errorf("writing the agent token store: %w", err)
		}
		return nil
	})
}

var hashPattern = lazyre.New(`^[0-9a-f]{64}$`)

// parseFile reads the store file: anyone who can write the state
// directory controls its bytes. It accepts exactly what Add and Revoke
// write: known members spelt exactly, none twice, valid names and hashes,
// one live token per name and no hash twice.
func parseFile(data []byte) ([]record, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("it is larger than %d bytes", maxFileSize)
	}
	var f storeFile
	if err := json.Unmarshal(data, &f, json.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("it is not a token file: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d is not one this plangate reads (%d)", f.Version, fileVersion)
	}
	liveNames := map[string]bool{}
	hashes := map[string]bool{}
	for i, r := range f.Tokens {
		at := fmt.Sprintf("token %d", i+1)
		if err := checkName(r.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		at += fmt.Sprintf(" (%s)", r.Name)
		if !hashPattern.MatchString(r.SHA256) {
			return nil, fmt.Errorf("%s: sha256 is not 64 lower-case hex digits", at)
		}
		if hashes[r.SHA256] {
			return nil, fmt.Errorf("%s: its sha256 appears twice", at)
		}
		hashes[r.SHA256] = true
		if r.CreatedAt.IsZero() {
			return nil, fmt.Errorf("%s: created_at is missing", at)
		}
		stacks, err := normalStacks(r.Stacks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if !slices.Equal(stacks, r.Stacks) && len(r.Stacks) > 0 {
			return nil, fmt.Errorf("%s: stacks are not sorted, or repeat one", at)
		}
		if r.live() {
			if liveNames[r.Name] {
				return nil, fmt.Errorf("%s: a second live token of the same agent", at)
			}
			liveNames[r.Name] = true
		}
	}
	return f.Tokens, nil
}
