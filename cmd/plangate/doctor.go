package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/freeze"
)

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "", "Check, for this deployment, each guarantee of the threat model and the fact that decides it: "+
		"whether the agent's OS user can write plangate.hcl, read or write state_dir, the accepted-config record or Terraform's state, "+
		"read the server's environment or unencrypted approver keys; whether state_dir is in a git work tree; whether config changes wait for acceptance; "+
		"and, for stacks with an aws block, whether the plan and apply roles are narrow (read with the server's AWS credentials). "+
		"Exits 0 only when every check holds, 1 otherwise. Run it as root or as the server's user, on the server's machine; "+
		"or, with --server, as the agent's user on the agent's machine: the server checks its side for the user it sees connecting, "+
		"and doctor adds the approver keys on this machine.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	agentUser := fs.String("agent-user", "", "the OS user the agents run as (default: the user running doctor; with --server, the user the server sees connecting, looked up on the server's machine)")
	asJSON := fs.Bool("json", false, "print the checks as a JSON array of {check, ok, status, fact, fix, guarantee}")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "check a plangate server, as the agent reaches it: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER)")
	tokenFile := fs.String("token-file", "", "with --server on TCP: the agent token (from plangate agent-token add), on the first line of `file`, which only you may read")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	switch {
	case explicit["server"] && explicit["config"]:
		return usageError(fs, "--config names a plangate.hcl on this machine; with --server, the server checks its own")
	case *serverFlag != "" && !explicit["config"]:
		return doctorRemote(ctx, *serverFlag, *agentUser, *tokenFile, *asJSON, stdout)
	}
	// --config on the server's machine, where $PLANGATE_SERVER may be set.
	if *tokenFile != "" {
		return usageError(fs, "--token-file goes with --server")
	}
	path, err := config.Find(*configFlag)
	if err != nil {
		return err
	}
	agent, err := doctor.LookupAccount(*agentUser)
	if err != nil {
		return err
	}
	dir, err := keyDir()
	if err != nil {
		return err
	}
	checks, err := doctor.Run(ctx, doctor.Options{ConfigPath: path, Agent: agent, KeyDir: dir, KeyEncrypted: keyEncrypted,
		Sandbox: sandboxStatus("probed by " + freeze.CurrentUser() + " with doctor's environment; plangate doctor --server asks the running server")})
	if err != nil {
		return err
	}
	return writeDoctor(stdout, checks, agent.Name, *asJSON)
}

// writeDoctor prints the checks, as a table or JSON, and fails unless
// every one holds.
func writeDoctor(stdout io.Writer, checks []doctor.Check, agent string, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(checks, "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
	} else if err := doctor.WriteTable(stdout, checks); err != nil {
		return err
	}
	if !doctor.Holds(checks) {
		n := 0
		for _, c := range checks {
			if !c.OK {
				n++
			}
		}
		return fmt.Errorf("%d of %d checks do not hold for agents running as %s", n, len(checks), agent)
	}
	return nil
}

// errPassphraseAsked ends a key read where it would ask for a passphrase.
var errPassphraseAsked = errors.New("passphrase asked")

// keyEncrypted reports whether the approver key file at path is
// passphrase-protected: approvals.ReadPrivateKey asks for the passphrase
// only then, and doctor never answers.
func keyEncrypted(path string) (bool, error) {
	_, err := approvals.ReadPrivateKey(path, func() ([]byte, error) { return nil, errPassphraseAsked })
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errPassphraseAsked):
		return true, nil
	}
	return false, err
}
