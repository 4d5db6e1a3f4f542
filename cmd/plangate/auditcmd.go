package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
)

func auditClient() audit.Client { return audit.Client{Name: "plangate-cli", Version: appVersion()} }

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", "[verify | reseal --reason r]", "Print the audit log (every plan, refusal, approval, apply and freeze); with `verify` check its hash chain and head, and the approval ledger's, and name the first broken line; with `reseal` declare the audit log and the approval ledger as they stand genuine when their head file (audit.head, ledger.head) is missing or no longer matches, as after an upgrade from a plangate without them (recorded in the audit log, with the reason and your OS user). "+
		"With --server, a plangate server's audit log or check, for approvers, printed as on the server's machine (reseal only runs there).", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	raw := fs.Bool("json", false, "print the raw JSON lines")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "the audit log (or, with verify, the check) of a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER); needs an approver's key")
	signer := signingKeyFlags(fs)
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
	if *serverFlag != "" {
		if sub == "reseal" {
			return fmt.Errorf("audit reseal is not done over the wire: it vouches for the records as they stand on disk, so run it on the server's machine, as the server's user (sudo -u plangate plangate audit reseal --config <plangate.hcl> --reason r), after looking at the files")
		}
		return auditRemote(ctx, *serverFlag, signer, sub, *raw, stdout)
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
		return writeRecordsCheck(stdout, e.gate.VerifyRecords())
	}
	return e.audit.Read(func(_ int, ev audit.Event, rawLine []byte) error {
		return writeAuditLine(stdout, ev, rawLine, *raw)
	})
}

// writeAuditLine prints one line of the audit log: as it is in the file
// (--json), or as a row.
func writeAuditLine(w io.Writer, ev audit.Event, rawLine []byte, raw bool) error {
	if raw {
		_, err := fmt.Fprintf(w, "%s\n", rawLine)
		return err
	}
	_, err := fmt.Fprintf(w, "%4d  %s  %-18s %s\n", ev.Seq, ev.Time.Format(time.RFC3339), ev.Event, describeEvent(ev))
	return err
}

// writeRecordsCheck prints what plangate audit verify found, and returns
// the first chain that is not intact as the error.
func writeRecordsCheck(w io.Writer, rc *gate.RecordsCheck) error {
	if !rc.AuditLog.Intact() {
		return errors.New(rc.AuditLog.Error)
	}
	fmt.Fprintf(w, "audit log %s: %d entries, hash chain intact\n", rc.AuditLog.Path, rc.AuditLog.Lines)
	if rc.Ledger == nil {
		return errors.New("the approval ledger was not checked")
	}
	if !rc.Ledger.Intact() {
		return errors.New(rc.Ledger.Error)
	}
	fmt.Fprintf(w, "approval ledger %s: %d lines, hash chain intact\n", rc.Ledger.Path, rc.Ledger.Lines)
	return nil
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
