package plan

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
	"golang.org/x/sync/singleflight"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
)

// MinTerraform is the oldest Terraform plangate runs: the first with
// `removed`/`import` blocks and a plan JSON that reports `errored`.
var MinTerraform = version.Must(version.NewVersion("1.5.0"))

// Runner runs Terraform for stacks: init once per stack per process (and
// again when Terraform asks for it), plan into a saved plan file, show the
// plan as JSON, apply a saved plan. One terraform process works on a stack
// at a time.
//
// Terraform's own data (.terraform: providers, modules, backend, selected
// workspace) lives under the state dir, so an agent or human running
// terraform in the stack directory cannot change which workspace plangate
// plans against.
type Runner struct {
	find     func() (string, error)
	stateDir string
	dataRoot string
	locks    *StackLocks
	logger   *slog.Logger

	mu       sync.Mutex
	execPath string
	version  *version.Version
	product  tfbin.Product
	sbx      *sandboxConfig

	// reads joins overlapping state reads of a stack (State).
	reads singleflight.Group
	init  map[string]bool
}

// NewRunner returns a runner keeping its data under stateDir. find locates
// the terraform executable (tfbin.Find); it is called, and the version
// checked, on first use, so a server without terraform still starts and
// answers every call with what to install.
func NewRunner(find func() (string, error), stateDir string, logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		find:     find,
		stateDir: stateDir,
		dataRoot: filepath.Join(stateDir, "terraform"),
		locks:    NewStackLocks(filepath.Join(stateDir, "locks")),
		logger:   logger,
		init:     map[string]bool{},
	}
}

// ready finds terraform and checks its version once it succeeds.
func (r *Runner) ready(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.version != nil {
		return nil
	}
	execPath, err := r.find()
	if err != nil {
		return &TerraformError{Op: "lookup", Output: err.Error()}
	}
	product, v, err := identify(ctx, execPath)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TerraformError{Op: "version", Output: err.Error()}
	}
	if v.LessThan(MinTerraform) {
		return &TerraformError{Op: "version", Output: fmt.Sprintf("%s %s at %s is too old: plangate needs Terraform >= %s or OpenTofu >= %s (install a newer one, or set PLANGATE_TERRAFORM to one)", product.Command(), v, execPath, MinTerraform, MinTerraform)}
	}
	r.product = product
	r.execPath = execPath
	if err := r.probeSandbox(); err != nil {
		return err
	}
	r.version = v
	return nil
}

// Version is the Terraform version the runner uses, once known.
func (r *Runner) Version() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.version == nil {
		return ""
	}
	return r.version.String()
}

// Diagnostic is one of Terraform's diagnostics from a run.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Summary)
	if d.File != "" {
		fmt.Fprintf(&b, " (%s line %d)", d.File, d.Line)
	}
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// ChangeSummary is Terraform's own count from its `change_summary` message:
// the numbers of its "Plan: N to add, N to change, N to destroy." line.
type ChangeSummary struct {
	// Operation is "plan", "apply" or "destroy".
	Operation string `json:"operation,omitempty"`
	Add       int    `json:"add"`
	Change    int    `json:"change"`
	Import    int    `json:"import"`
	Remove    int    `json:"remove"`
}

// PlanOutput is what one `terraform plan` produced.
type PlanOutput struct {
	// PlanFile is the saved plan; empty when Terraform wrote none.
	PlanFile string
	// JSONFile holds `terraform show -json` of the plan file; the caller
	// removes it (it holds sensitive values).
	JSONFile    string
	Diagnostics []Diagnostic
	// Terraform's own summary line, when it printed one.
	TerraformSummary *ChangeSummary
	// Failed is set when terraform plan exited with an error.
	Failed bool
}

// Errors returns the error diagnostics.
func (o *PlanOutput) Errors() []Diagnostic { return o.filter("error") }

// Warnings returns the warning diagnostics.
func (o *PlanOutput) Warnings() []Diagnostic { return o.filter("warning") }

func (o *PlanOutput) filter(sev string) []Diagnostic {
	var out []Diagnostic
	for _, d := range o.Diagnostics {
		if d.Severity == sev {
			out = append(out, d)
		}
	}
	return out
}

// Credentials turns the environment Terraform would get into the one it
// gets for one run: awsguard.Session.Apply, which removes every AWS
// credential of the server's and adds the session's. nil leaves the
// environment as it is.
type Credentials func(env map[string]string) map[string]string

// Options, as terraform-exec has them: each command takes only the options
// that mean something to it, so one it would ignore cannot be passed.

// PlanOption configures Runner.Plan.
type PlanOption interface{ configurePlan(*planConfig) }

// ApplyOption configures Runner.ApplySaved.
type ApplyOption interface{ configureApply(*applyConfig) }

// StateOption configures Runner.State, StateLocked and SecretsLocked.
type StateOption interface{ configureState(*stateConfig) }

type planConfig struct {
	varFile    string
	events     func(UIMessage)
	creds      Credentials
	beforePlan func(dataDir string) error
	// refreshOnly plans with -refresh-only (RefreshOnly, drift.go).
	refreshOnly bool
}

type applyConfig struct {
	events  func(UIMessage)
	creds   Credentials
	started func(Process)
}

type stateConfig struct {
	creds Credentials
}

// CredentialsOption runs Terraform with the environment its Credentials
// make (the init a run needs too). Every command takes it.
type CredentialsOption struct{ creds Credentials }

// WithCredentials runs Terraform with the environment c makes.
func WithCredentials(c Credentials) *CredentialsOption { return &CredentialsOption{c} }

func (o *CredentialsOption) configurePlan(c *planConfig)   { c.creds = o.creds }
func (o *CredentialsOption) configureApply(c *applyConfig) { c.creds = o.creds }
func (o *CredentialsOption) configureState(c *stateConfig) { c.creds = o.creds }

// VarFileOption passes agent-set variables, already written to a
// .tfvars.json file, to a plan.
type VarFileOption struct{ path string }

// VarFile passes the variables in the .tfvars.json file at path.
func VarFile(path string) *VarFileOption { return &VarFileOption{path} }

func (o *VarFileOption) configurePlan(c *planConfig) { c.varFile = o.path }

// EventsOption receives each message of Terraform's machine-readable UI
// stream of a plan or an apply.
type EventsOption struct{ fn func(UIMessage) }

// Events calls fn with each message of Terraform's UI stream.
func Events(fn func(UIMessage)) *EventsOption { return &EventsOption{fn} }

func (o *EventsOption) configurePlan(c *planConfig)   { c.events = o.fn }
func (o *EventsOption) configureApply(c *applyConfig) { c.events = o.fn }

// BeforePlanOption checks the stack after init, before terraform plan
// runs: what init downloaded is there to read, nothing of the plan ran.
type BeforePlanOption struct{ fn func(dataDir string) error }

// BeforePlan calls fn with the stack's Terraform data dir (TF_DATA_DIR)
// after each init and before each plan; an error from it stops the run.
func BeforePlan(fn func(dataDir string) error) *BeforePlanOption { return &BeforePlanOption{fn} }

func (o *BeforePlanOption) configurePlan(c *planConfig) { c.beforePlan = o.fn }

func (c planConfig) checkBeforePlan(dataDir string) error {
	if c.beforePlan == nil {
		return nil
	}
	return c.beforePlan(dataDir)
}

func planOptions(opts []PlanOption) planConfig {
	var c planConfig
	for _, o := range opts {
		o.configurePlan(&c)
	}
	return c
}

func applyOptions(opts []ApplyOption) applyConfig {
	var c applyConfig
	for _, o := range opts {
		o.configureApply(&c)
	}
	return c
}

func stateOptions(opts []StateOption) stateConfig {
	var c stateConfig
	for _, o := range opts {
		o.configureState(&c)
	}
	return c
}

// UIMessage is one line of `terraform plan -json` output.
type UIMessage struct {
	Level      string          `json:"@level"`
	Message    string          `json:"@message"`
	Type       string          `json:"type"`
	Diagnostic *uiDiagnostic   `json:"diagnostic,omitempty"`
	Changes    *ChangeSummary  `json:"changes,omitempty"`
	Hook       json.RawMessage `json:"hook,omitempty"`
	Change     json.RawMessage `json:"change,omitempty"`
}

// Resource returns the resource address and action of a hook message
// (apply_start, planned_change, refresh_complete, ...).
func (m UIMessage) Resource() (addr, action string) {
	var h struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	}
	raw := m.Hook
	if len(raw) == 0 {
		raw = m.Change
	}
	if len(raw) == 0 || json.Unmarshal(raw, &h) != nil {
		return "", ""
	}
	return h.Resource.Addr, h.Action
}

type uiDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Range    *struct {
		Filename string `json:"filename"`
		Start    struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
}

// newTF returns a fresh terraform-exec handle for one operation on a stack
// (terraform-exec keeps per-call writers on the handle, so handles are
// never shared between operations).
//
// keep lists the paths of the state dir the operation needs beyond the
// stack's own, when Terraform runs sandboxed.
func (r *Runner) newTF(st *config.Stack, creds Credentials, keep ...string) (*tfexec.Terraform, error) {
	env, err := r.env(st, creds)
	if err != nil {
		return nil, err
	}
	exe, err := r.sandboxed(st, env, keep...)
	if err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(st.Dir, exe)
	if err != nil {
		return nil, err
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, err
	}
	// Cancellation sends SIGINT; give Terraform time to release state locks.
	_ = tf.SetWaitDelay(60 * time.Second)
	return tf, nil
}

// env is the environment of every Terraform process: the server's, minus
// what would choose Terraform's variables, arguments, CLI configuration,
// plugins, data dir or workspace; plus the stack's data dir and the CLI
// configuration plangate writes (cliconfig.go).
func (r *Runner) env(st *config.Stack, creds Credentials) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !keepFromServerEnv(k) {
			continue
		}
		env[k] = v
	}
	if creds != nil {
		env = creds(env)
	}
	rc, err := r.writeCLIConfig(st)
	if err != nil {
		return nil, err
	}
	env["TF_CLI_CONFIG_FILE"] = rc
	env["TF_DATA_DIR"] = r.dataDir(st)
	env["CHECKPOINT_DISABLE"] = "1"
	NoteEnvSecrets(env) // a session's credentials too: masked wherever they show
	return tfexec.CleanEnv(env), nil
}

func (r *Runner) dataDir(st *config.Stack) string { return filepath.Join(r.dataRoot, st.Name) }

// Lock takes the stack for the caller's Terraform runs.
// A busy stack is waited for at most its queue_timeout.
func (r *Runner) Lock(ctx context.Context, st *config.Stack) (func(), error) {
	return r.locks.LockWithin(ctx, st.Name, st.QueueTimeout)
}

// ensureInit runs terraform init for the stack once per process, and
// selects the stack's workspace. The caller holds the stack lock.
func (r *Runner) ensureInit(ctx context.Context, st *config.Stack, force bool, creds Credentials) error {
	r.mu.Lock()
	done := r.init[st.Name]
	r.mu.Unlock()
	if done && !force {
		return nil
	}
	if err := os.MkdirAll(r.dataDir(st), 0o700); err != nil {
		return err
	}
	tf, err := r.newTF(st, creds)
	if err != nil {
		return err
	}
	var stderr strings.Builder
	tf.SetStderr(&limitedWriter{w: &stderr, n: 64 << 10})
	r.logger.Info(r.Product().Command()+" init", "stack", st.Name, "dir", st.Dir)
	if err := tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TerraformError{Op: "init", Stack: st.Name, Output: cleanTerraformOutput(stderr.String(), err), Product: r.Product()}
	}
	ws := st.Workspace
	if ws == "" {
		ws = "default"
	}
	if err := tf.WorkspaceSelect(ctx, ws); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TerraformError{Op: "workspace select " + ws, Stack: st.Name, Output: cleanTerraformOutput("", err) + fmt.Sprintf("\n(the workspace must exist: a human creates it with `%s workspace new %s` in %s)", r.Product().Command(), ws, st.Dir), Product: r.Product()}
	}
	r.mu.Lock()
	r.init[st.Name] = true
	r.mu.Unlock()
	return nil
}

// TerraformError is a Terraform command that failed before producing a plan
// (init, workspace selection, show). Output is trimmed Terraform output.
type TerraformError struct {
	Op     string
	Stack  string
	Output string
	// Product is the program that failed (Terraform when not known).
	Product tfbin.Product
}

func (e *TerraformError) Error() string {
	if e.Stack == "" {
		return fmt.Sprintf("%s is not usable: %s", e.Product.Command(), e.Output)
	}
	return fmt.Sprintf("%s %s failed for stack %q:\n%s", e.Product.Command(), e.Op, e.Stack, e.Output)
}

// Plan runs `terraform plan -out` for the stack into outDir and shows the
// result as JSON. The caller must hold the stack lock (Runner.Lock).
// A plan that Terraform rejects is not an error here: it comes back with
// Failed set and Terraform's diagnostics.
func (r *Runner) Plan(ctx context.Context, st *config.Stack, outDir string, opts ...PlanOption) (*PlanOutput, error) {
	c := planOptions(opts)
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false, c.creds); err != nil {
		return nil, err
	}
	if err := c.checkBeforePlan(r.dataDir(st)); err != nil {
		return nil, err
	}
	if err := r.checkLocalState(st); err != nil {
		return nil, err
	}
	out, err := r.planOnce(ctx, st, outDir, c)
	if err != nil {
		return nil, err
	}
	if out.Failed && needsInit(out.Diagnostics, r.Product()) {
		r.logger.Info("terraform asks for init; running it again", "stack", st.Name)
		if err := r.ensureInit(ctx, st, true, c.creds); err != nil {
			return nil, err
		}
		if err := c.checkBeforePlan(r.dataDir(st)); err != nil {
			return nil, err
		}
		if err := r.checkLocalState(st); err != nil {
			return nil, err
		}
		if out, err = r.planOnce(ctx, st, outDir, c); err != nil {
			return nil, err
		}
	}
	if out.PlanFile == "" {
		return out, nil
	}
	jsonPath := filepath.Join(outDir, ".plan.raw.json")
	if err := r.showJSON(ctx, st, out.PlanFile, jsonPath, c.creds); err != nil {
		return nil, err
	}
	out.JSONFile = jsonPath
	return out, nil
}

func (r *Runner) planOnce(ctx context.Context, st *config.Stack, outDir string, c planConfig) (*PlanOutput, error) {
	planFile := filepath.Join(outDir, PlanFile)
	_ = os.Remove(planFile)
	statePath := r.localState(st)
	tf, err := r.newTF(st, c.creds, outDir, c.varFile, dirOf(statePath))
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	tf.SetStderr(&limitedWriter{w: &stderr, n: 64 << 10})
	args := []tfexec.PlanOption{tfexec.Out(planFile)}
	if statePath != "" {
		args = append(args, tfexec.State(statePath))
	}
	for _, vf := range st.VarFiles {
		args = append(args, tfexec.VarFile(vf))
	}
	if c.varFile != "" {
		args = append(args, tfexec.VarFile(c.varFile))
	}
	if c.refreshOnly {
		args = append(args, tfexec.RefreshOnly(true))
	}
	out := &PlanOutput{}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scanUI(pr, func(m UIMessage) {
			switch m.Type {
			case "diagnostic":
				if m.Diagnostic != nil {
					out.Diagnostics = append(out.Diagnostics, m.Diagnostic.toDiagnostic())
				}
			case "change_summary":
				if m.Changes != nil {
					cs := *m.Changes
					out.TerraformSummary = &cs
				}
			}
			if c.events != nil {
				c.events(m)
			}
		})
	}()
	r.logger.Info(r.Product().Command()+" plan", "stack", st.Name, "out", planFile)
	_, runErr := tf.PlanJSON(ctx, pw, args...)
	pw.Close()
	<-done
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if runErr != nil {
		out.Failed = true
		if len(out.Errors()) == 0 {
			out.Diagnostics = append(out.Diagnostics, Diagnostic{Severity: "error", Summary: r.Product().Command() + " plan failed", Detail: cleanTerraformOutput(stderr.String(), runErr)})
		}
	}
	if _, err := os.Stat(planFile); err == nil {
		out.PlanFile = planFile
	}
	return out, nil
}

func (d *uiDiagnostic) toDiagnostic() Diagnostic {
	out := Diagnostic{Severity: d.Severity, Summary: Printable(d.Summary), Detail: Printable(d.Detail)}
	if d.Range != nil {
		out.File = d.Range.Filename
		out.Line = d.Range.Start.Line
	}
	return out
}

func needsInit(diags []Diagnostic, product tfbin.Product) bool {
	for _, d := range diags {
		if d.Severity != "error" {
			continue
		}
		text := d.Summary + " " + d.Detail
		if strings.Contains(text, product.Command()+" init") || strings.Contains(text, "Module not installed") ||
			strings.Contains(text, "Backend initialization required") || strings.Contains(text, "Inconsistent dependency lock file") {
			return true
		}
	}
	return false
}

// ShowPlanLocked returns `terraform show -json` of a saved plan file: what
// the plan file itself says it does, for a review that must not trust the
// plan's record. The caller holds the stack lock. It needs no init (the
// plan was made with this data dir, which holds its providers) and no
// credentials: show reads the file and the providers' schemas, never the
// backend or the cloud; creds (awsguard.NoCredentials) takes away any the
// process has.
func (r *Runner) ShowPlanLocked(ctx context.Context, st *config.Stack, planFile string, creds Credentials) ([]byte, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := r.show(ctx, st, "show -json", &out, creds, planFile); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// showJSON streams `terraform show -json <planfile>` into path.
// terraform-exec only offers a decoded *tfjson.Plan; streaming to disk
// keeps memory flat on plans with thousands of changes.
func (r *Runner) showJSON(ctx context.Context, st *config.Stack, planFile, path string, creds Credentials) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := r.show(ctx, st, "show -json", f, creds, planFile); err != nil {
		return err
	}
	return f.Sync()
}

// show runs `terraform show -json -no-color [args]` for the stack, its
// output to w (see runJSON).
func (r *Runner) show(ctx context.Context, st *config.Stack, op string, w io.Writer, creds Credentials, args ...string) error {
	var keep []string
	for _, a := range args {
		keep = append(keep, dirOf(a)) // the plan file's (or state's) directory
	}
	return r.runJSON(ctx, st, op, w, creds, keep, append([]string{"show", "-json", "-no-color"}, args...)...)
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// cleanTerraformOutput strips colours and box-drawing from Terraform's
// human output and trims it to something a chat can show.
func cleanTerraformOutput(stderr string, err error) string {
	s := stderr
	if s == "" && err != nil {
		s = err.Error()
	}
	s = ansiRE.ReplaceAllString(s, "")
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(strings.TrimLeft(l, "│╷╵ "), " ")
		if l == "" && (len(lines) == 0 || lines[len(lines)-1] == "") {
			continue
		}
		lines = append(lines, l)
	}
	s = Printable(strings.TrimSpace(strings.Join(lines, "\n")))
	const maxLen = 4000
	if len(s) > maxLen {
		s = Truncate(s, maxLen) + " (trimmed)"
	}
	return s
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
