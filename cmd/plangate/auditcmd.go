package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/plangate/plangate/audit"
)

func auditClient() audit.Client { return audit.Client{Name: "plangate-cli", Version: appVersion()} }

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", "[verify]", "Print the audit log (every plan, refusal, approval, apply and freeze), or with `verify` check its hash chain and name the first broken line.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	raw := fs.Bool("json", false, "print the raw JSON lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && fs.Arg(0) != "verify" {
		return usageError(fs, "unexpected argument %q: the only subcommand is verify", fs.Arg(fs.NArg()-1))
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	if fs.NArg() == 1 {
		n, err := e.audit.Verify()
		if err != nil {
			var be *audit.BrokenError
			if errors.As(err, &be) {
				return fmt.Errorf("audit log %s is BROKEN at line %d: %s", e.audit.Path(), be.Line, be.Reason)
			}
			return err
		}
		fmt.Fprintf(stdout, "audit log %s: %d entries, hash chain intact\n", e.audit.Path(), n)
		if n > 0 && !e.audit.HasHead() {
			fmt.Fprintf(stdout, "note: no %s beside it (a log from before plangate kept one): lines removed from the end would not show until the next entry is written\n", audit.HeadFileName)
		}
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
	}
	if ev.Actor != "" {
		parts = append(parts, "by="+ev.Actor)
	}
	if ev.Reason != "" {
		parts = append(parts, fmt.Sprintf("reason=%q", ev.Reason))
	}
	return strings.Join(parts, " ")
}
