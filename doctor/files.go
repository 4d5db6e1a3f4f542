package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/plangate/plangate/config"
)

// planFile is the name of Terraform's saved plan in a plan's directory
// (plan.PlanFile): it holds the plan's sensitive values.
const planFile = "tfplan"

// configFile: can the agent's user change plangate.hcl (write it, or
// replace it through a directory it may write)?
func configFile(fa *access, path string) Check {
	const name = "plangate.hcl not writable by the agent"
	if fa.absent != nil {
		return fa.absent.check(name, guardPolicy)
	}
	if fa.who.Root() {
		return fail(name, guardPolicy, fa.who.rootFact(), "run the agents as another OS user than root")
	}
	v, err := fa.write(path)
	if err != nil {
		return unknown(name, guardPolicy, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as a user who can read "+filepath.Dir(path))
	}
	if v.yes {
		return fail(name, guardPolicy, v.why+": it can point plangate at other stacks, keys or a state_dir of its own, and only an approver's acceptance then stands in its way",
			fmt.Sprintf("make %s owned by root (or the server's user), mode 0644 or 0640, in a directory %s cannot write, and run plangate server as its own user", path, fa.who.Name))
	}
	return ok(name, guardPolicy, v.why)
}

// stateDirChecks: is state_dir in a git work tree, and can the agent's
// user read or write it, or the accepted-config record (the server's own
// when doctor runs in it)?
func stateDirChecks(fa *access, cfg *config.Config, inServer bool) []Check {
	dir := cfg.StateDir
	var out []Check
	const tree = "state_dir outside any git work tree"
	if w := cfg.StateDirWarning(); w != "" {
		out = append(out, fail(tree, guardRecord, w, "remove state_dir from plangate.hcl (the default is outside every repository) or set it to a directory such as /var/lib/plangate"))
	} else {
		out = append(out, ok(tree, guardRecord, fmt.Sprintf("state_dir %s is not inside a git work tree", dir)))
	}

	const readName, writeName = "state_dir not readable by the agent", "state_dir not writable by the agent"
	const recName = "accepted-config record not writable by the agent"
	recDir, recErr := config.RecordDir(cfg.Path)
	if fa.absent != nil {
		return append(out, fa.absent.check(readName, guardSecrets), fa.absent.check(writeName, guardRecord), fa.absent.check(recName, guardPolicy))
	}
	if fa.who.Root() {
		fix := "run the agents as another OS user than root"
		return append(out,
			fail(readName, guardSecrets, fa.who.rootFact(), fix),
			fail(writeName, guardRecord, fa.who.rootFact(), fix),
			fail(recName, guardPolicy, fa.who.rootFact(), fix))
	}
	fix := fmt.Sprintf("run plangate server as its own user, with state_dir owned by it, mode 0700 (chown -R plangate: %s; chmod 0700 %s), out of %s's reach", dir, dir, fa.who.Name)
	readable, writable, err := walkState(fa, dir)
	switch {
	case err != nil:
		out = append(out,
			unknown(readName, guardSecrets, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user"),
			unknown(writeName, guardRecord, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user"))
	default:
		if len(readable) > 0 {
			out = append(out, fail(readName, guardSecrets, fmt.Sprintf("%s can read %d file(s) of state_dir %s, plan files (%s, which hold the plans' secrets) among them if there are any: %s",
				fa.who.Name, len(readable), dir, planFile, joinExamples(readable, 3)), fix))
		} else {
			out = append(out, ok(readName, guardSecrets, fmt.Sprintf("%s can read no file of state_dir %s", fa.who.Name, dir)))
		}
		if len(writable) > 0 {
			out = append(out, fail(writeName, guardRecord, fmt.Sprintf("%s can change state_dir %s (plans, the approvals ledger, the audit log, freeze markers): %s",
				fa.who.Name, dir, joinExamples(writable, 3)), fix))
		} else {
			out = append(out, ok(writeName, guardRecord, fmt.Sprintf("%s can change nothing in state_dir %s", fa.who.Name, dir)))
		}
	}

	if recErr != nil {
		return append(out, unknown(recName, guardPolicy, recErr.Error(), "set HOME or XDG_STATE_HOME as the server has them"))
	}
	rec := filepath.Join(recDir, config.AcceptedFileName)
	v, err := fa.write(rec)
	switch {
	case err != nil:
		out = append(out, unknown(recName, guardPolicy, fmt.Sprintf("cannot tell: %v", err), "run plangate doctor as root or as the server's user"))
	case v.yes:
		out = append(out, fail(recName, guardPolicy, v.why+": it can accept its own edits of plangate.hcl", fmt.Sprintf("run plangate server as its own user, whose state directory (%s) %s cannot write", recDir, fa.who.Name)))
	case inServer:
		out = append(out, ok(recName, guardPolicy, v.why+" (the server's own record)"))
	default:
		out = append(out, ok(recName, guardPolicy, v.why+" (the record of the user running doctor: run doctor with the server's HOME or XDG_STATE_HOME if it differs)"))
	}
	return out
}

// walkState lists what of state_dir the account can read (files) and
// change (state_dir itself, and every file and directory in it).
func walkState(fa *access, dir string) (readable, writable []string, err error) {
	v, err := fa.write(dir)
	if err != nil {
		return nil, nil, err
	}
	if v.yes {
		writable = append(writable, v.why)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, writable, nil
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		if p == dir {
			return nil
		}
		if d.Type().IsRegular() {
			r, err := fa.read(p)
			if err != nil {
				return err
			}
			if r.yes {
				readable = append(readable, rel(dir, p))
			}
		}
		if d.Type().IsRegular() || d.IsDir() {
			fi, err := fa.lstat(p)
			if err != nil {
				return err
			}
			ok, _, err := fa.traverse(filepath.Dir(p))
			if err != nil {
				return err
			}
			if ok && fa.may(fi, permWrite) {
				writable = append(writable, fmt.Sprintf("%s can write %s (%s)", fa.who.Name, rel(dir, p), describe(fi)))
			}
		}
		return nil
	})
	return readable, writable, err
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}
