package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/plan"
)

func runFreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("freeze", "[stack]", "Kill switch: refuse every apply_plan to the stack (all stacks when none is named) until an approver lifts it with plangate unfreeze [stack] --key <file>. "+
		"Anyone may freeze; only an approver's key unfreezes. Plans can still be made and reviewed. With --stop, applies already running are interrupted too.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	reason := fs.String("reason", "", "why (required; shown to the agent and in the audit log)")
	stop := fs.Bool("stop", false, "also interrupt applies in flight (SIGINT: Terraform finishes the resources in hand, saves the state and releases its lock)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError(fs, "name at most one stack (none freezes every stack)")
	}
	if *reason == "" {
		return usageError(fs, "--reason is required: say why, for whoever finds the stack frozen")
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	stack := fs.Arg(0)
	if stack != "" {
		if _, ok := e.cfg.Stack(stack); !ok {
			return fmt.Errorf("unknown stack %q: the configured stacks are %v", stack, e.cfg.StackNames())
		}
	}
	f, err := freeze.Set(e.cfg.StateDir, stack, *reason, freeze.CurrentUser(), time.Now().UTC())
	if err != nil {
		return err
	}
	auditReason := *reason
	var stopped []*plan.Record
	if *stop {
		stopped = stopApplies(e, stack, stdout)
		if len(stopped) > 0 {
			ids := make([]string, len(stopped))
			for i, r := range stopped {
				ids[i] = r.ID
			}
			auditReason += " (--stop: interrupted the apply of " + strings.Join(ids, ", ") + ")"
		}
	}
	if _, err := e.audit.Append(audit.Event{Event: audit.EventFreeze, Stack: stack, Actor: f.By, Reason: auditReason}); err != nil {
		return fmt.Errorf("frozen, but the audit log failed: %w", err)
	}
	fmt.Fprintln(stdout, f.Error())
	if len(stopped) > 0 {
		waitStopped(e, stopped, stdout)
	}
	return nil
}

// stopApplies sends SIGINT to the Terraform of every apply in flight on
// the stack ("" every stack), and returns their plans.
func stopApplies(e *env, stack string, stdout io.Writer) []*plan.Record {
	recs, err := e.store.List()
	if err != nil {
		fmt.Fprintf(stdout, "could not list the plans to stop their applies: %v\n", err)
		return nil
	}
	var out []*plan.Record
	for _, r := range recs {
		if r.Status != plan.StatusApplying || stack != "" && r.Stack != stack || r.Apply == nil || r.Apply.Terraform == nil || !r.Apply.Terraform.Running() {
			continue
		}
		if err := syscall.Kill(r.Apply.Terraform.PID, syscall.SIGINT); err != nil {
			fmt.Fprintf(stdout, "could not interrupt the apply of plan %s (terraform pid %d): %v\n", r.ID, r.Apply.Terraform.PID, err)
			continue
		}
		fmt.Fprintf(stdout, "interrupting the apply of plan %s on stack %s (terraform pid %d): Terraform finishes the resources in hand, saves the state and releases its lock\n",
			r.ID, r.Stack, r.Apply.Terraform.PID)
		out = append(out, r)
	}
	return out
}

// waitStopped waits (up to 5 minutes) for interrupted applies to end and
// says how each ended.
func waitStopped(e *env, recs []*plan.Record, stdout io.Writer) {
	deadline := time.Now().Add(5 * time.Minute)
	for _, r := range recs {
		for r.Apply.Terraform.Running() && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		// The plangate that ran it records the outcome; if it is gone,
		// this one does.
		for time.Now().Before(deadline) {
			e.gate.RecoverApplies()
			cur, err := e.store.Get(r.ID)
			if err != nil || cur.Status != plan.StatusApplying {
				if err == nil {
					fmt.Fprintf(stdout, "plan %s: %s (%s)\n", cur.ID, cur.Status, cur.StatusNote)
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func runUnfreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unfreeze", "[stack]", "Lift the freeze of a stack (the all-stacks freeze when none is named). Only an approver can: "+
		"the unfreeze is signed with an approver's key, found as plangate approve finds it (--key, $PLANGATE_KEY, else <user config dir>/plangate/<approver>.key), "+
		"and the audit log names the approver.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	signer := signingKeyFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError(fs, "name at most one stack (none lifts the freeze of every stack)")
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	stack := fs.Arg(0)
	what, subject, command := "all stacks", approvals.SubjectAllStacks, "plangate unfreeze"
	if stack != "" {
		what, subject, command = "stack "+stack, stack, "plangate unfreeze "+stack
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
	now := time.Now().UTC()
	req, err := approvals.SignRequest(key, approvals.ActionUnfreeze, subject, now)
	if err != nil {
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}
	claims, err := approvals.VerifyRequest(req, approvals.ActionUnfreeze, subject, e.cfg.Approvers, now)
	if err != nil {
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}
	// A signed request acts once: its nonce is spent like a token's.
	if err := e.gate.Ledger.Consume([]approvals.NonceUse{{Nonce: claims.Nonce, Approver: claims.Approver, Fingerprint: approvals.Fingerprint(req), UsedAt: now}}); err != nil {
		return fmt.Errorf("not unfrozen, %s stays frozen: %w", what, err)
	}

	had, err := freeze.Clear(e.cfg.StateDir, stack)
	if err != nil {
		return err
	}
	if !had {
		fmt.Fprintf(stdout, "%s was unfrozen meanwhile by someone else\n", what)
		return nil
	}
	// The request's fingerprint, never the request, goes on the record.
	ev := audit.Event{Event: audit.EventUnfreeze, Stack: stack, Actor: claims.Approver, TokenFingerprints: []string{approvals.Fingerprint(req)}}
	if _, err := e.audit.Append(ev); err != nil {
		return fmt.Errorf("unfrozen, but the audit log failed: %w", err)
	}
	fmt.Fprintf(stdout, "%s unfrozen by approver %s: applies are allowed again\n", what, claims.Approver)
	if f, err := freeze.Check(e.cfg.StateDir, stack); err == nil && f != nil && stack != "" {
		fmt.Fprintf(stdout, "note: %s\n", f.Error())
	}
	return nil
}
