package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/plangate/plangate/config"
)

// Account is the OS user an agent runs as: what its file access is decided
// by. Access is decided from file modes, owners and the account's groups;
// POSIX ACLs and capabilities are not read.
type Account struct {
	Name string
	UID  int
	GIDs []int // the primary group first
}

// LookupAccount returns the account named name, or the invoking user's
// when name is "".
func LookupAccount(name string) (*Account, error) {
	var u *user.User
	var err error
	if name == "" {
		u, err = user.Current()
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	return accountOf(u)
}

// LookupUID returns the account with uid: a peer of plangate server's
// socket, as the kernel names it.
func LookupUID(uid int) (*Account, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, fmt.Errorf("uid %d has no user on this machine: %w", uid, err)
	}
	return accountOf(u)
}

func accountOf(u *user.User) (*Account, error) {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s has uid %q, not a number: plangate doctor decides access from Unix file modes", u.Username, u.Uid)
	}
	a := &Account{Name: u.Username, UID: uid}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %s: %w", u.Username, err)
	}
	primary, _ := strconv.Atoi(u.Gid)
	a.GIDs = append(a.GIDs, primary)
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil && n != primary {
			a.GIDs = append(a.GIDs, n)
		}
	}
	return a, nil
}

// Root reports whether the account is the superuser, which file modes do not stop.
func (a *Account) Root() bool { return a.UID == 0 }

func (a *Account) String() string { return fmt.Sprintf("%s (uid %d)", a.Name, a.UID) }

// rootFact is the fact of every file check when the agent is root.
func (a *Account) rootFact() string {
	return fmt.Sprintf("the agent's user %s is the superuser (uid 0): it can read and write every file on this machine", a.Name)
}

// bits of a permission triplet.
const (
	permRead  = 4
	permWrite = 2
	permExec  = 1
)

// Absent stands in for the agent's account where doctor has none to
// examine: the agent's user is on another host, so this machine's files
// are out of its reach by that fact (Holds), or who it is could not be
// told (the checks are unknown).
type Absent struct {
	Holds bool
	// Fact says which, Fix what to do when it does not hold.
	Fact, Fix string
}

func (a *Absent) check(name, guarantee string) Check {
	if a.Holds {
		return ok(name, guarantee, a.Fact)
	}
	return unknown(name, guarantee, a.Fact, a.Fix)
}

// access decides an account's access to paths, caching what it stats.
// With absent set there is no account (who is nil): the checks take
// absent's verdict instead.
type access struct {
	who    *Account
	absent *Absent
	stats  map[string]statResult
}

// name is the agent's user in facts and fixes.
func (c *access) name() string {
	if c.who == nil {
		return "the agent's user"
	}
	return c.who.Name
}

type statResult struct {
	info fs.FileInfo
	err  error
}

func newAccess(who *Account) *access {
	return &access{who: who, stats: map[string]statResult{}}
}

// lstat is a cached os.Lstat.
func (c *access) lstat(p string) (fs.FileInfo, error) {
	if r, ok := c.stats[p]; ok {
		return r.info, r.err
	}
	fi, err := os.Lstat(p)
	c.stats[p] = statResult{fi, err}
	return fi, err
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// may reports whether the account has the permission bit on fi. The owner
// may always: it can chmod the file to grant itself anything.
func (c *access) may(fi fs.FileInfo, bit os.FileMode) bool {
	if c.who.Root() {
		return true
	}
	uid, gid := owner(fi)
	perm := fi.Mode().Perm()
	switch {
	case uid == c.who.UID:
		return true
	case slices.Contains(c.who.GIDs, gid):
		return perm>>3&bit != 0
	default:
		return perm&bit != 0
	}
}

// describe is a file's owner, group and mode, for facts.
func describe(fi fs.FileInfo) string {
	uid, gid := owner(fi)
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	mode := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return fmt.Sprintf("%s:%s %04o", u, g, mode)
}

// traverse reports whether the account may reach entries of dir: search
// (x) permission on dir and every directory above it. blocker is the first
// directory that stops it.
func (c *access) traverse(dir string) (ok bool, blocker string, err error) {
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		chain = append(chain, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		fi, err := c.lstat(chain[i])
		if err != nil {
			return false, "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			// Resolved paths are checked by the callers; a link's own
			// mode means nothing.
			continue
		}
		if !c.may(fi, permExec) {
			return false, chain[i], nil
		}
	}
	return true, "", nil
}

// verdict is an account's access to one path: whether it holds and why.
type verdict struct {
	yes bool
	why string
}

// read decides whether the account can read the file at p (which must
// exist; symlinks are followed).
func (c *access) read(p string) (verdict, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return verdict{}, err
	}
	ok, blocker, err := c.traverse(filepath.Dir(real))
	if err != nil {
		return verdict{}, err
	}
	fi, err := c.lstat(real)
	if err != nil {
		return verdict{}, err
	}
	if !ok {
		return verdict{false, fmt.Sprintf("%s cannot search directory %s", c.who.Name, blocker)}, nil
	}
	if !c.may(fi, permRead) {
		return verdict{false, fmt.Sprintf("%s (%s) is not readable by %s", p, describe(fi), c.who.Name)}, nil
	}
	if uid, _ := owner(fi); uid == c.who.UID {
		return verdict{true, fmt.Sprintf("%s owns %s", c.who.Name, p)}, nil
	}
	return verdict{true, fmt.Sprintf("%s can read %s (%s)", c.who.Name, p, describe(fi))}, nil
}

// write decides whether the account can change what p holds: write it,
// create it when it does not exist, or replace it or any directory above
// it (rename needs write and search permission on the parent, and a
// sticky parent only lets the owner of either rename). Both the path as
// given and its symlinks resolved are checked.
func (c *access) write(p string) (verdict, error) {
	p = filepath.Clean(p)
	v, err := c.writePath(p)
	if err != nil || v.yes {
		return v, err
	}
	if real := config.ResolveExisting(p); real != "" && real != p {
		rv, err := c.writePath(real)
		if err != nil || rv.yes {
			return rv, err
		}
	}
	return v, nil
}

func (c *access) writePath(p string) (verdict, error) {
	// The deepest part of p that exists.
	existing := p
	for {
		_, err := c.lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return verdict{}, err
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return verdict{}, err
		}
		existing = parent
	}
	fi, _ := c.lstat(existing)
	if existing == p {
		if fi.Mode()&fs.ModeSymlink == 0 {
			ok, _, err := c.traverse(filepath.Dir(p))
			if err != nil {
				return verdict{}, err
			}
			if ok && c.may(fi, permWrite) {
				if uid, _ := owner(fi); uid == c.who.UID {
					return verdict{true, fmt.Sprintf("%s owns %s", c.who.Name, p)}, nil
				}
				return verdict{true, fmt.Sprintf("%s can write %s (%s)", c.who.Name, p, describe(fi))}, nil
			}
		}
	} else if fi.IsDir() {
		ok, _, err := c.traverse(existing)
		if err != nil {
			return verdict{}, err
		}
		if ok && c.may(fi, permWrite) {
			return verdict{true, fmt.Sprintf("%s can create %s: it may write directory %s (%s)", c.who.Name, p, existing, describe(fi))}, nil
		}
	}
	// Replacing p, or a directory above it, by renaming.
	for child := existing; filepath.Dir(child) != child; child = filepath.Dir(child) {
		parent := filepath.Dir(child)
		pi, err := c.lstat(parent)
		if err != nil {
			return verdict{}, err
		}
		if pi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		ok, _, err := c.traverse(parent)
		if err != nil {
			return verdict{}, err
		}
		if !ok || !c.may(pi, permWrite) {
			continue
		}
		ci, err := c.lstat(child)
		if err != nil {
			return verdict{}, err
		}
		if pi.Mode()&fs.ModeSticky != 0 && !c.who.Root() {
			cu, _ := owner(ci)
			pu, _ := owner(pi)
			if cu != c.who.UID && pu != c.who.UID {
				continue
			}
		}
		if child == p {
			return verdict{true, fmt.Sprintf("%s can replace %s: it may write directory %s (%s)", c.who.Name, p, parent, describe(pi))}, nil
		}
		return verdict{true, fmt.Sprintf("%s can replace %s, which holds %s: it may write directory %s (%s)", c.who.Name, child, p, parent, describe(pi))}, nil
	}
	if existing != p {
		return verdict{false, fmt.Sprintf("%s does not exist, and %s cannot create it or replace a directory above it", p, c.who.Name)}, nil
	}
	return verdict{false, fmt.Sprintf("%s (%s) and the directories above it are not writable by %s", p, describe(fi), c.who.Name)}, nil
}

// joinExamples lists up to n items and how many more there are.
func joinExamples(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; and %d more", len(items)-n)
}
