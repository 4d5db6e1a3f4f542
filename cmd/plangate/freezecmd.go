package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/relay"
	"github.com/plangate/plangate/server"
)

func runFreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("freeze", "[stack]", "Kill switch: refuse every apply_plan to the stack (all stacks when none is named) until an approver lifts it with plangate unfreeze [stack] --key <file>. "+
		"Anyone may freeze; only an approver's key unfreezes. Plans can still be made and reviewed. With --stop, applies already running are interrupted too. "+
		"With --server, the freeze is set on a plangate server, signed with an approver's key.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "freeze on a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER); needs an approver's key")
	reason := fs.String("reason", "", "why (required; shown to the agent and in the audit log)")
	stop := fs.Bool("stop", false, "also interrupt applies in flight (SIGINT: Terraform finishes the resources in hand, saves the state and releases its lock)")
	signer := signingKeyFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError(fs, "name at most one stack (none freezes every stack)")
	}
	if *reason == "" {
		return usageError(fs, "--reason is required: say why, for whoever finds the stack frozen")
	}
	stack := fs.Arg(0)
	var out *gate.Frozen
	if *serverFlag != "" {
		_, req, ep, err := signRemote(*serverFlag, signer, approvals.ActionFreeze, subjectOf(stack))
		if err != nil {
			return fmt.Errorf("not frozen: %w", err)
		}
		out = &gate.Frozen{}
		body := server.FreezeRequest{Stack: stack, Reason: *reason, Stop: *stop, Request: req}
		if err := humanCall(ctx, ep, http.MethodPost, server.FreezePath, "", body, out); err != nil {
			return fmt.Errorf("not frozen: %w", err)
		}
	} else {
		logger, _ := newLogger(stderr, "warn")
		e, err := openEnv(*configFlag, stderr, logger)
		if err != nil {
			return err
		}
		// A freeze is announced to the webhook before the command exits.
		defer startNotifier(e, logger)()
		out, err = e.gate.Freeze(stack, *reason, freeze.CurrentUser(), *stop)
		if out == nil {
			return err
		}
		defer func() {
			for _, r := range e.gate.WaitStopped(out.Stopped, 5*time.Minute) {
				fmt.Fprintf(stdout, "plan %s: %s (%s)\n", r.ID, r.Status, r.StatusNote)
			}
		}()
		if err != nil {
			fmt.Fprintln(stdout, out.Message)
			return err
		}
	}
	for _, id := range out.Stopped {
		fmt.Fprintf(stdout, "interrupting the apply of plan %s: Terraform finishes the resources in hand, saves the state and releases its lock\n", id)
	}
	for _, e := range out.StopErrors {
		fmt.Fprintln(stdout, e)
	}
	fmt.Fprintln(stdout, out.Message)
	return nil
}

func subjectOf(stack string) string {
	if stack == "" {
		return approvals.SubjectAllStacks
	}
	return stack
}

// signRemote reads the approver's key (with --server there is no local
// config: --key, --approver, $PLANGATE_KEY or the one key in the key dir)
// and signs a request for action on subject.
func signRemote(addr string, signer signingKey, action, subject string) (*approvals.PrivateKey, string, *relay.Endpoint, error) {
	ep, err := relay.ParseEndpoint(addr)
	if err != nil {
		return nil, "", nil, fmt.Errorf("--server: %s", err)
	}
	key, _, err := signer.read(&config.Config{Path: "the key dir", Approvers: keyDirApprovers()})
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w (with --server, name the key with --key or --approver)", err)
	}
	req, err := approvals.SignRequest(key, action, subject, time.Now().UTC())
	if err != nil {
		return nil, "", nil, err
	}
	return key, req, ep, nil
}

func runUnfreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unfreeze", "[stack]", "Lift the freeze of a stack (the all-stacks freeze when none is named). Only an approver can: "+
		"the unfreeze is signed with an approver's key, found as plangate approve finds it (--key, $PLANGATE_KEY, else <user config dir>/plangate/<approver>.key), "+
		"and the audit log names the approver. With --server, on a plangate server.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "unfreeze on a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER)")
	signer := signingKeyFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError(fs, "name at most one stack (none lifts the freeze of every stack)")
	}
	stack := fs.Arg(0)
	what, command := "all stacks", "plangate unfreeze"
	if stack != "" {
		what, command = "stack "+stack, "plangate unfreeze "+stack
	}
	if *serverFlag != "" {
		_, req, ep, err := signRemote(*serverFlag, signer, approvals.ActionUnfreeze, subjectOf(stack))
		if err != nil {
			return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
		}
		var out server.Unfrozen
		if err := humanCall(ctx, ep, http.MethodPost, server.UnfreezePath, "", server.UnfreezeRequest{Stack: stack, Request: req}, &out); err != nil {
			return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
		}
		if !out.WasFrozen {
			fmt.Fprintf(stdout, "%s was not frozen\n", what)
			return nil
		}
		return reportUnfreeze(stdout, what, out.Approver, true, nil)
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	f, err := freeze.Check(e.cfg.StateDir, stack)
	if err != nil {
		return err
	}
	if f == nil || f.Stack != stack {
		// Nothing to lift, so nothing to sign.
		fmt.Fprintf(stdout, "%s was not frozen\n", what)
		if f != nil {
			fmt.Fprintf(stdout, "note: %s\n", f.Error())
		}
		return nil
	}
	key, keyPath, err := signer.read(e.cfg)
	var noKey *noKeyError
	switch {
	case errors.As(err, &noKey):
		return fmt.Errorf("not unfrozen, %s stays frozen: unfreeze needs an approver's key: %s --key <file> "+
			"(no approver key found in %s for the approvers of %s; plangate keygen --name <you> makes one, and its approver block goes in that file)",
			what, command, noKey.dir, noKey.config)
	case err != nil:
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}
	if err := e.gate.CheckKey(key); err != nil {
		return fmt.Errorf("not unfrozen, %s stays frozen: key %s is not an approver of this config: %w", what, keyPath, err)
	}
	req, err := approvals.SignRequest(key, approvals.ActionUnfreeze, subjectOf(stack), time.Now().UTC())
	if err != nil {
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}
	approver, had, err := e.gate.Unfreeze(stack, req)
	if err != nil && approver == "" {
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}
	if err := reportUnfreeze(stdout, what, approver, had, err); err != nil {
		return err
	}
	if f, err := freeze.Check(e.cfg.StateDir, stack); err == nil && f != nil && stack != "" {
		fmt.Fprintf(stdout, "note: %s\n", f.Error())
	}
	return nil
}

func reportUnfreeze(stdout io.Writer, what, approver string, had bool, err error) error {
	if !had {
		fmt.Fprintf(stdout, "%s was unfrozen meanwhile by someone else\n", what)
		return nil
	}
	fmt.Fprintf(stdout, "%s unfrozen by approver %s: applies are allowed again\n", what, approver)
	return err
}
