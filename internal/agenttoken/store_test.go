package agenttoken

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	require.NoError(t, err)
	return s
}

func TestAddListAuthenticate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ci, err := s.Add("ci", []string{"web", "db", "web"}, t0)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^pga1_[A-Za-z0-9_-]{43}$`), ci)
	dev, err := s.Add("dev-bot", nil, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.NotEqual(t, ci, dev)

	list, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []Info{
		{Name: "ci", Stacks: []string{"db", "web"}, CreatedAt: t0},
		{Name: "dev-bot", CreatedAt: t0.Add(time.Minute)},
	}, list)

	// A fresh Store on the same directory reads what the first wrote.
	other := openStore(t, dir)
	a, err := other.Authenticate(ci)
	require.NoError(t, err)
	assert.Equal(t, &Agent{Name: "ci", Stacks: []string{"db", "web"}}, a)
	assert.True(t, a.Allows("web"))
	assert.False(t, a.Allows("prod"), "a token limited to stacks allows no other")
	a, err = other.Authenticate("Bearer " + dev)
	require.NoError(t, err, "a whole header value is accepted too")
	assert.Equal(t, "dev-bot", a.Name)
	assert.True(t, a.Allows("anything"), "a token without stacks allows every stack")
	assert.False(t, (*Agent)(nil).Allows("web"), "no agent, no stack")

	info, err := os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestOnlyHashesOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	secret, err := s.Add("ci", nil, t0)
	require.NoError(t, err)
	random := strings.TrimPrefix(secret, Prefix)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		assert.NotContains(t, string(b), random, "%s holds the secret", e.Name())
		assert.NotContains(t, string(b), random[:16], "%s holds part of the secret", e.Name())
	}
	sum := hashOf(secret)
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Contains(t, string(b), fmt.Sprintf("%x", sum), "the file holds the hash")
}

func TestDuplicateLiveNameRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	first, err := s.Add("ci", nil, t0)
	require.NoError(t, err)
	_, err = s.Add("ci", []string{"web"}, t0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plangate agent-token revoke ci")

	// Once revoked, the name may have a new token; the old one stays dead.
	require.NoError(t, s.Revoke("ci"))
	second, err := s.Add("ci", nil, t0)
	require.NoError(t, err)
	_, err = s.Authenticate(first)
	assert.ErrorIs(t, err, ErrUnauthorized)
	a, err := s.Authenticate(second)
	require.NoError(t, err)
	assert.Equal(t, "ci", a.Name)
}

func TestBadNamesAndStacksRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, name := range []string{"", "CI", "1ci", "ci bot", strings.Repeat("a", 64), "ci/../x"} {
		_, err := s.Add(name, nil, t0)
		assert.ErrorContains(t, err, "agent name", "%q", name)
	}
	_, err := s.Add("ci", []string{"Web"}, t0)
	assert.ErrorContains(t, err, "stack name")
	list, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, list, "nothing was added")
}

// A revoke made through one Store (another process: the CLI) applies to
// the next request another Store (the server) authenticates.
func TestRevokeTakesEffectWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	server := openStore(t, dir)
	cli := openStore(t, dir)
	secret, err := cli.Add("ci", nil, t0)
	require.NoError(t, err)
	_, err = server.Authenticate(secret)
	require.NoError(t, err, "an add is seen too")

	require.NoError(t, cli.Revoke("ci"))
	_, err = server.Authenticate(secret)
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), `agent token of "ci" was revoked`)
	assert.Contains(t, err.Error(), "plangate agent-token add --name ci")
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ci", ae.Agent)

	list, err := server.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].RevokedAt.IsZero(), "listed as revoked")

	assert.ErrorContains(t, cli.Revoke("ci"), `no live agent token named "ci"`)
	assert.ErrorContains(t, cli.Revoke("nobody"), "plangate agent-token list")
}

func TestBadBearersRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	_, err := s.Authenticate(newSecret())
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "no agent tokens yet")

	secret, err := s.Add("ci", nil, t0)
	require.NoError(t, err)
	flipped := []byte(secret)
	flipped[len(flipped)-5] ^= 0x01
	garbled := secret[:20] + "!" + secret[21:]
	for name, bearer := range map[string]string{
		"empty":          "",
		"blank":          "   ",
		"bearer only":    "Bearer ",
		"another token":  newSecret(),
		"one bit off":    string(flipped),
		"garbled":        garbled,
		"truncated":      secret[:len(secret)-1],
		"longer":         secret + "A",
		"no prefix":      strings.TrimPrefix(secret, Prefix),
		"other prefix":   "pgt1_" + strings.TrimPrefix(secret, Prefix),
		"approval token": "pgt1.eyJhcHByb3ZlciI6Im9uY2FsbCJ9.c2ln",
		"padded":         secret[:len(secret)-1] + "=",
	} {
		t.Run(name, func(t *testing.T) {
			a, err := s.Authenticate(bearer)
			require.ErrorIs(t, err, ErrUnauthorized)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), "plangate agent-token add", "says what to do")
			if len(bearer) > 8 {
				assert.NotContains(t, err.Error(), strings.TrimSpace(bearer)[6:], "never echoes the token")
			}
		})
	}
}

func TestDamagedFileFailsClosed(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	secret, err := s.Add("ci", nil, t0)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version":1,"tokens":[`), 0o600))

	_, err = s.Authenticate(secret)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnauthorized, "a damaged store is not a bad token: the server answers it as its own failure")
	assert.Contains(t, err.Error(), "is damaged")
	_, err = s.Add("dev", nil, t0)
	assert.ErrorContains(t, err, "is damaged", "nothing is written over a damaged file")
	_, err = Open(dir)
	assert.ErrorContains(t, err, "is damaged")
}

func TestParseFileRefusals(t *testing.T) {
	const h = "0000000000000000000000000000000000000000000000000000000000000000"
	const h2 = "1111111111111111111111111111111111111111111111111111111111111111"
	tok := func(name, hash, extra string) string {
		return `{"name":"` + name + `","sha256":"` + hash + `","created_at":"2026-03-01T12:00:00Z"` + extra + `}`
	}
	file := func(tokens ...string) string {
		return `{"version":1,"tokens":[` + strings.Join(tokens, ",") + `]}`
	}
	_, err := parseFile([]byte(file(tok("ci", h, ""), tok("ci", h2, `,"revoked_at":"2026-03-01T13:00:00Z"`))))
	require.NoError(t, err, "a live and a revoked token of one agent")
	for name, tc := range map[string]struct{ data, want string }{
		"empty":            {``, "not a token file"},
		"not json":         {`tokens`, "not a token file"},
		"trailing data":    {file() + `{}`, "not a token file"},
		"unknown member":   {`{"version":1,"tokens":[],"admin":true}`, "not a token file"},
		"duplicate member": {`{"version":1,"version":1,"tokens":[]}`, "not a token file"},
		"case folded":      {`{"Version":1,"tokens":[]}`, "not a token file"},
		"no version":       {`{"tokens":[]}`, "version 0"},
		"future version":   {`{"version":2,"tokens":[]}`, "version 2"},
		"bad name":         {file(tok("CI", h, "")), "agent name"},
		"bad hash":         {file(tok("ci", strings.ToUpper(h[:63])+"A", "")), "sha256"},
		"short hash":       {file(tok("ci", h[:10], "")), "sha256"},
		"hash twice":       {file(tok("ci", h, ""), tok("dev", h, "")), "appears twice"},
		"two live":         {file(tok("ci", h, ""), tok("ci", h2, "")), "second live token"},
		"no created_at":    {file(`{"name":"ci","sha256":"` + h + `"}`), "created_at"},
		"bad stack":        {file(tok("ci", h, `,"stacks":["Web"]`)), "stack name"},
		"unsorted stacks":  {file(tok("ci", h, `,"stacks":["web","db"]`)), "not sorted"},
		"secret member":    {file(tok("ci", h, `,"secret":"pga1_x"`)), "not a token file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseFile([]byte(tc.data))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// Concurrent adds, from goroutines each with its own Store as separate
// processes would be, all land: the lock keeps one from overwriting another.
func TestConcurrentAdds(t *testing.T) {
	dir := t.TempDir()
	const n = 24
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir)
			if !assert.NoError(t, err) {
				return
			}
			secrets[i], err = s.Add(fmt.Sprintf("agent-%d", i), nil, t0)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	s := openStore(t, dir)
	list, err := s.List()
	require.NoError(t, err)
	assert.Len(t, list, n)
	for i, secret := range secrets {
		a, err := s.Authenticate(secret)
		require.NoError(t, err, "agent-%d", i)
		assert.Equal(t, fmt.Sprintf("agent-%d", i), a.Name)
	}
}

// Only one of many concurrent adds of one name wins.
func TestConcurrentAddsOfOneName(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir)
			if !assert.NoError(t, err) {
				return
			}
			if _, err := s.Add("ci", nil, t0); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, won)
}

func TestOpenNeedsTheStateDir(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
