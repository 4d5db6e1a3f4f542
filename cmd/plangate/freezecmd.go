package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
)

func runFreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("freeze", "[stack]", "Kill switch: refuse every apply_plan to the stack (all stacks when none is named) until plangate unfreeze. Plans can still be made and reviewed.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	reason := fs.String("reason", "", "why (required; shown to the agent and in the audit log)")
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
	if _, err := e.audit.Append(audit.Event{Event: audit.EventFreeze, Stack: stack, Actor: f.By, Reason: *reason}); err != nil {
		return fmt.Errorf("frozen, but the audit log failed: %w", err)
	}
	fmt.Fprintln(stdout, f.Error())
	return nil
}

func runUnfreeze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unfreeze", "[stack]", "Lift the freeze of a stack (the all-stacks freeze when none is named).", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
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
	had, err := freeze.Clear(e.cfg.StateDir, stack)
	if err != nil {
		return err
	}
	what := "all stacks"
	if stack != "" {
		what = "stack " + stack
	}
	if !had {
		fmt.Fprintf(stdout, "%s was not frozen\n", what)
		return nil
	}
	if _, err := e.audit.Append(audit.Event{Event: audit.EventUnfreeze, Stack: stack, Actor: freeze.CurrentUser()}); err != nil {
		return fmt.Errorf("unfrozen, but the audit log failed: %w", err)
	}
	fmt.Fprintf(stdout, "%s unfrozen: applies are allowed again\n", what)
	if f, err := freeze.Check(e.cfg.StateDir, stack); err == nil && f != nil && stack != "" {
		fmt.Fprintf(stdout, "note: %s\n", f.Error())
	}
	return nil
}
