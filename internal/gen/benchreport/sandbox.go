package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/sandbox"
)

// sandboxSpec is the stack the sandbox figure reads: 100 instances in state.
var sandboxSpec = gen.Spec{Modules: 1, PerModule: 100}

// reportSandbox measures what the Terraform sandbox (internal/sandbox)
// costs per Terraform command: the same commands bare and through the
// plangate binary's sandbox (a hidden state dir, the stack kept), one at
// a time, alternating, in the same run.
func reportSandbox(ctx context.Context, tf *gen.Terraform, dir, plangateBin string, reps int) error {
	p, err := gen.Prepare(ctx, tf, dir, sandboxSpec, gen.Mix)
	if err != nil {
		return err
	}
	if err := sandbox.Probe(plangateBin); err != nil {
		fmt.Printf("\nTerraform sandbox: not measured: %v\n", err)
		return nil
	}
	hidden := filepath.Join(dir, "sandbox-hidden")
	if err := os.MkdirAll(hidden, 0o700); err != nil {
		return err
	}
	commands := []struct {
		name string
		args []string
	}{
		{"version", []string{"version"}}, // skips the namespaces (terraform-exec asks it before most commands)
		{"show -json (state)", []string{"show", "-json", "-no-color"}},
		{"plan -refresh=false", []string{"plan", "-refresh=false", "-input=false", "-no-color", "-lock=false"}},
	}
	fmt.Println()
	fmt.Printf("Terraform sandbox: each command bare and sandboxed (through %s; new user, mount and PID namespaces, a hidden dir), alternating, %d each; medians\n", filepath.Base(plangateBin), reps)
	fmt.Printf("  %-22s %9s %10s %7s %9s\n", "command", "bare", "sandboxed", "ratio", "overhead")
	for _, c := range commands {
		var bare, boxed []time.Duration
		for i := 0; i < reps; i++ {
			d, err := timeCommand(ctx, p.Dir, tf.Bin, c.args, tf.Env)
			if err != nil {
				return fmt.Errorf("bare terraform %s: %w", c.name, err)
			}
			bare = append(bare, d)
			path, argv, env, err := sandbox.Command(plangateBin, sandbox.Spec{Path: tf.Bin, Hide: []string{hidden}, Keep: []string{p.Dir}}, c.args, tf.Env)
			if err != nil {
				return err
			}
			d, err = timeCommand(ctx, p.Dir, path, argv[1:], env)
			if err != nil {
				return fmt.Errorf("sandboxed terraform %s: %w", c.name, err)
			}
			boxed = append(boxed, d)
		}
		b, s := median(bare), median(boxed)
		fmt.Printf("  %-22s %9s %10s %7.2f %9s\n", c.name, roundMs(b), roundMs(s), float64(s)/float64(b), roundMs(s-b))
	}
	return nil
}

func timeCommand(ctx context.Context, dir, path string, args, env []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Env = slices.Clone(env)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, out)
	}
	return time.Since(start), nil
}
