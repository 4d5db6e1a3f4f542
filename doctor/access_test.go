package doctor

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openTempDir is a temporary directory every user may search (t.TempDir's
// parent is private to the test's user), for accounts other than ours.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("x"), mode))
	require.NoError(t, os.Chmod(path, mode))
}

// The decisions come from modes, owners and groups alone, so an account
// that does not exist (another uid than ours) sees our files as another
// user would; these run as any user.
func TestAccess(t *testing.T) {
	me, mygid := os.Getuid(), os.Getgid()
	stranger := &Account{Name: "stranger", UID: 4242, GIDs: []int{4242}}
	member := &Account{Name: "member", UID: 4243, GIDs: []int{4243, mygid}}
	self := &Account{Name: "self", UID: me, GIDs: []int{mygid}}
	root := &Account{Name: "root", UID: 0, GIDs: []int{0}}

	dir := openTempDir(t)
	public := filepath.Join(dir, "public", "f")
	writeFile(t, public, 0o644)
	private := filepath.Join(dir, "private", "f")
	writeFile(t, private, 0o600)
	group := filepath.Join(dir, "group", "f")
	writeFile(t, group, 0o640)
	hidden := filepath.Join(dir, "hidden", "f")
	writeFile(t, hidden, 0o644)
	require.NoError(t, os.Chmod(filepath.Dir(hidden), 0o700))
	open := filepath.Join(dir, "open", "f")
	writeFile(t, open, 0o644)
	require.NoError(t, os.Chmod(filepath.Dir(open), 0o777))
	sticky := filepath.Join(dir, "sticky", "f")
	writeFile(t, sticky, 0o644)
	require.NoError(t, os.Chmod(filepath.Dir(sticky), os.ModeSticky|0o777))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(filepath.Dir(open), link))

	for _, tc := range []struct {
		name      string
		who       *Account
		path      string
		read      bool
		write     bool
		writeWhy  string
		skipAsOwn bool // meaningless when the test runs as root
	}{
		{"a world-readable file", stranger, public, true, false, "not writable by stranger", false},
		{"a private file", stranger, private, false, false, "", false},
		{"a group-readable file, to a member", member, group, true, false, "", false},
		{"a group-readable file, to others", stranger, group, false, false, "", false},
		{"a file in a directory it cannot search", stranger, hidden, false, false, "", false},
		{"a file in a directory it may write", stranger, open, true, true, "can replace " + open, false},
		{"a file in a sticky directory", stranger, sticky, true, false, "", false},
		{"a file it owns", self, private, true, true, "owns", true},
		{"a file that does not exist, in a directory it may write", stranger, filepath.Join(dir, "open", "new"), false, true, "can create", false},
		{"a file that does not exist, elsewhere", stranger, filepath.Join(dir, "public", "new"), false, false, "does not exist", false},
		{"through a symlink to a directory it may write", stranger, filepath.Join(link, "f"), true, true, "can replace", false},
		{"root", root, private, true, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skipAsOwn && os.Getuid() == 0 {
				t.Skip("running as root: the owner's case is root's")
			}
			fa := newAccess(tc.who)
			if _, err := os.Stat(tc.path); err == nil {
				r, err := fa.read(tc.path)
				require.NoError(t, err)
				assert.Equal(t, tc.read, r.yes, r.why)
			}
			w, err := fa.write(tc.path)
			require.NoError(t, err)
			assert.Equal(t, tc.write, w.yes, w.why)
			assert.Contains(t, w.why, tc.writeWhy)
		})
	}
}

func TestWalkState(t *testing.T) {
	stranger := &Account{Name: "stranger", UID: 4242, GIDs: []int{4242}}
	state := filepath.Join(openTempDir(t), "state")
	writeFile(t, filepath.Join(state, "plans", "p1", planFile), 0o600)
	writeFile(t, filepath.Join(state, "audit.log"), 0o644)
	writeFile(t, filepath.Join(state, "ledger.jsonl"), 0o666)
	require.NoError(t, os.Chmod(state, 0o755))

	readable, writable, err := walkState(newAccess(stranger), state)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"audit.log", "ledger.jsonl"}, readable, "the plan file is 0600")
	require.Len(t, writable, 1)
	assert.Contains(t, writable[0], "ledger.jsonl")

	require.NoError(t, os.Chmod(state, 0o700))
	readable, writable, err = walkState(newAccess(stranger), state)
	require.NoError(t, err)
	assert.Empty(t, readable, "state_dir 0700 stops every read")
	assert.Empty(t, writable)
}

// A fake /proc: a plangate server of this config, one of another config,
// a relay and another program.
func TestServerProcess(t *testing.T) {
	proc := t.TempDir()
	cfg := "/srv/plangate/plangate.hcl"
	add := func(pid, uid int, args ...string) {
		d := filepath.Join(proc, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(d, 0o755))
		cmdline := ""
		for _, a := range args {
			cmdline += a + "\x00"
		}
		require.NoError(t, os.WriteFile(filepath.Join(d, "cmdline"), []byte(cmdline), 0o644))
		u := strconv.Itoa(uid)
		require.NoError(t, os.WriteFile(filepath.Join(d, "status"), []byte("Name:\tplangate\nUid:\t"+u+"\t"+u+"\t"+u+"\t"+u+"\n"), 0o644))
	}
	agent := &Account{Name: "agent", UID: 1000, GIDs: []int{1000}}

	add(10, 998, "/usr/local/bin/plangate", "server", "--listen", "unix:/run/plangate.sock", "--config", cfg)
	add(11, 1000, "/usr/local/bin/plangate", "serve", "--connect", "unix:/run/plangate.sock")
	add(12, 1000, "/usr/local/bin/plangate", "serve", "--config=/home/agent/other/plangate.hcl")
	add(13, 1000, "/usr/bin/bash")
	c := serverProcess(proc, cfg, newAccess(agent), false)
	assert.Equal(t, StatusOK, c.Status, c.Fact)
	assert.Contains(t, c.Fact, "pid 10")
	assert.NotContains(t, c.Fact, "pid 11", "a relay holds no credentials")
	assert.NotContains(t, c.Fact, "pid 12", "another config's server is another deployment")

	add(14, 1000, "/home/agent/bin/plangate", "serve", "--config", cfg)
	c = serverProcess(proc, cfg, newAccess(agent), false)
	assert.Equal(t, StatusFail, c.Status, c.Fact)
	assert.Contains(t, c.Fact, "pid 14")
	assert.Contains(t, c.Fact, "environ")

	empty := t.TempDir()
	c = serverProcess(empty, cfg, newAccess(agent), false)
	assert.Equal(t, StatusUnknown, c.Status)
	assert.False(t, c.OK)
}
