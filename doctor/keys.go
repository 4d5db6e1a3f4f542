package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plangate/plangate/config"
)

// approverKeys: are the config's approvers' key files on this machine
// (<key dir>/<approver>.key) passphrase-protected, and out of the agent's
// reach? One check per key file found; one in all when there is none.
func approverKeys(fa *access, approvers []*config.Approver, keyDir string, encrypted func(string) (bool, error)) []Check {
	const guarantee = guardApproval
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
		name := fmt.Sprintf("approver key %s: passphrase, out of the agent's reach", a.Name)
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
			problems = append(problems, fmt.Sprintf("%s is not passphrase-protected: whoever reads it can sign approvals as %s", path, a.Name))
		default:
			facts = append(facts, fmt.Sprintf("%s is passphrase-protected", path))
		}
		if fa.who.Root() {
			problems = append(problems, fa.who.rootFact())
		} else if r, err := fa.read(path); err != nil {
			problems = append(problems, fmt.Sprintf("cannot tell whether %s can read it: %v", fa.who.Name, err))
		} else if r.yes {
			problems = append(problems, r.why)
		} else {
			facts = append(facts, r.why)
		}
		if len(problems) > 0 {
			out = append(out, fail(name, guarantee, strings.Join(append(problems, facts...), "; "),
				fmt.Sprintf("keep approver keys under the approver's own OS user, not %s's, and passphrase-protected: plangate keygen --name %s --passphrase makes a new one (then replace the public key in plangate.hcl and accept it)", fa.who.Name, a.Name)))
		} else {
			out = append(out, ok(name, guarantee, strings.Join(facts, "; ")))
		}
	}
	if len(out) == 0 {
		const name = "approver keys on this machine"
		if len(names) == 0 {
			return []Check{ok(name, guarantee, "the config names no approver with a key file (passkeys only, or none)")}
		}
		return []Check{ok(name, guarantee, fmt.Sprintf("no key file of %s in %s (keys elsewhere, given with --key, are not checked)", strings.Join(names, ", "), keyDir))}
	}
	return out
}
