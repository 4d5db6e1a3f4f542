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
		"The token is printed alone on the last line of stdout: paste it back to the agent. A unique prefix of 8+ characters names a plan. "+
		"With --server, the plan is reviewed from a plangate server and the token signed here: the key never leaves this machine.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	serverFlag := fs.String("server", os.Getenv("PLANGATE_SERVER"), "review on a plangate server: unix:/path/to.sock, https://host:port or http://127.0.0.1:port (default $PLANGATE_SERVER)")
	signer := signingKeyFlags(fs)
	yes := fs.Bool("yes", false, "skip the confirmation prompt (for scripts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, "name one plan: its id, or a unique prefix of 8+ characters (plangate plans lists them)")
	}
	if *serverFlag != "" {
		return approveRemote(ctx, *serverFlag, fs.Arg(0), signer, *yes, stdout, stderr)
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	colour := useColor(stdout)
	v, err := e.gate.ApproveView(ctx, fs.Arg(0), colour, auditClient())
	if err != nil {
		return err
	}
	if err := renderApproveView(stdout, v, colour); err != nil {
		return err
	}
	key, keyPath, err := signer.read(e.cfg)
	if err != nil {
		return err
	}
	if err := e.gate.CheckKey(key); err != nil {
		return fmt.Errorf("%s: %w", keyPath, err)
	}
	if err := confirmApproval(v, key.Approver, *yes, stderr); err != nil {
		return err
	}
	// Approve checks the plan again as it is now: the human may have
	// taken a while.
	a, err := e.gate.Approve(v.Record.ID, key, freeze.CurrentUser(), auditClient())
	var refusal *gate.Refusal
	if errors.As(err, &refusal) {
		return fmt.Errorf("not approved: %s", gate.ForHuman(err.Error()))
	}
	if err != nil {
		return err
	}
	printToken(stdout, a.Record.ID, key.Approver, a.Claims.ExpiresAt, a.Token)
	return nil
}

// renderApproveView prints what the approver reviews; a plan that cannot
// be approved is an error saying why, after what can be shown of it.
func renderApproveView(stdout io.Writer, v *gate.ApproveView, colour bool) error {
	now := time.Now().UTC()
	report := []plan.ReportOption{plan.ForApprover()}
	if colour {
		report = append(report, plan.Colour())
	}
	if !v.NoFacts {
		plan.WriteReport(stdout, &v.Summary, now, report...)
	}
	if v.Refusal != "" {
		return fmt.Errorf("not approved: %s", v.Refusal)
	}
	fmt.Fprintf(stdout, "(read from the plan file itself: SHA-256 %s)\n", v.SHA256)
	// The approver is the one who can move the state dir, and this is the
	// moment its records (ledger, audit log) are about to be trusted.
	if v.StateDirWarning != "" {
		fmt.Fprintf(stdout, "\nWARNING: %s\n", v.StateDirWarning)
	}
	if v.ConfigNote != "" {
		fmt.Fprintf(stdout, "\nNOTE: %s. The policy below is the one enforced.\n", v.ConfigNote)
	}
	writeApproveContext(stdout, v.Record, v.Stack, v.Check, &v.Summary, colour)
	return nil
}

// confirmApproval says what else bears on the decision (earlier
// approvals, a freeze) and asks for the stack name unless yes.
func confirmApproval(v *gate.ApproveView, approver string, yes bool, stderr io.Writer) error {
	if len(v.Prior) > 0 {
		var who []string
		for _, p := range v.Prior {
			who = append(who, p.Approver+" at "+p.At.Format(time.RFC3339))
		}
		fmt.Fprintf(stderr, "note: this plan was approved before, by %s; it needs %d distinct approver(s)\n", strings.Join(who, ", "), v.Check.Required)
	}
	if v.Frozen != "" {
		fmt.Fprintf(stderr, "note: %s (the approval is valid, but nothing is applied while the freeze lasts)\n", v.Frozen)
	}
	if yes {
		return nil
	}
	ok, err := confirm(os.Stdin, stderr, v.Stack.Name, v.Record.ID, approver)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("not approved: the stack name did not match")
	}
	return nil
}

func printToken(stdout io.Writer, id, approver string, exp int64, token string) {
	fmt.Fprintf(stdout, "\nApproved plan %s as %s; the token expires %s. Paste the next line to the agent:\n",
		id, approver, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	fmt.Fprintln(stdout, token)
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
		p("%-11s %s\n", rec.Product.String()+":", rec.TerraformVersion)
	}
	if rec.AWS != nil {
		p("AWS:        %s\n", rec.AWS)
	}
	pol := st.Policy
	p("Policy now: %d approval(s) needed for this plan (approvals %d, deletion_approvals %d); %s\n",
		chk.Required, pol.Approvals, pol.DeletionApprovals, pol.Restrictions())
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
