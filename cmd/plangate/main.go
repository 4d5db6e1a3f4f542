// Command plangate is an MCP server that lets AI coding agents change
// infrastructure only through reviewed, human-approved Terraform plans.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/sandbox"
	_ "github.com/plangate/plangate/internal/startgc" // the first collections wait out start-up
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/tools"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func appVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "serve the MCP tools over stdio (what an MCP client runs)", runServe},
		{"server", "serve the MCP tools over streamable HTTP on a unix socket or TCP, for many clients", runServer},
		{"plans", "list recorded plans", runPlans},
		{"show", "show a plan: summary, deletions and the full diff", runShow},
		{"approve", "review a plan and sign an approval token for it (humans only)", runApprove},
		{"review", "serve the review page on this machine: plans to approve, in the browser (humans only)", runReview},
		{"keygen", "create an approver key pair and print the approver block for plangate.hcl", runKeygen},
		{"passkey", "`passkey register --name N`: register a passkey for an approver and print its block for plangate.hcl", runPasskey},
		{"audit", "print the audit log; `audit verify` checks its hash chain", runAudit},
		{"freeze", "kill switch: refuse every apply to a stack (or all stacks)", runFreeze},
		{"unfreeze", "lift a freeze (signed with an approver's key)", runUnfreeze},
		{"agent-token", "bearer tokens for agents of plangate server over TCP: `agent-token add --name N`, `list`, `revoke N`", runAgentToken},
		{"doctor", "check which guarantees hold for this deployment: who can reach the config, state, keys and credentials; the AWS roles", runDoctor},
		{"config", "`config status` shows plangate.hcl changes awaiting acceptance; `config accept` accepts them (approvers only)", runConfig},
		{"init", "write a plangate.hcl and a demo stack into a directory", runInit},
		{"demo", "run the whole workflow on the embedded demo stack, narrated", runDemo},
		{"version", "print plangate's version", runVersion},
	}
}

func main() {
	// A sandboxed Terraform is started as this binary: run its stages.
	sandbox.Main()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error already explained by printed usage.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(stderr, "plangate %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "plangate: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "plangate %s — Terraform changes for AI agents, only through human-approved plans\n\nUsage:\n  plangate <command> [flags]\n\nCommands:\n", appVersion())
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `plangate <command> --help` for a command's flags.\nThe config file is --config, else $PLANGATE_CONFIG, else ./plangate.hcl.\n")
}

// newFlags returns a flag set whose --help prints a usage line and the
// flags to help (stdout, except for serve), and whose errors print the
// problem and the usage to errs (stderr).
func newFlags(name, argsUsage, doc string, help, errs io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{help: help, errs: errs})
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: plangate %s [flags] %s\n\n%s\n", name, argsUsage, doc)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// flagOutput sends a flag set's output to help when the arguments ask for
// help, else to errs.
type flagOutput struct {
	help, errs io.Writer
	helping    bool
}

func (o *flagOutput) Write(p []byte) (int, error) {
	if o.helping {
		return o.help.Write(p)
	}
	return o.errs.Write(p)
}

// usageError reports a misuse of a command: the problem in one line, then
// the usage, on the flag set's error output; the exit status is 2.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "plangate %s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "--h":
			return true
		}
	}
	return false
}

// parse parses flags anywhere among the arguments (`plangate freeze web
// --reason x` as well as `plangate freeze --reason x web`), turning a parse
// failure into errUsage. Positional arguments are left in fs.Args().
func parse(fs *flag.FlagSet, args []string) error {
	if o, ok := fs.Output().(*flagOutput); ok {
		o.helping = wantsHelp(args)
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			positional = append(positional, rest...) // everything after -- is positional
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Reset the flag set's positional arguments to the collected ones.
	return fs.Parse(append([]string{"--"}, positional...))
}

// env is what commands that work on a config share.
type env struct {
	cfg   *config.Config // as enforced when the command started
	live  *config.Live
	store *plan.Store
	audit *audit.Log
	gate  *gate.Gate
	deps  *tools.Deps
}

// demoRecordDir, set only by plangate demo for its throwaway project,
// keeps the accepted-config record in the demo's temporary directory.
var demoRecordDir string

// openEnv loads the config and opens its state dir. A state_dir inside a
// git work tree, and config changes that wait for acceptance, are warned
// about on stderr, by every command that opens one.
func openEnv(configFlag string, stderr io.Writer, logger *slog.Logger) (*env, error) {
	path, err := config.Find(configFlag)
	if err != nil {
		return nil, err
	}
	live, err := config.NewLive(path)
	if err != nil {
		return nil, err
	}
	live.RecordDir = demoRecordDir
	var log *audit.Log // the state dir's, once open
	live.OnAccept = func(a *config.Accepted, changes []config.Change) error {
		l := log
		if l == nil {
			if err := os.MkdirAll(a.Settings.StateDir, 0o700); err != nil {
				return err
			}
			l = audit.Open(a.Settings.StateDir)
		}
		if _, err := l.Append(gate.ConfigEvent(a, changes)); err != nil {
			logger.Error("auditing the accepted config", "how", a.How, "err", err)
			return err
		}
		logger.Info("config accepted", "how", a.How, "config_sha256", a.ConfigSHA256, "changes", len(changes))
		return nil
	}
	state, err := live.Load()
	if err != nil {
		return nil, err
	}
	cfg := state.Config
	if w := cfg.StateDirWarning(); w != "" {
		fmt.Fprintf(stderr, "plangate: warning: %s\n", w)
	}
	if note := state.PendingNote(); note != "" {
		fmt.Fprintf(stderr, "plangate: warning: %s\n", note)
	}
	if state.Unrecorded != "" {
		fmt.Fprintf(stderr, "plangate: warning: %s\n", state.Unrecorded)
	}
	e, err := openState(cfg, live, logger)
	if err != nil {
		return nil, &stateError{Dir: cfg.StateDir, Err: err}
	}
	log = e.audit
	return e, nil
}

// sandboxSetting reads PLANGATE_SANDBOX (auto, required or off) and
// finds this binary, through which Terraform is sandboxed ("" when off).
func sandboxSetting() (plan.SandboxMode, string, error) {
	mode, err := plan.ParseSandboxMode(os.Getenv("PLANGATE_SANDBOX"))
	if err != nil || mode == plan.SandboxOff {
		return mode, "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return mode, "", fmt.Errorf("this binary cannot find itself to sandbox Terraform: %w", err)
	}
	return mode, exe, nil
}

// sandboxTerraform runs the runner's Terraform in a sandbox that also
// hides this user's plangate state (the accepted-config records), its
// approver key directory, and every path of PLANGATE_SANDBOX_HIDE
// (colon-separated: what else the server's user holds that Terraform
// must not read).
func sandboxTerraform(runner *plan.Runner, live *config.Live) error {
	mode, exe, err := sandboxSetting()
	switch {
	case err != nil && mode == plan.SandboxRequired:
		return fmt.Errorf("PLANGATE_SANDBOX=required: %w", err)
	case err != nil && mode == "":
		return err // PLANGATE_SANDBOX itself is wrong
	case err != nil || exe == "":
		return nil // auto without a way to sandbox, or off
	}
	var hide []string
	if rec, err := config.RecordDir(live.Path); err == nil {
		hide = append(hide, filepath.Dir(rec))
	}
	if dir, err := keyDir(); err == nil {
		hide = append(hide, dir)
	}
	for _, p := range filepath.SplitList(os.Getenv("PLANGATE_SANDBOX_HIDE")) {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("PLANGATE_SANDBOX_HIDE: %q is not an absolute path: list absolute paths, separated by colons", p)
		}
		hide = append(hide, p)
	}
	runner.Sandbox(exe, mode, hide...)
	return nil
}

// sandboxStatus is whether this process, with its environment, runs
// Terraform sandboxed (for doctor; where says whose answer it is).
func sandboxStatus(where string) *doctor.Sandbox {
	mode, exe, err := sandboxSetting()
	s := &doctor.Sandbox{Mode: string(mode), Where: where, Err: err}
	if mode == "" {
		s.Mode = os.Getenv("PLANGATE_SANDBOX")
	}
	if err == nil && exe != "" {
		s.Err = sandbox.Probe(exe)
	}
	return s
}

// stateError is a state dir that cannot be opened: the config is fine,
// what it points at is not.
type stateError struct {
	Dir string
	Err error
}

func (e *stateError) Error() string { return fmt.Sprintf("state dir %s: %v", e.Dir, e.Err) }
func (e *stateError) Unwrap() error { return e.Err }

// openState opens what cfg's state dir holds: plans, ledger, audit log.
func openState(cfg *config.Config, live *config.Live, logger *slog.Logger) (*env, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	live.Pin(cfg.StateDir)
	store, err := plan.OpenStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	runner := plan.NewRunner(tfbin.Finder(cfg.TerraformBinary), cfg.StateDir, logger)
	if err := sandboxTerraform(runner, live); err != nil {
		return nil, err
	}
	log := audit.Open(cfg.StateDir)
	g := &gate.Gate{Config: cfg, Live: live, Store: store, Runner: runner, Ledger: ledger, Audit: log, Logger: logger, AWS: awsguard.NewGuards()}
	// Applies an earlier plangate started and did not see end are
	// recorded now, from their journals (those still running, later).
	g.RecoverApplies()
	return &env{
		cfg:   cfg,
		live:  live,
		store: store,
		audit: log,
		gate:  g,
		deps:  &tools.Deps{Config: cfg, Gate: g, Store: store, Logger: logger},
	}, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "Print plangate's version.", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(stdout, "plangate %s\n", appVersion())
	return nil
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
