package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/doctor"
)

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "", "Check, for this deployment, each guarantee of the threat model and the fact that decides it: "+
		"whether the agent's OS user can write plangate.hcl, read or write state_dir, the accepted-config record or Terraform's state, "+
		"read the server's environment or unencrypted approver keys; whether state_dir is in a git work tree; whether config changes wait for acceptance; "+
		"and, for stacks with an aws block, whether the plan and apply roles are narrow (read with the server's AWS credentials). "+
		"Exits 0 only when every check holds, 1 otherwise. Run it as root or as the server's user, on the server's machine.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	agentUser := fs.String("agent-user", "", "the OS user the agents run as (default: the user running doctor)")
	asJSON := fs.Bool("json", false, "print the checks as a JSON array of {check, ok, status, fact, fix, guarantee}")
	serverFlag := fs.String("server", "", "check a plangate server over the wire (not supported yet)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *serverFlag != "" {
		fmt.Fprintf(stderr, "plangate doctor: --server is not supported yet: run plangate doctor --config <plangate.hcl> on the server's machine, as root or as the server's user\n")
		return errUsage
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
	checks, err := doctor.Run(ctx, doctor.Options{ConfigPath: path, Agent: agent, KeyDir: dir, KeyEncrypted: keyEncrypted})
	if err != nil {
		return err
	}
	if *asJSON {
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
		return fmt.Errorf("%d of %d checks do not hold for agents running as %s", n, len(checks), agent.Name)
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
