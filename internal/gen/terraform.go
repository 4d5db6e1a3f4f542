package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Terraform runs a terraform binary the way the benchmarks need it: no
// TF_* variables from the caller's environment, an empty CLI config of its
// own, no checkpoint calls.
type Terraform struct {
	Bin string
	Env []string
}

// NewTerraform returns a Terraform for bin, with its CLI config in dir.
func NewTerraform(bin, dir string) (*Terraform, error) {
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "CHECKPOINT_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_INPUT=0", "TF_IN_AUTOMATION=1")
	return &Terraform{Bin: bin, Env: env}, nil
}

// Run runs terraform in dir with stdout going to out (discarded if nil).
func (t *Terraform) Run(ctx context.Context, dir string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, t.Bin, args...)
	cmd.Dir = dir
	cmd.Env = t.Env
	if out == nil {
		out = io.Discard
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("terraform %s in %s: %w\n%s", strings.Join(args, " "), dir, err, tail(stderr.String(), 2000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Init runs terraform init in dir.
func (t *Terraform) Init(ctx context.Context, dir string) error {
	return t.Run(ctx, dir, nil, "init", "-input=false", "-no-color")
}

// Plan runs `terraform plan -out=planFile` in dir (its human output
// discarded) and returns how long it took.
func (t *Terraform) Plan(ctx context.Context, dir, planFile string) (time.Duration, error) {
	start := time.Now()
	err := t.Run(ctx, dir, nil, "plan", "-input=false", "-no-color", "-out="+planFile)
	return time.Since(start), err
}

// ShowJSON runs `terraform show -json planFile` in dir into the file at
// path and returns how long it took.
func (t *Terraform) ShowJSON(ctx context.Context, dir, planFile, path string) (time.Duration, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = t.Run(ctx, dir, f, "show", "-json", "-no-color", planFile)
	d := time.Since(start)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return d, err
}

// Prepared is a generated stack, initialised and planned.
type Prepared struct {
	Spec     Spec
	Scenario Scenario
	Dir      string // the stack (root module)
	PlanFile string // the saved plan
	JSONFile string // `terraform show -json PlanFile`
	PlanTime time.Duration
	ShowTime time.Duration
}

// Prepare writes the scenario under root/<spec>-<scenario>, runs terraform
// init and plan there and shows the plan as JSON. A directory prepared
// before (its plan.json complete) is reused: benchmarks call Prepare for
// every run and pay for Terraform once.
func Prepare(ctx context.Context, tf *Terraform, root string, s Spec, sc Scenario) (*Prepared, error) {
	dir := filepath.Join(root, s.Name()+"-"+string(sc))
	p := &Prepared{Spec: s, Scenario: sc, Dir: dir,
		PlanFile: filepath.Join(dir, "plan.tfplan"), JSONFile: filepath.Join(dir, "plan.json")}
	done := filepath.Join(dir, ".prepared")
	if _, err := os.Stat(done); err == nil {
		return p, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := s.Write(dir, sc); err != nil {
		return nil, err
	}
	if err := tf.Init(ctx, dir); err != nil {
		return nil, err
	}
	var err error
	if p.PlanTime, err = tf.Plan(ctx, dir, p.PlanFile); err != nil {
		return nil, err
	}
	if p.ShowTime, err = tf.ShowJSON(ctx, dir, p.PlanFile, p.JSONFile); err != nil {
		return nil, err
	}
	return p, os.WriteFile(done, nil, 0o644)
}
