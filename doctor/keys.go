package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plangate/plangate/config"
)

// approverKeys: are the config's approvers' key files on this machine
// (<key dir>/<approver>.key) passphrase-protected, and out of the agent's
// reach? One check per key file found; one in all when there is none
// (named for the server's machine when doctor runs in the server).
func approverKeys(fa *access, approvers []*config.Approver, keyDir string, encrypted func(string) (bool, error), inServer bool) []Check {
	var out []Check
	var names []string
	for _, a := range approvers {
		if a.PublicKey == nil {
			continue // a passkey: nothing on disk to read
		}
		names = append(names, a.Name)
		path := filepath.Join(keyDir, a.Name+".key")
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		out = append(out, keyFile(fa, fmt.Sprintf("approver key %s: passphrase, out of the agent's reach", a.Name), a.Name, path, encrypted))
	}
	if len(out) == 0 {
		name := "approver keys on this machine"
		if inServer {
			name = "approver keys on the server's machine"
		}
		if len(names) == 0 {
			return []Check{ok(name, guardApproval, "the config names no approver with a key file (passkeys only, or none)")}
		}
		return []Check{ok(name, guardApproval, fmt.Sprintf("no key file of %s in %s (keys elsewhere, given with --key, are not checked)", strings.Join(names, ", "), keyDir))}
	}
	return out
}

// KeyFiles checks the approver key files on the agent's own machine, for
// plangate doctor --server, which runs there as the agent's user: every
// <approver>.key in keyDir and each of extra ($PLANGATE_KEY). Each must be
// passphrase-protected and out of the agent's reach; with no config to
// say whose keys they are, every key file there counts.
func KeyFiles(agent *Account, keyDir string, extra []string, encrypted func(string) (bool, error)) []Check {
	fa := newAccess(agent)
	files, err := filepath.Glob(filepath.Join(keyDir, "*.key"))
	if err != nil {
		return []Check{unknown("approver keys on the agent's machine", guardApproval, err.Error(), "check $PLANGATE_KEY_DIR")}
	}
	for _, f := range extra {
		if f != "" && !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	var out []Check
	for _, path := range files {
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		approver := strings.TrimSuffix(filepath.Base(path), ".key")
		out = append(out, keyFile(fa, fmt.Sprintf("approver key %s on the agent's machine: passphrase, out of the agent's reach", approver), approver, path, encrypted))
	}
	if len(out) == 0 {
		return []Check{ok("approver keys on the agent's machine", guardApproval, fmt.Sprintf("no approver key file in %s", keyDir))}
	}
	return out
}

// keyFile: is the key file at path passphrase-protected, and out of the
// agent's reach?
func keyFile(fa *access, name, approver, path string, encrypted func(string) (bool, error)) Check {
	var problems, facts []string
	enc, encErr := false, error(nil)
	if encrypted != nil {
		enc, encErr = encrypted(path)
	} else {
		encErr = errors.New("no way to read key files given")
	}
	switch {
	case encErr != nil:
		problems = append(problems, fmt.Sprintf("cannot tell whether %s is passphrase-protected: %v", path, encErr))
	case !enc:
		problems = append(problems, fmt.Sprintf("%s is not passphrase-protected: whoever reads it can sign approvals as %s", path, approver))
	default:
		facts = append(facts, fmt.Sprintf("%s is passphrase-protected", path))
	}
	switch {
	case fa.absent != nil && fa.absent.Holds:
		facts = append(facts, fa.absent.Fact)
	case fa.absent != nil:
		problems = append(problems, "cannot tell whether the agent's user can read it: "+fa.absent.Fact)
	case fa.who.Root():
		problems = append(problems, fa.who.rootFact())
	default:
		if r, err := fa.read(path); err != nil {
			problems = append(problems, fmt.Sprintf("cannot tell whether %s can read it: %v", fa.who.Name, err))
		} else if r.yes {
			problems = append(problems, r.why)
		} else {
			facts = append(facts, r.why)
		}
	}
	if len(problems) > 0 {
		return fail(name, guardApproval, strings.Join(append(problems, facts...), "; "),
			fmt.Sprintf("keep approver keys under the approver's own OS user, not %s's, and passphrase-protected: plangate keygen --name %s --passphrase makes a new one (then replace the public key in plangate.hcl and accept it)", fa.name(), approver))
	}
	return ok(name, guardApproval, strings.Join(facts, "; "))
}
