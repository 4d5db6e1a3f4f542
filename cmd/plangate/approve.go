package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("approve", "<plan-id>", "Review a plan — its summary, every deletion and the full diff — and sign an approval token for exactly that plan. "+
		"The token is printed alone on the last line of stdout: paste it back to the agent. A unique prefix of 8+ characters names a plan.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	approver := fs.String("approver", "", "approver name whose key to use (default: the one configured approver with a key in the key dir)")
	keyFlag := fs.String("key", "", "private key file (default: $PLANGATE_KEY, else <user config dir>/plangate/<approver>.key)")
	passFile := fs.String("passphrase-file", "", "read the key's passphrase from the first line of this file instead of the terminal")
	yes := fs.Bool("yes", false, "skip the confirmation prompt (for scripts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, "name one plan: its id, or a unique prefix of 8+ characters (plangate plans lists them)")
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(*configFlag, logger)
	if err != nil {
		return err
	}
	rec, err := e.store.Get(fs.Arg(0))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	st, ok := e.cfg.Stack(rec.Stack)
	if !ok {
		return fmt.Errorf("stack %q of plan %s is no longer in %s", rec.Stack, rec.ID, e.cfg.Path)
	}

	// Show the plan first, whatever happens next: the human sees what was asked.
	page, err := e.store.ReadDiff(rec.ID, 0, 1<<62)
	if err != nil {
		return err
	}
	s := rec.Summary
	s.PlanID, s.Status, s.Diff, s.DiffTotal = rec.ID, rec.EffectiveStatus(now), page.Text, page.Total
	s.ApproveCommand = ""
	var report strings.Builder
	writeReview(&report, &s, now)
	fmt.Fprint(stdout, colorize(report.String(), useColor(stdout)))

	if reason := gate.StatusRefusal(rec, now); reason != "" {
		return fmt.Errorf("not approved: %s", reason)
	}
	verdict := approvals.EvaluateFacts(st, rec.Summary.Deleted, rec.ManagedResources)
	if len(verdict.BlockedReasons) > 0 {
		return fmt.Errorf("not approved: the stack's policy blocks this plan: %s", strings.Join(verdict.BlockedReasons, "; "))
	}
	sum, err := plan.FileSHA256(e.store.Dir(rec.ID) + "/" + plan.PlanFile)
	if err != nil {
		return fmt.Errorf("not approved: reading the plan file: %w", err)
	}
	if sum != rec.PlanSHA256 {
		return fmt.Errorf("not approved: the plan file changed after it was planned (SHA-256 %s…, recorded %s…); ask for a new plan", sum[:12], rec.PlanSHA256[:12])
	}

	keyPath, err := findKey(e.cfg, *keyFlag, *approver)
	if err != nil {
		return err
	}
	key, err := approvals.ReadPrivateKey(keyPath, func() ([]byte, error) {
		if *passFile != "" {
			return readPassphraseFile(*passFile)
		}
		return promptPassphrase("Passphrase for " + keyPath + ": ")
	})
	if err != nil {
		return err
	}
	if *approver != "" && key.Approver != *approver {
		return fmt.Errorf("%s holds the key of approver %q, not %q", keyPath, key.Approver, *approver)
	}
	a, ok := e.cfg.Approver(key.Approver)
	if !ok {
		return fmt.Errorf("approver %q (key %s) is not configured in %s: paste the block printed by plangate keygen into it", key.Approver, keyPath, e.cfg.Path)
	}
	if !a.PublicKey.Equal(key.Public()) {
		return fmt.Errorf("the key in %s does not match approver %q's public_key in %s", keyPath, key.Approver, e.cfg.Path)
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
		// The human may have taken a while: sign only what is still
		// pending now, and never past its expiry.
		if rec, err = e.store.Get(rec.ID); err != nil {
			return err
		}
		now = time.Now().UTC()
		if reason := gate.StatusRefusal(rec, now); reason != "" {
			return fmt.Errorf("not approved: %s", reason)
		}
	}
	token, claims, err := approvals.Issue(key, rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, now, rec.ExpiresAt.Sub(now))
	if err != nil {
		return err
	}
	t, err := approvals.Parse(token)
	if err != nil {
		return err
	}
	ev := gate.PlanEvent(audit.EventPlanApproved, rec, auditClient())
	ev.Approvers = []string{key.Approver}
	ev.TokenFingerprints = []string{t.Fingerprint()}
	ev.Actor = freeze.CurrentUser()
	if _, err := e.audit.Append(ev); err != nil {
		return fmt.Errorf("audit log: %w (no token issued)", err)
	}
	fmt.Fprintf(stdout, "\nApproved plan %s as %s; the token expires %s. Paste the next line to the agent:\n",
		rec.ID, key.Approver, time.Unix(claims.ExpiresAt, 0).UTC().Format(time.RFC3339))
	fmt.Fprintln(stdout, token)
	return nil
}

// writeReview is the plan report, minus the agent-facing "Next:" advice.
func writeReview(w io.Writer, s *plan.Summary, now time.Time) {
	var b strings.Builder
	plan.WriteReport(&b, s, now)
	text := b.String()
	if i := strings.LastIndex(text, "\nNext: "); i >= 0 {
		text = text[:i+1]
	}
	fmt.Fprint(w, text)
}

func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorize colours a plan report the way Terraform colours its diff.
func colorize(text string, on bool) string {
	if !on {
		return text
	}
	const (
		red, green, yellow, cyan, bold, reset = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[1m", "\x1b[0m"
	)
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimLeft(line, " ")
		switch {
		case first:
			c := green
			if strings.Contains(line, "DELETES") || strings.Contains(line, "BLOCKED") || strings.Contains(line, "FAILED") {
				c = red
			}
			line = bold + c + line + reset
		case strings.HasPrefix(trim, "-/+"), strings.HasPrefix(trim, "+/-"):
			line = red + line + reset
		case strings.HasPrefix(trim, "- "), strings.HasPrefix(trim, "Deletions"), strings.HasPrefix(trim, "Blocked"):
			line = red + line + reset
		case strings.HasPrefix(trim, "+ "):
			line = green + line + reset
		case strings.HasPrefix(trim, "~ "):
			line = yellow + line + reset
		case strings.HasPrefix(trim, "# "):
			line = bold + line + reset
		case strings.HasPrefix(trim, "Plan:"):
			line = bold + cyan + line + reset
		}
		first = false
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
