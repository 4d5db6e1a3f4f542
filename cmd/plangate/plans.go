package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
)

func runPlans(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plans", "", "List recorded plans, newest first.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "the plans of a plangate server: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER); needs an approver's key")
	signer := signingKeyFlags(fs)
	stack := fs.String("stack", "", "only plans of this stack")
	status := fs.String("status", "", "only plans with this status (awaiting_approval, applied, ...)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q: filter with --stack and --status", fs.Arg(0))
	}
	if *status != "" && !slices.Contains(plan.Statuses, plan.Status(*status)) {
		return usageError(fs, "--status %q is not a plan status: use one of %v", *status, plan.Statuses)
	}
	var list server.PlanList
	if *serverFlag != "" {
		_, req, ep, err := signRemote(*serverFlag, signer, approvals.ActionReview, server.PlansSubject)
		if err != nil {
			return err
		}
		if err := humanCall(ctx, ep, http.MethodGet, server.PlansPath, req, nil, &list); err != nil {
			return err
		}
	} else {
		logger, _ := newLogger(stderr, "warn")
		e, err := openEnv(*configFlag, stderr, logger)
		if err != nil {
			return err
		}
		if list.Records, list.Corrupt, err = e.store.ListAll(); err != nil {
			return err
		}
	}
	return writePlans(stdout, list.Records, list.Corrupt, *stack, *status)
}

// writePlans prints the plans table, unreadable records first.
func writePlans(stdout io.Writer, recs []*plan.Record, damaged []*plan.CorruptRecord, stack, status string) error {
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tSTACK\tSTATUS\tADD\tCHANGE\tDESTROY\tDELETIONS\tAGE")
	n := 0
	// Records that cannot be read come first, never left out: each may be
	// any plan, an applied one included, and only a human can tell.
	var reasons []string
	for _, c := range damaged {
		if stack != "" && c.Stack != "" && c.Stack != stack || status != "" && status != string(plan.StatusCorrupt) {
			continue
		}
		n++
		made, stackName := c.CreatedAt, c.Stack
		if made.IsZero() {
			made = c.ModTime
		}
		if stackName == "" {
			stackName = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t%s\n", c.ID, stackName, plan.StatusCorrupt, ago(now.Sub(made)))
		reasons = append(reasons, c.Error())
	}
	for _, r := range recs {
		st := r.EffectiveStatus(now)
		if stack != "" && r.Stack != stack || status != "" && string(st) != status {
			continue
		}
		n++
		c := r.Counts
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Stack, st, c.Add, c.Change, c.Destroy, r.Deletions(), ago(now.Sub(r.CreatedAt)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(reasons) > 0 {
		fmt.Fprintln(stdout)
	}
	for _, r := range reasons {
		fmt.Fprintln(stdout, r)
	}
	if n == 0 {
		fmt.Fprintln(stdout, "(no plans)")
	}
	return nil
}

func runShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "<plan-id>", "Show a plan: its summary, every deletion, and the full diff. A unique prefix of 8+ characters names a plan.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "show a plan of a plangate server, as derived from its plan file: unix:/path/to.sock or https://host:port (default $PLANGATE_SERVER); needs an approver's key")
	signer := signingKeyFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, "name one plan: its id, or a unique prefix of 8+ characters (plangate plans lists them)")
	}
	if *serverFlag != "" {
		_, req, ep, err := signRemote(*serverFlag, signer, approvals.ActionReview, fs.Arg(0))
		if err != nil {
			return err
		}
		var v gate.ApproveView
		if err := humanCall(ctx, ep, http.MethodGet, server.ReviewPath+"?"+url.Values{"plan": {fs.Arg(0)}}.Encode(), req, nil, &v); err != nil {
			return err
		}
		if v.NoFacts {
			return fmt.Errorf("%s", v.Refusal)
		}
		plan.WriteReport(stdout, &v.Summary, time.Now())
		if v.Refusal != "" {
			fmt.Fprintf(stdout, "\n%s\n", v.Refusal)
		}
		return nil
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	rec, err := e.store.Get(fs.Arg(0))
	if err != nil {
		return err
	}
	page, err := e.store.ReadDiff(rec.ID, 0, plan.AllOfIt)
	if err != nil {
		return err
	}
	now := time.Now()
	s := rec.Summary(now).WithDiff(page)
	plan.WriteReport(stdout, &s, now)
	return nil
}
