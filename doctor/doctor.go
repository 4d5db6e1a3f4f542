// Package doctor says, for one deployment of plangate, which guarantees of
// the threat model hold and the fact that decides each: whether the
// agent's OS user can write plangate.hcl, read or write state_dir, the
// accepted-config record and Terraform's state, read the server's process
// environment or the approver keys; whether config changes wait for
// acceptance; and, for stacks with an aws block, whether the plan and
// apply roles are as narrow as plangate relies on (IAM, read with the
// server's own credentials).
//
// It only looks: it writes no file, records no config acceptance and
// assumes no role.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
)

// Status is a check's outcome.
type Status string

const (
	// StatusOK: the guarantee holds.
	StatusOK Status = "ok"
	// StatusFail: it does not.
	StatusFail Status = "fail"
	// StatusUnknown: doctor could not decide (a call denied, nothing to
	// look at); it does not count as holding.
	StatusUnknown Status = "unknown"
	// StatusSkipped: not checked here, by design (a remote backend's
	// state); it does not make doctor fail.
	StatusSkipped Status = "skipped"
)

// Check is one guarantee, the fact that decides it and what to do.
type Check struct {
	Name string `json:"check"`
	// OK is whether the guarantee holds (StatusOK or StatusSkipped).
	OK     bool   `json:"ok"`
	Status Status `json:"status"`
	Fact   string `json:"fact"`
	// Fix says what to do; "" when nothing needs doing.
	Fix string `json:"fix"`
	// Guarantee names what of the threat model depends on it.
	Guarantee string `json:"guarantee"`
}

// What the checks guard, in the README's words.
const (
	guardPolicy    = "policy holds whatever the approvals; config loosening waits for an approver"
	guardApproval  = "no apply without a human's approval of exactly that plan"
	guardSecrets   = "secrets stay out of the agent's context"
	guardRecord    = "everything is on the record; plans and approvals are single-use"
	guardNoChange  = "no change without an approved plan"
	guardCloudKeys = "the agent holds no cloud credentials"
)

func ok(name, guarantee, fact string) Check {
	return Check{Name: name, OK: true, Status: StatusOK, Fact: fact, Guarantee: guarantee}
}

func fail(name, guarantee, fact, fix string) Check {
	return Check{Name: name, Status: StatusFail, Fact: fact, Fix: fix, Guarantee: guarantee}
}

func unknown(name, guarantee, fact, fix string) Check {
	return Check{Name: name, Status: StatusUnknown, Fact: fact, Fix: fix, Guarantee: guarantee}
}

func skipped(name, guarantee, fact string) Check {
	return Check{Name: name, OK: true, Status: StatusSkipped, Fact: fact, Guarantee: guarantee}
}

// Options are what doctor examines.
type Options struct {
	// ConfigPath is plangate.hcl (config.Find's answer).
	ConfigPath string
	// Agent is the OS user the agents run as. Nil only with Absent.
	Agent *Account
	// Absent, with no Agent, decides every check of the agent's access
	// to this machine's files and processes: the agent's user is on
	// another host, or who it is could not be told.
	Absent *Absent
	// InServer: doctor runs inside plangate server (doctor --server), so
	// the server's process is this one, and the accepted-config record
	// is the server's own.
	InServer bool
	// KeyDir is where this machine's approver keys are (<approver>.key).
	KeyDir string
	// KeyEncrypted reports whether the approver key file at path is
	// passphrase-protected, without asking for the passphrase.
	KeyEncrypted func(path string) (bool, error)
	// Sandbox is how Terraform runs; nil: not examined.
	Sandbox *Sandbox
	// Proc is the proc file system's mount point; "" means /proc.
	Proc string
	// AWS are options for the guards whose credentials doctor reads IAM
	// with (tests give a base environment).
	AWS []awsguard.Option
}

// Run examines the deployment and returns every check, in the order a
// human fixes them: the config, its acceptance, state_dir, Terraform's
// state, the server process, approver keys, then AWS.
func Run(ctx context.Context, o Options) ([]Check, error) {
	path, err := filepath.Abs(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if o.Agent == nil && o.Absent == nil {
		return nil, errors.New("doctor: no agent account")
	}
	cfg, file, checks, err := acceptance(path)
	if err != nil {
		return nil, err
	}
	fa := newAccess(o.Agent)
	fa.absent = o.Absent
	out := []Check{configFile(fa, path)}
	out = append(out, checks...)
	out = append(out, stateDirChecks(fa, cfg, o.InServer)...)
	for _, st := range cfg.Stacks {
		out = append(out, terraformState(fa, cfg.StateDir, st))
	}
	out = append(out, serverProcess(o.Proc, path, fa, o.InServer))
	out = append(out, sandboxCheck(o.Sandbox))
	out = append(out, approverKeys(fa, approvers(cfg, file), o.KeyDir, o.KeyEncrypted, o.InServer)...)
	for _, st := range cfg.Stacks {
		if st.AWS != nil {
			out = append(out, awsChecks(ctx, st, awsguard.New(st.AWS, o.AWS...))...)
		}
	}
	return out, nil
}

// Holds reports whether every check holds.
func Holds(checks []Check) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// WriteTable writes the checks as a table a human reads: a mark (✓ holds,
// ✗ does not, ? unknown, – not checked), the check and its fact, and
// what to do under each that does not hold.
func WriteTable(w io.Writer, checks []Check) error {
	width := 0
	for _, c := range checks {
		width = max(width, len([]rune(c.Name)))
	}
	var b strings.Builder
	for _, c := range checks {
		mark := map[Status]string{StatusOK: "✓", StatusFail: "✗", StatusUnknown: "?", StatusSkipped: "–"}[c.Status]
		fmt.Fprintf(&b, "%s %-*s  %s\n", mark, width, c.Name, c.Fact)
		if c.Fix != "" {
			fmt.Fprintf(&b, "  %-*s  → %s\n", width, "", c.Fix)
		}
	}
	held := 0
	for _, c := range checks {
		if c.OK {
			held++
		}
	}
	if Holds(checks) {
		fmt.Fprintf(&b, "\nAll %d checks hold.\n", len(checks))
	} else {
		fmt.Fprintf(&b, "\n%d of %d checks do not hold (✗) or could not be decided (?).\n", len(checks)-held, len(checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// errReadOnly stops config.Live from recording anything: doctor only looks.
var errReadOnly = errors.New("plangate doctor records no acceptance")

// approvers are the approvers plangate enforces and those the file adds
// (waiting for acceptance: their keys matter once an approver accepts).
func approvers(enforced, file *config.Config) []*config.Approver {
	out := slices.Clone(enforced.Approvers)
	for _, a := range file.Approvers {
		if _, ok := enforced.Approver(a.Name); !ok {
			out = append(out, a)
		}
	}
	return out
}

// acceptance reads the config as plangate enforces it and as the file
// says (without recording anything), and checks what waits for
// acceptance.
func acceptance(path string) (enforced, file *config.Config, _ []Check, _ error) {
	const name = "config changes accepted"
	dir, err := config.RecordDir(path)
	if err != nil {
		return nil, nil, nil, err
	}
	record := filepath.Join(dir, config.AcceptedFileName)
	if _, err := os.Stat(record); errors.Is(err, os.ErrNotExist) {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, nil, nil, err
		}
		return cfg, cfg, []Check{fail(name, guardPolicy,
			fmt.Sprintf("no config was accepted yet (no %s): the first plangate command accepts %s as it is then, whoever edited it", record, filepath.Base(path)),
			fmt.Sprintf("read %s, then run plangate config status --config %s as the server's user to accept it", path, path))}, nil
	}
	live, err := config.NewLive(path)
	if err != nil {
		return nil, nil, nil, err
	}
	live.OnAccept = func(*config.Accepted, []config.Change) error { return errReadOnly }
	st, err := live.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	var c Check
	if note := st.PendingNote(); note != "" {
		c = fail(name, guardPolicy, note, fmt.Sprintf("an approver reviews them with plangate config status and accepts them with plangate config accept (or reverts the edit to %s)", filepath.Base(path)))
	} else {
		c = ok(name, guardPolicy, fmt.Sprintf("%s has no change waiting for an approver's acceptance (record %s)", filepath.Base(path), st.RecordPath))
	}
	if st.Unrecorded != "" {
		c.Fact += "; stricter settings in the file apply but are not recorded yet (the next plangate command records them)"
	}
	return st.Config, st.File, []Check{c}, nil
}
