package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("approve", "<plan-id>", "Review a plan — its summary, every deletion and the full diff — and sign an approval token for exactly that plan. "+
		"The token is printed alone on the last line of stdout: paste it back to the agent. A unique prefix of 8+ characters names a plan.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	signer := signingKeyFlags(fs)
	yes := fs.Bool("yes", false, "skip the confirmation prompt (for scripts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, "name one plan: its id, or a unique prefix of 8+ characters (plangate plans lists them)")
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
	now := time.Now().UTC()
	colour := useColor(stdout)
	report := []plan.ReportOption{plan.ForApprover()}
	if colour {
		report = append(report, plan.Colour())
	}
	if reason := gate.StatusRefusal(rec, now); reason != "" {
		// Nothing to sign: show what was asked, as recorded, and say why.
		page, err := e.store.ReadDiff(rec.ID, 0, plan.AllOfIt)
		if err != nil {
			return err
		}
		s := rec.Summary(now).WithDiff(page)
		plan.WriteReport(stdout, &s, now, report...)
		return fmt.Errorf("not approved: %s", reason)
	}

	// What the human reads is what the plan file itself says, read again
	// from its bytes: never the record, diff.txt or plan.json.
	rv, err := e.gate.Review(ctx, rec.ID, auditClient())
	var refusal *gate.Refusal
	if errors.As(err, &refusal) {
		return fmt.Errorf("not approved: %s", gate.ForHuman(err.Error()))
	}
	if err != nil {
		return err
	}
	rec, st := rv.Record, rv.Stack
	var diff strings.Builder
	var render []plan.RenderOption
	if colour {
		render = append(render, plan.WithColour())
	}
	if err := rv.Analysis.RenderDiff(&diff, render...); err != nil {
		return err
	}
	s := rec.Summary(now).WithDiff(plan.DiffPage{Text: diff.String(), Total: diff.Len()})
	// The inputs' values too are the file's; their origins, the record's.
	s.Inputs = rv.Analysis.Inputs(s.Inputs)
	plan.WriteReport(stdout, &s, now, report...)
	fmt.Fprintf(stdout, "(read from the plan file itself: SHA-256 %s)\n", rv.SHA256)
	// The approver is the one who can move the state dir, and this is the
	// moment its records (ledger, audit log) are about to be trusted.
	if w := e.cfg.StateDirWarning(); w != "" {
		fmt.Fprintf(stdout, "\nWARNING: %s\n", w)
	}
	if cs, err := e.live.Load(); err == nil {
		if note := cs.PendingNote(); note != "" {
			fmt.Fprintf(stdout, "\nNOTE: %s. The policy below is the one enforced.\n", note)
		}
	}

	chk, err := e.gate.Approvable(rec, st, now)
	if err != nil {
		return fmt.Errorf("not approved: %s", gate.ForHuman(err.Error()))
	}
	writeApproveContext(stdout, rec, st, chk, &s, colour)

	key, keyPath, err := signer.read(e.cfg)
	if err != nil {
		return err
	}
	if err := e.gate.CheckKey(key); err != nil {
		return fmt.Errorf("%s: %w", keyPath, err)
	}
	if prior, err := e.gate.PriorApprovals(rec.ID); err == nil && len(prior) > 0 {
		var who []string
		for _, p := range prior {
			who = append(who, p.Approver+" at "+p.At.Format(time.RFC3339))
		}
		fmt.Fprintf(stderr, "note: this plan was approved before, by %s; it needs %d distinct approver(s)\n", strings.Join(who, ", "), chk.Required)
	}
	if f, err := freeze.Check(e.cfg.StateDir, st.Name); err == nil && f != nil {
		fmt.Fprintf(stderr, "note: %s (the approval is valid, but nothing is applied while the freeze lasts)\n", f.Error())
	}
	if !*yes {
		ok, err := confirm(os.Stdin, stderr, st.Name, rec.ID, key.Approver)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("not approved: the stack name did not match")
		}
	}
	// Approve checks the plan again as it is now: the human may have
	// taken a while.
	a, err := e.gate.Approve(rec.ID, key, freeze.CurrentUser(), auditClient())
	if errors.As(err, &refusal) {
		return fmt.Errorf("not approved: %s", gate.ForHuman(err.Error()))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nApproved plan %s as %s; the token expires %s. Paste the next line to the agent:\n",
		rec.ID, key.Approver, time.Unix(a.Claims.ExpiresAt, 0).UTC().Format(time.RFC3339))
	fmt.Fprintln(stdout, a.Token)
	return nil
}

// writeApproveContext is what a Terraform user wants to know before
// signing, after the diff and right above the prompt: who asked and
// when, where it runs, the policy in force and the approvals it needs
// now, the code it runs, and the deletions again.
func writeApproveContext(w io.Writer, rec *plan.Record, st *config.Stack, chk *gate.Approvable, s *plan.Summary, colour bool) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n--- Before you approve ---\n")
	who := "an unnamed MCP client"
	if r := rec.RequestedBy; r != nil {
		who = strings.TrimSpace(r.Name + " " + r.Version)
	}
	p("Asked by:   %s, at %s\n", who, rec.CreatedAt.Format(time.RFC3339))
	p("Runs in:    stack %s, workspace %s, directory %s\n", st.Name, st.Workspace, st.Dir)
	if rec.TerraformVersion != "" {
		p("Terraform:  %s\n", rec.TerraformVersion)
	}
	if rec.AWS != nil {
		p("AWS:        %s\n", rec.AWS)
	}
	pol := st.Policy
	limit := "no deletion limit"
	if pol.MaxDeletions >= 0 {
		limit = fmt.Sprintf("max_deletions %d", pol.MaxDeletions)
	}
	code := "no provisioners, no external data"
	switch {
	case pol.AllowProvisioners && pol.AllowExternalData:
		code = "provisioners and external data allowed"
	case pol.AllowProvisioners:
		code = "provisioners allowed, no external data"
	case pol.AllowExternalData:
		code = "external data allowed, no provisioners"
	}
	p("Policy now: %d approval(s) needed for this plan (approvals %d, deletion_approvals %d); %s; %s; providers %s\n",
		chk.Required, pol.Approvals, pol.DeletionApprovals, limit, code, strings.Join(pol.ProviderPatterns(), ", "))
	if len(s.RunsCode) > 0 {
		p("%s\n", paintIf(colour, "\x1b[1;33m", fmt.Sprintf("Runs code:  %d piece(s) besides the providers, listed above", len(s.RunsCode))))
	}
	if n := rec.Deletions(); n > 0 {
		var names []string
		for i, d := range rec.Deleted {
			if i == 50 {
				names = append(names, fmt.Sprintf("and %d more (all listed above)", n-50))
				break
			}
			names = append(names, d.Address)
		}
		p("%s\n", paintIf(colour, "\x1b[1;31m", fmt.Sprintf("DELETES %d: %s", n, strings.Join(names, ", "))))
	} else {
		p("Deletes:    nothing\n")
	}
}

func paintIf(on bool, esc, text string) string {
	if !on {
		return text
	}
	return esc + text + "\x1b[0m"
}

func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
