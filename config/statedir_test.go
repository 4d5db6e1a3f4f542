package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outsideWorkTree returns a temporary directory, skipping the test when
// the machine's temp dir itself lies in a git work tree.
func outsideWorkTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if root, ok := InsideWorkTree(dir); ok {
		t.Skipf("the temp dir %s is inside the git work tree %s", dir, root)
	}
	return dir
}

func TestDefaultStateDirIsTheUsersStateDir(t *testing.T) {
	state := outsideWorkTree(t)
	t.Setenv("XDG_STATE_HOME", state)
	root := outsideWorkTree(t)
	path := filepath.Join(root, "myrepo", "plangate.hcl")
	mustWrite(t, path, "")

	dir, err := DefaultStateDir(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(state, "plangate"), filepath.Dir(dir))
	assert.Regexp(t, regexp.MustCompile(`^myrepo-[0-9a-f]{8}$`), filepath.Base(dir))

	again, err := DefaultStateDir(path)
	require.NoError(t, err)
	assert.Equal(t, dir, again, "one config always finds the same directory")

	other := filepath.Join(root, "elsewhere", "myrepo", "plangate.hcl")
	mustWrite(t, other, "")
	otherDir, err := DefaultStateDir(other)
	require.NoError(t, err)
	assert.NotEqual(t, dir, otherDir, "two checkouts of one repository never share records")
	assert.Regexp(t, regexp.MustCompile(`^myrepo-[0-9a-f]{8}$`), filepath.Base(otherDir))

	link := filepath.Join(root, "link")
	require.NoError(t, os.Symlink(filepath.Join(root, "myrepo"), link))
	viaLink, err := DefaultStateDir(filepath.Join(link, "plangate.hcl"))
	require.NoError(t, err)
	assert.Equal(t, dir, viaLink, "a config reached through a symlink is the same config")

	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, dir, cfg.StateDir, "Load uses the default when state_dir is not set")
}

func TestDefaultStateDirWithoutXDG(t *testing.T) {
	home := outsideWorkTree(t)
	t.Setenv("HOME", home)
	for _, xdg := range []string{"", "relative/state"} { // a relative value is ignored, as the spec says
		t.Run("XDG_STATE_HOME="+xdg, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", xdg)
			dir, err := defaultStateDir("/src/app/plangate.hcl", "linux", os.Getenv)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(home, ".local", "state", "plangate"), filepath.Dir(dir))
		})
	}
}

func TestUserStateDirPerOS(t *testing.T) {
	tests := []struct {
		name, goos string
		env        map[string]string
		want       string
		wantErr    string
	}{
		{name: "linux", goos: "linux", env: map[string]string{"HOME": "/home/a"}, want: "/home/a/.local/state"},
		{name: "freebsd", goos: "freebsd", env: map[string]string{"HOME": "/home/a"}, want: "/home/a/.local/state"},
		{name: "xdg wins", goos: "linux", env: map[string]string{"HOME": "/home/a", "XDG_STATE_HOME": "/xdg"}, want: "/xdg"},
		{name: "macOS", goos: "darwin", env: map[string]string{"HOME": "/Users/a"}, want: "/Users/a/Library/Application Support"},
		{name: "macOS honours an explicit XDG_STATE_HOME", goos: "darwin", env: map[string]string{"HOME": "/Users/a", "XDG_STATE_HOME": "/xdg"}, want: "/xdg"},
		{name: "windows", goos: "windows", env: map[string]string{"LocalAppData": "/c/Users/a/AppData/Local"}, want: "/c/Users/a/AppData/Local"},
		{name: "no home", goos: "linux", env: map[string]string{}, wantErr: "$HOME and $XDG_STATE_HOME are not set"},
		{name: "windows without LocalAppData", goos: "windows", env: map[string]string{}, wantErr: "%LocalAppData% is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := userStateDir(tt.goos, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, filepath.FromSlash(tt.want), got)
		})
	}
}

func TestLoadWithoutAStateDirToUse(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	path := writeConfig(t, "")
	_, err := Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "set state_dir in "+path)

	path = writeConfig(t, `state_dir = "state"`+"\n")
	cfg, err := Load(path)
	require.NoError(t, err, "an explicit state_dir needs no home")
	assert.Equal(t, filepath.Join(filepath.Dir(path), "state"), cfg.StateDir)
}

func TestInsideWorkTree(t *testing.T) {
	root := outsideWorkTree(t)
	repo := filepath.Join(root, "repo")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))
	worktree := filepath.Join(root, "worktree")
	mustWrite(t, filepath.Join(worktree, ".git"), "gitdir: "+repo+"/.git/worktrees/w\n")
	plain := filepath.Join(root, "plain")
	require.NoError(t, os.MkdirAll(plain, 0o755))
	link := filepath.Join(root, "link")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "state"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(repo, "state"), link))

	tests := []struct {
		name, dir, root string
	}{
		{name: "a repository's .plangate", dir: filepath.Join(repo, ".plangate"), root: repo},
		{name: "deep and not yet created", dir: filepath.Join(repo, "a", "b", "c"), root: repo},
		{name: "the work tree root itself", dir: repo, root: repo},
		{name: "a git worktree (.git is a file)", dir: filepath.Join(worktree, "state"), root: worktree},
		{name: "a symlink into a repository", dir: filepath.Join(link, "x"), root: repo},
		{name: "no work tree", dir: filepath.Join(plain, "state")},
		{name: "empty", dir: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := InsideWorkTree(tt.dir)
			assert.Equal(t, tt.root != "", ok)
			if tt.root != "" {
				real, err := filepath.EvalSymlinks(tt.root)
				require.NoError(t, err)
				assert.Contains(t, []string{tt.root, real}, got)
			}
		})
	}
}

func TestStateDirWarning(t *testing.T) {
	state := outsideWorkTree(t)
	t.Setenv("XDG_STATE_HOME", state)
	repo := filepath.Join(outsideWorkTree(t), "repo")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))

	t.Run("the default keeps the state out of the repository", func(t *testing.T) {
		path := filepath.Join(repo, "plangate.hcl")
		mustWrite(t, path, "")
		cfg, err := Load(path)
		require.NoError(t, err)
		assert.NotContains(t, cfg.StateDir, repo)
		assert.Empty(t, cfg.StateDirWarning())
	})

	t.Run("a state_dir in the repository", func(t *testing.T) {
		path := filepath.Join(repo, "infra", "plangate.hcl")
		mustWrite(t, path, `state_dir = ".plangate"`+"\n")
		cfg, err := Load(path)
		require.NoError(t, err)
		def, err := DefaultStateDir(path)
		require.NoError(t, err)
		w := cfg.StateDirWarning()
		for _, want := range []string{
			"state_dir " + filepath.Join(repo, "infra", ".plangate") + " is inside the git work tree " + repo,
			"an agent that edits files there can edit plangate's records",
			"set state_dir in " + path + " outside it",
			"the default is " + def,
		} {
			assert.Contains(t, w, want)
		}
	})

	t.Run("a user state directory inside a work tree", func(t *testing.T) {
		t.Setenv("XDG_STATE_HOME", filepath.Join(repo, "home-state"))
		path := filepath.Join(outsideWorkTree(t), "plangate.hcl")
		mustWrite(t, path, "")
		cfg, err := Load(path)
		require.NoError(t, err)
		assert.Contains(t, cfg.StateDirWarning(), "this is the default")
	})

	t.Run("no config state dir", func(t *testing.T) {
		assert.Empty(t, (&Config{}).StateDirWarning())
	})
}
