package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
)

func auditClient() audit.Client { return audit.Client{Name: "plangate-cli", Version: appVersion()} }

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", "[verify | reseal --reason r]", "Print the audit log (every plan, refusal, approval, apply and freeze); with `verify` check its hash chain and head, and the approval ledger's, and name the first broken line; with `reseal` declare the audit log and the approval ledger as they stand genuine when their head file (audit.head, ledger.head) is missing or no longer matches, as after an upgrade from a plangate without them (recorded in the audit log, with the reason and your OS user).", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	raw := fs.Bool("json", false, "print the raw JSON lines")
	reason := fs.String("reason", "", "reseal: why the log's end is genuine, recorded in the log (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sub := fs.Arg(0)
	switch {
	case fs.NArg() > 1 || fs.NArg() == 1 && sub != "verify" && sub != "reseal":
		return usageError(fs, "unexpected argument %q: the subcommands are verify and reseal", fs.Arg(fs.NArg()-1))
	case sub == "reseal" && strings.TrimSpace(*reason) == "":
		return usageError(fs, `reseal needs --reason, recorded in the log: plangate audit reseal --reason "restored from last night's backup"`)
	case sub != "reseal" && *reason != "":
		return usageError(fs, "--reason goes with reseal only")
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	switch sub {
	case "reseal":
		return reseal(e, *reason, stdout)
	case "verify":
		n, err := e.audit.Verify()
		if err != nil {
			var be *audit.BrokenError
			if errors.As(err, &be) {
				return fmt.Errorf("audit log %s is BROKEN at line %d: %s", e.audit.Path(), be.Line, be.Reason)
			}
			return err
		}
		fmt.Fprintf(stdout, "audit log %s: %d entries, hash chain intact\n", e.audit.Path(), n)
		n, err = e.gate.Ledger.Verify()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "approval ledger %s: %d lines, hash chain intact\n", e.gate.Ledger.Path(), n)
		return nil
	}
	return e.audit.Read(func(line int, ev audit.Event, rawLine []byte) error {
		if *raw {
			fmt.Fprintf(stdout, "%s\n", rawLine)
			return nil
		}
		fmt.Fprintf(stdout, "%4d  %s  %-18s %s\n", ev.Seq, ev.Time.Format(time.RFC3339), ev.Event, describeEvent(ev))
		return nil
	})
}

// reseal vouches for the end of the audit log and of the approval ledger,
// whichever needs it: the audit log first, since the ledger's reseal is
// recorded in it.
func reseal(e *env, reason string, stdout io.Writer) error {
	actor := freeze.CurrentUser()
	done := false
	ev, err := e.audit.Reseal(reason, actor)
	switch {
	case errors.Is(err, audit.ErrNothingToReseal):
	case err != nil:
		return err
	default:
		done = true
		fmt.Fprintf(stdout, "audit log %s resealed by %s at line %d (audit.head was %s)\n", e.audit.Path(), ev.Actor, ev.Seq, ev.PreviousHead)
	}
	previous, err := e.gate.Ledger.Reseal()
	switch {
	case errors.Is(err, approvals.ErrNothingToReseal):
	case err != nil:
		return err
	default:
		done = true
		if _, err := e.audit.Append(audit.Event{Event: audit.EventLedgerResealed, Actor: actor, Reason: reason, PreviousHead: previous}); err != nil {
			return fmt.Errorf("approval ledger %s resealed, but recording that in the audit log failed (the ledger's seal line records it too): %w", e.gate.Ledger.Path(), err)
		}
		fmt.Fprintf(stdout, "approval ledger %s resealed by %s (ledger.head was %s)\n", e.gate.Ledger.Path(), actor, previous)
	}
	if !done {
		return fmt.Errorf("audit log %s and approval ledger %s agree with their heads: there is nothing to reseal", e.audit.Path(), e.gate.Ledger.Path())
	}
	fmt.Fprintln(stdout, "plangate audit verify checks the audit log; the ledger is checked on every apply")
	return nil
}

func describeEvent(ev audit.Event) string {
	var parts []string
	if ev.Stack != "" {
		parts = append(parts, "stack="+ev.Stack)
	}
	if ev.PlanID != "" {
		parts = append(parts, "plan="+ev.PlanID)
	}
	if ev.Counts != nil {
		parts = append(parts, fmt.Sprintf("+%d ~%d -%d", ev.Counts.Add, ev.Counts.Change, ev.Counts.Destroy))
	}
	if ev.Deletions != nil && *ev.Deletions > 0 {
		parts = append(parts, fmt.Sprintf("deletes=%d", *ev.Deletions))
	}
	if len(ev.Approvers) > 0 {
		parts = append(parts, "approvers="+strings.Join(ev.Approvers, ","))
	}
	if ev.AWS != nil {
		parts = append(parts, "aws="+ev.AWS.ARN)
	}
	if ev.Client != nil {
		parts = append(parts, "client="+ev.Client.Name+"/"+ev.Client.Version)
		if ev.Client.Agent != "" {
			parts = append(parts, "agent="+ev.Client.Agent)
		}
	}
	if ev.Actor != "" {
		parts = append(parts, "by="+ev.Actor)
	}
	if ev.Reason != "" {
		parts = append(parts, fmt.Sprintf("reason=%q", ev.Reason))
	}
	if ev.PreviousHead != "" {
		parts = append(parts, fmt.Sprintf("previous_head=%q", ev.PreviousHead))
	}
	return strings.Join(parts, " ")
}
