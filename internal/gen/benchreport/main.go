// Command benchreport prints the ratios `make bench` reports, from one run
// on this machine:
//
//   - for generated plans of 1,000 and 10,000 changes (internal/gen: all
//     create, all replace, a mix), plangate's analysis + rendering time and
//     peak memory next to the time `terraform show -json` takes on the same
//     plan file (target: analysis ≤ 10% of show -json), and the same for
//     everything plangate does with the plan JSON (analysis, rendering,
//     sanitizing);
//   - gate.Gate.Propose (what plan_change runs) on the generated
//     1,000-resource stack, end to end, next to bare `terraform plan -out`
//   - `terraform show -json` on the same stack (target ratio ≤ 1.05);
//   - concurrent calls (load.go): 50 plan_change and 500 read-only calls
//     at once over stdio from one MCP client to the real `plangate serve`,
//     then from five clients (five servers on one state_dir); results by
//     kind, read latency while plans run (target p95 ≤ 50 ms) next to
//     bare `terraform show -json`, and each server's peak RSS;
//   - concurrent sessions over HTTP (httpload.go): 20 agents, each with
//     its own token, call the real `plangate server` on a loopback port
//     for 60 s of mixed calls; each tool's p50/p95/max next to the same
//     call on the idle server, calls per second, the server's RSS, and
//     no call may fail (any error fails the run).
//
// Peak memory is measured in a child process (this program run as
// `benchreport measure`): the high-water mark of the Go heap's objects,
// sampled, and the process's VmHWM from /proc/self/status.
//
//   - the size on the wire of every tool result (results.go) on generated
//     plans of 0 to 2,000 deletions (target ≤ 24 KiB each), and start-up to
//     the tools/list answer of `plangate serve` next to a bare mcp-go
//     server with seven tools (startup.go; target ratio ≤ 1.5).
//
//     go run ./internal/gen/benchreport [-dir DIR] [-reps N] [-sizes 1k,10k] [-load=false | -load-only]
//     [-results=false | -results-only] [-startup=false | -startup-only] [-startup-reps 21]
//     [-sandbox-only] [-http=false | -http-only] [-http-sessions 20] [-http-duration 60s] [-plangate BIN]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
)

var sizes = map[string]gen.Spec{
	"1k":  {Modules: 10, PerModule: 100},
	"10k": {Modules: 10, PerModule: 1000},
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "measure" {
		if err := measureMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport measure:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", os.Getenv("PLANGATE_BENCH_DIR"), "where generated stacks and plans are kept (default: a temporary directory, removed at the end)")
	reps := flag.Int("reps", 7, "repetitions of each end-to-end timing (the median is reported)")
	sizeList := flag.String("sizes", "1k,10k", "plan sizes to report")
	e2eOnly := flag.Bool("e2e-only", false, "only the plan_change and apply_plan end-to-end figures")
	load := flag.Bool("load", true, "the concurrent-calls figure (load.go), last")
	loadOnly := flag.Bool("load-only", false, "only the concurrent-calls figure")
	sandboxOnly := flag.Bool("sandbox-only", false, "only the Terraform sandbox figure (sandbox.go)")
	httpLoad := flag.Bool("http", true, "the concurrent-sessions-over-HTTP figure (httpload.go), after the concurrent-calls one")
	httpOnly := flag.Bool("http-only", false, "only the concurrent-sessions-over-HTTP figure (with -load-only: both)")
	httpSessions := flag.Int("http-sessions", 20, "concurrent HTTP sessions, one agent token each")
	httpDuration := flag.Duration("http-duration", 60*time.Second, "how long the HTTP sessions make calls")
	startup := flag.Bool("startup", true, "the start-up figure (startup.go): plangate serve vs a bare mcp-go server, to the tools/list answer")
	startupOnly := flag.Bool("startup-only", false, "only the start-up figure")
	startupReps := flag.Int("startup-reps", 21, "start-ups timed of each server (the median is reported)")
	results := flag.Bool("results", true, "the tool-result size figure (results.go)")
	resultsOnly := flag.Bool("results-only", false, "only the tool-result size figure")
	plangateBin := flag.String("plangate", "", "the plangate binary the concurrent figures serve (default: go build ./cmd/plangate into -dir)")
	flag.Parse()
	if *httpSessions < 1 || *httpDuration <= 0 {
		return errors.New("-http-sessions must be at least 1 and -http-duration positive")
	}

	ctx := context.Background()
	bin, err := tfbin.Find()
	if err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "plangate-benchreport-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	tf, err := gen.NewTerraform(bin, *dir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("plangate benchreport — %s, %d CPUs, %s, terraform %s\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.Version(), terraformVersion(ctx, tf))

	// The concurrent figures, last or alone, on one build of plangate.
	concurrent := func(load, http bool) error {
		if !load && !http {
			return nil
		}
		bin, err := buildPlangate(ctx, *dir, *plangateBin)
		if err != nil {
			return err
		}
		if err := reportSandbox(ctx, tf, *dir, bin, *reps); err != nil {
			return err
		}
		if load {
			if err := reportLoad(ctx, tf, *dir, bin); err != nil {
				return err
			}
		}
		if http {
			return reportHTTPLoad(ctx, tf, *dir, bin, *httpSessions, *httpDuration)
		}
		return nil
	}
	if *sandboxOnly {
		bin, err := buildPlangate(ctx, *dir, *plangateBin)
		if err != nil {
			return err
		}
		return reportSandbox(ctx, tf, *dir, bin, *reps)
	}
	if *startupOnly || *resultsOnly {
		if *resultsOnly {
			if err := reportResults(ctx, tf, *dir); err != nil {
				return err
			}
		}
		if !*startupOnly {
			return nil
		}
		bin, err := buildPlangate(ctx, *dir, *plangateBin)
		if err != nil {
			return err
		}
		return reportStartup(ctx, *dir, bin, *startupReps)
	}
	if *loadOnly || *httpOnly {
		return concurrent(*loadOnly, *httpOnly)
	}
	if !*e2eOnly {
		fmt.Println()
		fmt.Println("Generated plans. show-json: `terraform show -json` on the plan file. analyse+render: plan.AnalyzeBytes + RenderDiff,")
		fmt.Println("as plan_change runs them; +sanitize: plan.Digest, all plan_change does with the JSON (read, analyse, render, sanitize).")
		fmt.Println("Times are medians; ratio = time / show-json time (target for +sanitize: <= 10%). heap: sampled high-water of Go heap")
		fmt.Println("objects (garbage included); /B: per byte of plan JSON; kept: live heap after GC, the Analysis held; RSS: VmHWM.")
		fmt.Printf("%-12s %7s %8s %9s | %9s %6s %8s %5s %8s %8s | %9s %6s %8s %5s %8s\n",
			"plan", "changes", "JSON", "show-json", "anal+rend", "ratio", "heap", "/B", "kept", "RSS",
			"+sanitize", "ratio", "heap", "/B", "RSS")
		for _, name := range strings.Split(*sizeList, ",") {
			spec, ok := sizes[name]
			if !ok {
				return fmt.Errorf("unknown size %q (have 1k, 10k)", name)
			}
			for _, sc := range gen.Scenarios {
				if err := reportPlan(ctx, tf, self, *dir, name, spec, sc); err != nil {
					return err
				}
			}
		}
	}

	fmt.Println()
	if err := reportEndToEnd(ctx, tf, *dir, *reps); err != nil {
		return err
	}
	if err := reportApply(ctx, tf, *dir, *reps); err != nil {
		return err
	}
	if *e2eOnly {
		return nil
	}
	if *results {
		fmt.Println()
		if err := reportResults(ctx, tf, *dir); err != nil {
			return err
		}
	}
	if *startup {
		bin, err := buildPlangate(ctx, *dir, *plangateBin)
		if err != nil {
			return err
		}
		fmt.Println()
		if err := reportStartup(ctx, *dir, bin, *startupReps); err != nil {
			return err
		}
	}
	return concurrent(*load, *httpLoad)
}

func terraformVersion(ctx context.Context, tf *gen.Terraform) string {
	var out bytes.Buffer
	if err := tf.Run(ctx, os.TempDir(), &out, "version", "-json"); err != nil {
		return "?"
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	_ = json.Unmarshal(out.Bytes(), &v)
	return v.Version
}

// reportPlan prints one line: show -json time, plangate's times and memory.
func reportPlan(ctx context.Context, tf *gen.Terraform, self, dir, sizeName string, spec gen.Spec, sc gen.Scenario) error {
	p, err := gen.Prepare(ctx, tf, dir, spec, sc)
	if err != nil {
		return err
	}
	st, err := os.Stat(p.JSONFile)
	if err != nil {
		return err
	}
	size := st.Size()

	// terraform show -json on the same plan file, into a file as the runner
	// does: median of a few runs (one at 10k: it takes seconds).
	showReps := 3
	if spec.Resources() >= 10000 {
		showReps = 1
	}
	var shows []time.Duration
	out := filepath.Join(dir, "show-timing.json")
	for range showReps {
		d, err := tf.ShowJSON(ctx, p.Dir, p.PlanFile, out)
		if err != nil {
			return err
		}
		shows = append(shows, d)
	}
	_ = os.Remove(out)
	show := median(shows)

	ar, err := measureChild(self, "analyze-render", p.JSONFile)
	if err != nil {
		return err
	}
	full, err := measureChild(self, "planner", p.JSONFile)
	if err != nil {
		return err
	}
	fmt.Printf("%-12s %7d %8s %9s | %9s %5.1f%% %8s %5.2f %8s %8s | %9s %5.1f%% %8s %5.2f %8s\n",
		sizeName+"/"+string(sc), spec.Changes(sc), mib(size), ms(show),
		ms(ar.Time), 100*ar.Time.Seconds()/show.Seconds(), mib(ar.PeakHeap), float64(ar.PeakHeap)/float64(size), mib(ar.Kept), mib(ar.VmHWM),
		ms(full.Time), 100*full.Time.Seconds()/show.Seconds(), mib(full.PeakHeap), float64(full.PeakHeap)/float64(size), mib(full.VmHWM))
	return nil
}

// measurement is what `benchreport measure` prints.
type measurement struct {
	Time     time.Duration // median of the timed runs
	PeakHeap int64         // sampled high-water of heap object bytes, first run
	VmHWM    int64         // process RSS high-water, after the first run
	Alloc    int64         // bytes allocated by the first run
	Kept     int64         // live heap after the first run, its result still held
}

func measureChild(self, what, jsonFile string) (measurement, error) {
	var m measurement
	cmd := exec.Command(self, "measure", what, jsonFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return m, fmt.Errorf("measure %s %s: %w\n%s", what, jsonFile, err, stderr.String())
	}
	return m, json.Unmarshal(stdout.Bytes(), &m)
}

// measureMain runs one workload on a plan JSON file: once while sampling
// the heap, then a few times for time.
func measureMain(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: benchreport measure analyze-render|planner PLAN_JSON")
	}
	what, file := args[0], args[1]
	// The files go to memory (tmpfs) where there is one: the figure is the
	// JSON work, not the disk's fsync latency (the same before and after).
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	work, err := os.MkdirTemp(base, "plangate-measure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var workload func(i int) (*plan.Analysis, error)
	switch what {
	case "analyze-render":
		workload = func(i int) (*plan.Analysis, error) {
			return analyzeRender(file, filepath.Join(work, fmt.Sprintf("diff%d.txt", i)))
		}
	case "planner":
		workload = func(i int) (*plan.Analysis, error) { return plannerAnalyse(file, filepath.Join(work, strconv.Itoa(i))) }
	default:
		return fmt.Errorf("unknown workload %q", what)
	}

	var m measurement
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := sampleHeap()
	a, err := workload(0)
	if err != nil {
		return err
	}
	m.PeakHeap = stop()
	m.VmHWM = vmHWMOf("/proc/self/status")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	m.Alloc = int64(after.TotalAlloc - before.TotalAlloc)
	runtime.GC()
	runtime.ReadMemStats(&after)
	m.Kept = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(a)

	var times []time.Duration
	for i := 1; i <= 3; i++ {
		runtime.GC()
		start := time.Now()
		if _, err := workload(i); err != nil {
			return err
		}
		times = append(times, time.Since(start))
	}
	m.Time = median(times)
	return json.NewEncoder(os.Stdout).Encode(m)
}

// analyzeRender is the analysis and the rendered diff, as gate.Gate.Propose
// makes them: the JSON read from its file, the diff to a file.
func analyzeRender(jsonFile, diffFile string) (*plan.Analysis, error) {
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		return nil, err
	}
	a, err := plan.AnalyzeBytes(raw)
	if err != nil {
		return nil, err
	}
	out, err := os.Create(diffFile)
	if err != nil {
		return nil, err
	}
	if err := a.RenderDiff(out); err != nil {
		out.Close()
		return nil, err
	}
	return a, out.Close()
}

// plannerAnalyse is everything gate.Gate.Propose does with the plan JSON,
// by the same function (plan.Digest): the analysis, the rendered diff and
// the sanitized JSON it keeps.
func plannerAnalyse(jsonFile, dir string) (*plan.Analysis, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		return nil, err
	}
	return plan.Digest(dir, raw)
}

// sampleHeap samples the bytes of live and not yet swept heap objects
// every 200µs until the returned function is called, which returns the
// highest value seen.
func sampleHeap() func() int64 {
	const name = "/memory/classes/heap/objects:bytes"
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	read := func(s []metrics.Sample) {
		metrics.Read(s)
		if v := int64(s[0].Value.Uint64()); v > peak.Load() {
			peak.Store(v)
		}
	}
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: name}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			read(s)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		s := []metrics.Sample{{Name: name}}
		read(s)
		return peak.Load()
	}
}

// vmHWMOf returns the peak resident set size, in bytes, that a
// /proc/<pid>/status file reports (0 if it cannot be read).
func vmHWMOf(status string) int64 { return procStatus(status, "VmHWM") * 1024 }

// procStatus returns the number of a field of a /proc/<pid>/status file:
// kB for the Vm* fields, a count for Threads (0 if it cannot be read).
func procStatus(status, field string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// reportEndToEnd times gate.Gate.Propose on the generated 1,000-resource
// stack (mix) against bare terraform plan -out + show -json on the same
// stack, alternating, after one warm-up run of each.
func reportEndToEnd(ctx context.Context, tf *gen.Terraform, dir string, reps int) error {
	spec := sizes["1k"]
	p, err := gen.Prepare(ctx, tf, dir, spec, gen.Mix)
	if err != nil {
		return err
	}
	cfg, st, store, err := benchProject(filepath.Join(dir, "e2e-project"), p.Dir, "")
	if err != nil {
		return err
	}
	// The planner runs terraform with the benchmark's CLI config, like the
	// bare runs.
	for _, kv := range tf.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "TF_CLI_CONFIG_FILE") || k == "CHECKPOINT_DISABLE") {
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	planner := &gate.Gate{Config: cfg, Runner: plan.NewRunner(func() (string, error) { return tf.Bin, nil }, cfg.StateDir, nil), Store: store}

	propose := func() (time.Duration, *plan.Record, error) {
		start := time.Now()
		rec, err := planner.Propose(ctx, st, nil, audit.Client{})
		return time.Since(start), rec, err
	}
	// bare is what a user runs by hand; bareJSON runs plan with -json, as
	// plangate does (Terraform's machine-readable output instead of the
	// human diff), so the difference is plangate's own work.
	bareRun := func(i int, jsonUI bool) (time.Duration, error) {
		planFile := filepath.Join(dir, fmt.Sprintf("bare-%d.tfplan", i))
		jsonFile := filepath.Join(dir, fmt.Sprintf("bare-%d.json", i))
		defer os.Remove(planFile)
		defer os.Remove(jsonFile)
		start := time.Now()
		args := []string{"plan", "-input=false", "-no-color", "-out=" + planFile}
		if jsonUI {
			args = append(args, "-json")
		}
		if err := tf.Run(ctx, p.Dir, nil, args...); err != nil {
			return 0, err
		}
		if _, err := tf.ShowJSON(ctx, p.Dir, planFile, jsonFile); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}

	// Warm-up: the planner's first run initialises its own data dir.
	if _, rec, err := propose(); err != nil {
		return err
	} else if want := spec.Expected(gen.Mix); rec.Counts.Add != want.Add || rec.Counts.Change != want.Change || rec.Counts.Destroy != want.Destroy {
		return fmt.Errorf("plan_change counted %+v, want %+v", rec.Counts, want)
	}
	if _, err := bareRun(0, false); err != nil {
		return err
	}
	var proposes, bares, bareJSONs []time.Duration
	for i := 1; i <= reps; i++ {
		// Rotate the order so that drift in the machine's load spreads evenly.
		for k := range 3 {
			switch (i + k) % 3 {
			case 0:
				d, _, err := propose()
				if err != nil {
					return err
				}
				proposes = append(proposes, d)
			case 1:
				d, err := bareRun(i, false)
				if err != nil {
					return err
				}
				bares = append(bares, d)
			case 2:
				d, err := bareRun(i, true)
				if err != nil {
					return err
				}
				bareJSONs = append(bareJSONs, d)
			}
		}
	}
	mp, mb, mj := median(proposes), median(bares), median(bareJSONs)
	fmt.Printf("plan_change end to end on the generated 1,000-resource stack (%s: %d changes), median of %d runs, interleaved\n",
		gen.Mix, spec.Changes(gen.Mix), reps)
	fmt.Printf("  gate.Gate.Propose                          %8s   (runs: %s)\n", ms(mp), list(proposes))
	fmt.Printf("  bare terraform plan -out + show -json         %8s   (runs: %s)\n", ms(mb), list(bares))
	fmt.Printf("  bare terraform plan -json -out + show -json   %8s   (runs: %s)\n", ms(mj), list(bareJSONs))
	fmt.Printf("  ratio to bare                                 %8.3f   (target <= 1.05)\n", mp.Seconds()/mb.Seconds())
	fmt.Printf("  ratio to bare with -json (plangate's own work) %7.3f\n", mp.Seconds()/mj.Seconds())
	return nil
}

// benchProject writes a fresh plangate project in project with one stack
// "bench" on stackDir (and extra config; its state_dir in the benchmark's
// temporary dir, not the user's) and opens its store.
func benchProject(project, stackDir, extra string) (*config.Config, *config.Stack, *plan.Store, error) {
	if err := os.RemoveAll(project); err != nil {
		return nil, nil, nil, err
	}
	if err := os.MkdirAll(project, 0o755); err != nil {
		return nil, nil, nil, err
	}
	cfgPath := filepath.Join(project, "plangate.hcl")
	src := fmt.Sprintf("state_dir = \"state\"\nstack \"bench\" {\n  dir = %q\n}\n%s", stackDir, extra)
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, nil, err
	}
	st, _ := cfg.Stack("bench")
	store, err := plan.OpenStore(cfg.StateDir)
	return cfg, st, store, err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d.Microseconds())/1000) }

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }

func list(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, ms(d))
	}
	return strings.Join(parts, " ")
}
