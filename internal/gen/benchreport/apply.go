package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/plan"
)

// reportApply times apply_plan's work (gate.Gate.Apply: freeze and policy
// checks, the plan file read again and compared with its record, the
// tokens verified and spent, terraform apply of the saved plan, the record
// and audit written) against bare `terraform apply <planfile>` of a plan
// of the same generated 1,000-resource stack, from an empty state each
// time. Plans and approvals are made outside the timed part.
func reportApply(ctx context.Context, tf *gen.Terraform, dir string, reps int) error {
	spec := sizes["1k"]
	p, err := gen.Prepare(ctx, tf, dir, spec, gen.Create)
	if err != nil {
		return err
	}
	pub, priv, err := approvals.GenerateKey()
	if err != nil {
		return err
	}
	cfg, st, store, err := benchProject(filepath.Join(dir, "apply-project"), p.Dir,
		fmt.Sprintf("approver \"bench\" {\n  public_key = %q\n}\n", config.FormatPublicKey(pub)))
	if err != nil {
		return err
	}
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	if err != nil {
		return err
	}
	g := &gate.Gate{Config: cfg, Runner: plan.NewRunner(func() (string, error) { return tf.Bin, nil }, cfg.StateDir, nil),
		Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir)}
	key := &approvals.PrivateKey{Approver: "bench", Key: priv}
	resetState := func() error {
		for _, f := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
			if err := os.Remove(filepath.Join(p.Dir, f)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		return nil
	}
	want := spec.Expected(gen.Create)

	applyPlangate := func() (time.Duration, error) {
		if err := resetState(); err != nil {
			return 0, err
		}
		rec, err := g.Propose(ctx, st, nil, audit.Client{Name: "benchreport"})
		if err != nil {
			return 0, err
		}
		if rec.Counts.Add != want.Add {
			return 0, fmt.Errorf("plan_change counted %+v, want %+v", rec.Counts, want)
		}
		a, err := g.Approve(rec.ID, key, "bench", audit.Client{})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		out, err := g.Apply(ctx, rec.ID, []string{a.Token}, audit.Client{Name: "benchreport"}, nil)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if out.Status != plan.StatusApplied {
			return 0, fmt.Errorf("apply_plan ended %s", out.Status)
		}
		return d, nil
	}
	applyBare := func(i int) (time.Duration, error) {
		if err := resetState(); err != nil {
			return 0, err
		}
		planFile := filepath.Join(dir, fmt.Sprintf("apply-bare-%d.tfplan", i))
		defer os.Remove(planFile)
		if err := tf.Run(ctx, p.Dir, nil, "plan", "-input=false", "-no-color", "-out="+planFile); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := tf.Run(ctx, p.Dir, nil, "apply", "-input=false", "-no-color", planFile); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}

	// Warm-up: the gate's first run initialises its own data dir.
	if _, err := applyPlangate(); err != nil {
		return err
	}
	if _, err := applyBare(0); err != nil {
		return err
	}
	var mine, bare []time.Duration
	for i := 1; i <= reps; i++ {
		runMine := func() error {
			d, err := applyPlangate()
			mine = append(mine, d)
			return err
		}
		runBare := func() error {
			d, err := applyBare(i)
			bare = append(bare, d)
			return err
		}
		order := []func() error{runMine, runBare}
		if i%2 == 0 {
			order[0], order[1] = runBare, runMine
		}
		for _, run := range order {
			if err := run(); err != nil {
				return err
			}
		}
	}
	mp, mb := median(mine), median(bare)
	fmt.Printf("\napply_plan end to end on the generated 1,000-resource stack (%d creates, from an empty state), median of %d runs, alternating\n", want.Add, reps)
	fmt.Printf("  gate.Gate.Apply                            %8s   (runs: %s)\n", ms(mp), list(mine))
	fmt.Printf("  bare terraform apply <planfile>            %8s   (runs: %s)\n", ms(mb), list(bare))
	fmt.Printf("  ratio to bare                              %8.3f   (target <= 1.10)\n", mp.Seconds()/mb.Seconds())
	return resetState()
}
