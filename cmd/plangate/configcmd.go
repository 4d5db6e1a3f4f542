package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/relay"
	"github.com/plangate/plangate/server"
)

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runConfigStatus(args[1:], stdout, stderr)
		case "accept":
			return runConfigAccept(args[1:], os.Stdin, stdout, stderr)
		}
	}
	fs := newFlags("config", "status | accept", "What plangate enforces of plangate.hcl. An edit that makes plangate safer applies at once; "+
		"one that makes it less safe (an approver added, fewer approvals, a protected pattern removed, code allowed, ...) waits until an approver accepts it.\n\n"+
		"  plangate config status   show the changes that wait for acceptance (exit 0)\n"+
		"  plangate config accept   review them and accept the file, signed with an approver's key", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(fs, "name a subcommand: status or accept")
	}
	return usageError(fs, "unknown subcommand %q: use status or accept", fs.Arg(0))
}

// remoteConfigStatus reads a plangate server's config status, signed with
// the approver's key (which it returns, for an acceptance).
func remoteConfigStatus(addr string, signer signingKey) (*config.StatusView, *approvals.PrivateKey, *relay.Endpoint, error) {
	key, req, ep, err := signRemote(addr, signer, approvals.ActionReview, server.ConfigSubject)
	if err != nil {
		return nil, nil, nil, err
	}
	var v config.StatusView
	if err := humanCall(context.Background(), ep, http.MethodGet, server.ConfigPath, req, nil, &v); err != nil {
		return nil, nil, nil, err
	}
	return &v, key, ep, nil
}

func runConfigStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config status", "", "Show what plangate enforces of plangate.hcl: the accepted config, and every change in the file that waits for an approver's acceptance, "+
		"as a diff of the safety settings. Stricter changes need no acceptance: they apply at once.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "the config of a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER); needs an approver's key")
	signer := signingKeyFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	var s *config.StatusView
	if *serverFlag != "" {
		var err error
		if s, _, _, err = remoteConfigStatus(*serverFlag, signer); err != nil {
			return err
		}
	} else {
		logger, _ := newLogger(stderr, "warn")
		e, err := openEnv(*configFlag, io.Discard, logger)
		if err != nil {
			return err
		}
		st, err := e.live.Load()
		if err != nil {
			return err
		}
		s = st.View()
	}
	writeConfigStatus(stdout, s)
	if len(s.Pending) > 0 {
		fmt.Fprintf(stdout, "\nAn approver accepts them with: plangate config accept\n")
	}
	return nil
}

// writeConfigStatus prints the file, the accepted config and the pending
// changes, as `plangate config status` and `accept` show them.
func writeConfigStatus(w io.Writer, s *config.StatusView) {
	fmt.Fprintf(w, "Config:   %s (SHA-256 %s)\n", s.Path, s.FileSHA256)
	a := s.Accepted
	how := map[string]string{
		config.AcceptedFirstUse:   "on first use",
		config.AcceptedByApprover: "by approver " + a.Approver,
		config.AcceptedStricter:   "stricter settings, applied at once",
	}[a.How]
	fmt.Fprintf(w, "Accepted: %s, %s (file SHA-256 %s)\n", a.AcceptedAt.Format(time.RFC3339), how, a.ConfigSHA256)
	fmt.Fprintf(w, "Record:   %s\n", s.RecordPath)
	if len(s.Pending) == 0 {
		fmt.Fprintf(w, "\nNothing waits for acceptance: plangate enforces %s as it is.\n", s.Path)
		return
	}
	fmt.Fprintf(w, "\n%d change(s) make plangate less safe and wait for an approver; until then plangate enforces the accepted value:\n", len(s.Pending))
	for _, c := range s.Pending {
		fmt.Fprintf(w, "  %s\n    - accepted: %s\n    + file:     %s\n", c.Setting, c.Accepted, c.File)
	}
}

func runConfigAccept(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("config accept", "", "Review the changes to plangate.hcl that wait for acceptance and accept the file as it is, signed with an approver's key "+
		"(found as plangate approve finds it). Only an approver of the accepted config can accept; the acceptance is audited (config_accepted) with the approver and the file's SHA-256.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	signer := signingKeyFlags(fs)
	yes := fs.Bool("yes", false, "accept without asking (scripts only: the point is that a human reads the changes)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "accept the config of a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *serverFlag != "" {
		return acceptRemote(*serverFlag, signer, *yes, stdin, stdout, stderr)
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, io.Discard, logger)
	if err != nil {
		return err
	}
	s, err := e.live.Load()
	if err != nil {
		return err
	}
	if len(s.Pending) == 0 {
		writeConfigStatus(stdout, s.View())
		return nil
	}
	writeConfigStatus(stderr, s.View())

	// Who may sign: an approver of the accepted config that the file
	// still names (or, while none is accepted, the file's own).
	signers := &config.Config{Path: s.File.Path, Approvers: s.Signers()}
	if len(signers.Approvers) == 0 {
		return fmt.Errorf("nothing was accepted: no approver of the accepted config is left in %s, so nobody can accept changes to it. "+
			"Put back an accepted approver's block with the key it had; or, if you have checked that the file is right, remove %s, and the next plangate command accepts the file as it is then (audited)",
			s.File.Path, s.RecordPath)
	}
	key, keyPath, err := signer.read(signers)
	var noKey *noKeyError
	switch {
	case errors.As(err, &noKey):
		return fmt.Errorf("nothing was accepted: accepting needs the key of an accepted approver (%s): pass --key <file>", approverList(signers.Approvers))
	case err != nil:
		return fmt.Errorf("nothing was accepted: %w", err)
	}
	if a, ok := signers.Approver(key.Approver); !ok || !a.PublicKey.Equal(key.Public()) {
		why := "is not an accepted approver"
		if s.PendingApprover(key.Approver) {
			why = "is one of the changes waiting for acceptance: an approver cannot accept themselves"
		}
		return fmt.Errorf("nothing was accepted: the key in %s (approver %q) %s; the approvers who can accept are %s", keyPath, key.Approver, why, approverList(signers.Approvers))
	}
	if !*yes {
		fmt.Fprintf(stderr, "\nAccept %s as it is, as approver %s? Type yes to accept, anything else to cancel: ", s.File.Path, key.Approver)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("nothing was accepted: no answer on standard input (type yes, or pass --yes in scripts)")
		}
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(stdout, "Not accepted: nothing changed.")
			return nil
		}
	}
	now := time.Now().UTC()
	req, err := approvals.SignRequest(key, approvals.ActionConfigAccept, s.FileSHA256, now)
	if err != nil {
		return fmt.Errorf("nothing was accepted: %w", err)
	}
	a, err := e.gate.AcceptConfig(s, req, now)
	if err != nil {
		if a != nil {
			return err
		}
		return fmt.Errorf("nothing was accepted: %w", err)
	}
	fmt.Fprintf(stdout, "Accepted %s (SHA-256 %s) as approver %s: %d change(s) apply now, to running plangate servers at their next call.\n",
		s.File.Path, a.ConfigSHA256, key.Approver, len(s.Pending))
	for _, c := range s.Pending {
		if c.Setting == "state_dir" {
			fmt.Fprintln(stdout, "The state_dir change takes effect when plangate restarts.")
		}
	}
	return nil
}

func approverList(as []*config.Approver) string {
	if len(as) == 0 {
		return "none"
	}
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// acceptRemote is plangate config accept --server: the status comes from
// the server, the acceptance is signed here.
func acceptRemote(addr string, signer signingKey, yes bool, stdin io.Reader, stdout, stderr io.Writer) error {
	v, key, ep, err := remoteConfigStatus(addr, signer)
	if err != nil {
		return fmt.Errorf("nothing was accepted: %w", err)
	}
	if len(v.Pending) == 0 {
		writeConfigStatus(stdout, v)
		return nil
	}
	writeConfigStatus(stderr, v)
	if !slices.Contains(v.Signers, key.Approver) {
		return fmt.Errorf("nothing was accepted: approver %q may not accept this change; the approvers who can are %s", key.Approver, strings.Join(v.Signers, ", "))
	}
	if !yes {
		fmt.Fprintf(stderr, "\nAccept %s as it is, as approver %s? Type yes to accept, anything else to cancel: ", v.Path, key.Approver)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("nothing was accepted: no answer on standard input (type yes, or pass --yes in scripts)")
		}
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(stdout, "Not accepted: nothing changed.")
			return nil
		}
	}
	req, err := approvals.SignRequest(key, approvals.ActionConfigAccept, v.FileSHA256, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("nothing was accepted: %w", err)
	}
	var a config.Accepted
	if err := humanCall(context.Background(), ep, http.MethodPost, server.AcceptPath, "", map[string]string{"request": req}, &a); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Accepted %s (SHA-256 %s) as approver %s: %d change(s) apply now, to running plangate servers at their next call.\n",
		v.Path, a.ConfigSHA256, key.Approver, len(v.Pending))
	return nil
}
