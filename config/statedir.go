package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The state directory holds what plangate trusts to be its own: plan
// records, the approvals ledger, the audit log, freeze markers. An agent
// edits files in its repository, so the default lies outside every
// repository, in the user's state directory, and a state_dir set inside a
// git work tree is warned about wherever a human or an agent looks.

// DefaultStateDir returns the state_dir of the config file at configPath
// when the file sets none: <user state dir>/plangate/<name>.
//
// The user state dir is $XDG_STATE_HOME when it is set to an absolute path
// (on any OS), else ~/.local/state on Linux, the BSDs and other Unix,
// ~/Library/Application Support on macOS, and %LocalAppData% on Windows.
//
// <name> is the config directory's base name, a dash, and the first 8 hex
// digits of the SHA-256 of the config file's absolute path (symlinks
// resolved when the file exists), for example myrepo-3f2a9c1d: a human can
// tell which project it belongs to, one config always finds the same
// directory, and two configs (two checkouts of one repository) never share
// records.
func DefaultStateDir(configPath string) (string, error) {
	return defaultStateDir(configPath, runtime.GOOS, os.Getenv)
}

// RecordDir is where plangate keeps the accepted config of the config
// file at configPath: like DefaultStateDir, but hashed from the path as
// given, symlinks not resolved. The file the agent edits may be replaced
// by a symlink to another copy; the path plangate is started with is not
// the agent's to choose, so the record stays the same.
func RecordDir(configPath string) (string, error) {
	base, err := userStateDir(runtime.GOOS, os.Getenv)
	if err != nil {
		return "", fmt.Errorf("the user's state directory is unknown (%v)", err)
	}
	name, err := dirName(configPath, false)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "plangate", name), nil
}

func defaultStateDir(configPath, goos string, getenv func(string) string) (string, error) {
	base, err := userStateDir(goos, getenv)
	if err != nil {
		return "", fmt.Errorf("no state_dir is set and the user's state directory is unknown (%v): set state_dir in %s", err, configPath)
	}
	name, err := stateDirName(configPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "plangate", name), nil
}

// userStateDir is the per-user directory for state that should persist
// but is not configuration: the XDG base directory spec's state home, or
// the nearest the OS has to it.
func userStateDir(goos string, getenv func(string) string) (string, error) {
	// The spec says a relative value is invalid and to be ignored.
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return x, nil
	}
	switch goos {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return "", errors.New("%LocalAppData% is not set")
	case "darwin", "ios":
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("$HOME is not set")
		}
		return filepath.Join(home, "Library", "Application Support"), nil
	default:
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("$HOME and $XDG_STATE_HOME are not set")
		}
		return filepath.Join(home, ".local", "state"), nil
	}
}

// stateDirName is <name> of DefaultStateDir.
func stateDirName(configPath string) (string, error) {
	return dirName(configPath, true)
}

// dirName names a config's directory under the user state dir: the
// config directory's base name and a hash of its absolute path, with
// symlinks resolved or not.
func dirName(configPath string, resolve bool) (string, error) {
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return "", fmt.Errorf("locate config file %s: %w", configPath, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil && resolve {
		abs = real
	}
	sum := sha256.Sum256([]byte(abs))
	base := filepath.Base(filepath.Dir(abs))
	if base == "" || base == "." || strings.ContainsAny(base, `/\:`) {
		base = "root" // the config lives at a filesystem root
	}
	const maxBase = 64 // with the hash, well within any file name limit
	if len(base) > maxBase {
		base = strings.ToValidUTF8(base[:maxBase], "") // a cut rune is dropped
	}
	return base + "-" + hex.EncodeToString(sum[:4]), nil
}

// InsideWorkTree reports whether dir lies inside a git work tree, and that
// tree's root: the nearest of dir and its parents that holds a .git
// directory or file (a worktree's or submodule's). It looks at the path as
// given and, when that differs, with symlinks resolved; dir need not exist.
// It runs no git and stops at the filesystem root.
func InsideWorkTree(dir string) (root string, ok bool) {
	if dir == "" {
		return "", false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	if root, ok := workTreeAbove(abs); ok {
		return root, true
	}
	if real := ResolveExisting(abs); real != "" && real != abs {
		return workTreeAbove(real)
	}
	return "", false
}

func workTreeAbove(dir string) (string, bool) {
	for d := dir; ; {
		if fi, err := os.Lstat(filepath.Join(d, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
			return d, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

// ResolveExisting resolves the symlinks of the longest existing prefix of
// the absolute path p and appends the rest; "" when nothing resolves.
func ResolveExisting(p string) string {
	rest := ""
	for {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// StateDirWarning says why the config's state_dir is within reach of an
// agent that edits files in its repository, and what to do; it is "" when
// the state_dir is not inside a git work tree. Every place a human or an
// agent is told (serve's log, the CLI, list_stacks, the approve screen)
// shows this one message.
func (c *Config) StateDirWarning() string {
	root, ok := InsideWorkTree(c.StateDir)
	if !ok {
		return ""
	}
	msg := fmt.Sprintf("state_dir %s is inside the git work tree %s: an agent that edits files there can edit plangate's records "+
		"(plans, the approvals ledger, the audit log, freeze markers); set state_dir in %s outside it",
		c.StateDir, root, c.Path)
	def, err := DefaultStateDir(c.Path)
	switch {
	case err != nil:
		return msg
	case def == c.StateDir:
		return msg + " (this is the default, the user's state directory, and it is itself inside that work tree)"
	}
	if _, in := InsideWorkTree(def); in {
		return msg + fmt.Sprintf(" (the default, %s, is inside a git work tree too)", def)
	}
	return msg + fmt.Sprintf(" (the default is %s: remove state_dir to use it)", def)
}
