package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/tfbin"
)

// loadSpec is the stack the load figure runs on: 500 instances in state
// and a mix plan of 250 changes (100 to add, 100 to change, 100 to
// destroy) that takes plan_change about two seconds on 2 cores, so that
// reads meet a running plan.
var loadSpec = gen.Spec{Modules: 5, PerModule: 100}

const (
	loadPlans   = 50  // concurrent plan_change calls per client
	loadReads   = 500 // concurrent read-only calls per client
	loadClients = 5   // clients at once in the last phase
)

// readTools are the read-only calls of the load, in the order they are
// interleaved.
var readTools = []string{"show_stack", "list_plans", "get_plan", "list_stacks"}

// reportLoad drives the real `plangate serve` over stdio with mcp-go's
// client, as an IDE does: first one client (one serve process), then five
// clients at once, each its own serve process on the same config and
// state_dir (each IDE window starts its own server). It prints the
// results by kind (ok, busy refusals, other errors, each other error's
// text), the latency of read-only calls while plans run, next to bare
// `terraform show -json` of the same state, and each server's peak RSS.
// plangateBin is the binary to serve (buildPlangate).
func reportLoad(ctx context.Context, tf *gen.Terraform, dir, plangateBin string) error {
	p, err := gen.Prepare(ctx, tf, dir, loadSpec, gen.Mix)
	if err != nil {
		return err
	}
	project := filepath.Join(dir, "load-project")
	cfg, _, _, err := benchProject(project, p.Dir, "")
	if err != nil {
		return err
	}
	env := append(slices.Clone(tf.Env), "XDG_STATE_HOME="+filepath.Join(dir, "load-xdg"), tfbin.EnvVar+"="+tf.Bin)
	start := func(name string) (*loadClient, error) {
		return startLoadClient(ctx, plangateBin, cfg.Path, env, filepath.Join(dir, "load-"+name+".log"))
	}
	logs := filepath.Join(dir, "load-*.log")

	fmt.Printf("\nConcurrent calls over stdio (mcp-go client, `plangate serve`), generated stack %s (%s: %d changes), default queue (8 waiters, queue_timeout 2m)\n",
		loadSpec.Name(), gen.Mix, loadSpec.Changes(gen.Mix))

	one, err := start("one")
	if err != nil {
		return err
	}
	defer one.Close()
	idleRSS := one.VmHWM()

	// A first plan: initialises the server's data dir for the stack (so
	// that reads of a busy stack take the lock-free path) and gives
	// get_plan a plan to read.
	first := one.call(ctx, "plan_change", map[string]any{"stack": "bench"})
	if first.kind != kindOK {
		return fmt.Errorf("first plan_change: %s", first.text)
	}
	planID := first.planID
	var alone []time.Duration
	for range 3 {
		r := one.call(ctx, "plan_change", map[string]any{"stack": "bench"})
		if r.kind != kindOK {
			return fmt.Errorf("plan_change: %s", r.text)
		}
		alone = append(alone, r.latency)
	}
	fmt.Printf("  plan_change alone: median %s (runs: %s); server VmHWM after initialize %s\n", ms(median(alone)), list(alone), mib(idleRSS))

	idle, err := measureIdle(ctx, one, tf, p.Dir, planID)
	if err != nil {
		return err
	}
	fmt.Println("  idle stack, one call at a time (p50 / p95 / max):")
	idle.print("    ")

	// One plan running, one read at a time, alternating with a bare show
	// -json of the same state: what an agent waiting for a plan sees.
	steady := map[string][]time.Duration{}
	var bareBusy []time.Duration
	steadyKinds := tally{}
	for range 4 {
		done := make(chan callResult, 1)
		go func() { done <- one.call(ctx, "plan_change", map[string]any{"stack": "bench"}) }()
		if err := one.waitBusy(ctx, time.Minute, nil); err != nil {
			return err
		}
	reads:
		for i := 0; ; i++ {
			select {
			case r := <-done:
				if r.kind != kindOK {
					return fmt.Errorf("plan_change: %s", r.text)
				}
				break reads
			default:
			}
			tool := readTools[i%len(readTools)]
			r := one.call(ctx, tool, readArgs(tool, planID))
			steadyKinds.add(r)
			if r.kind == kindOK {
				steady[tool] = append(steady[tool], r.latency)
				steady["all"] = append(steady["all"], r.latency)
				if tool != "show_stack" {
					steady["all but show_stack"] = append(steady["all but show_stack"], r.latency)
				}
			}
			d, err := bareShowState(ctx, tf, p.Dir)
			if err != nil {
				return err
			}
			bareBusy = append(bareBusy, d)
		}
	}
	fmt.Printf("  one plan running, one read at a time, alternating with bare show -json (4 plans; reads: %s):\n", steadyKinds)
	for _, tool := range append(slices.Clone(readTools), "all", "all but show_stack") {
		fmt.Printf("    %-18s %s\n", tool, dist(steady[tool]))
	}
	fmt.Printf("    %-18s %s\n", "bare show", dist(bareBusy))
	if len(steady["show_stack"]) > 0 && len(bareBusy) > 0 {
		fmt.Printf("    show_stack p95 / bare show p95 = %.2f; reads p95 %s, without show_stack %s (target <= 50ms)\n",
			pct(steady["show_stack"], 95).Seconds()/pct(bareBusy, 95).Seconds(), roundMs(pct(steady["all"], 95)),
			roundMs(pct(steady["all but show_stack"], 95)))
	}
	steadyKinds.printOthers("    ")

	if err := burst(ctx, []*loadClient{one}, planID); err != nil {
		return err
	}
	if err := one.Close(); err != nil {
		return err
	}

	var many []*loadClient
	for i := range loadClients {
		c, err := start(fmt.Sprintf("client%d", i+1))
		if err != nil {
			return err
		}
		defer c.Close()
		many = append(many, c)
	}
	if err := burst(ctx, many, planID); err != nil {
		return err
	}
	for _, c := range many {
		if err := c.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("  (servers' logs: %s)\n", logs)
	return nil
}

// burst sends, from every client at once, loadPlans plan_change calls,
// waits until each client's server runs or queues one (show_stack says
// concurrent), then loadReads read-only calls, all without waiting for
// answers, and prints what came back.
func burst(ctx context.Context, clients []*loadClient, planID string) error {
	type clientResults struct {
		plans, reads []callResult
		plansEnd     time.Time // when the last plan_change answered
	}
	res := make([]clientResults, len(clients))
	var plansWG sync.WaitGroup
	var mu sync.Mutex
	t0 := time.Now()
	for ci, c := range clients {
		for range loadPlans {
			plansWG.Add(1)
			go func() {
				defer plansWG.Done()
				r := c.call(ctx, "plan_change", map[string]any{"stack": "bench"})
				mu.Lock()
				res[ci].plans = append(res[ci].plans, r)
				if r.end.After(res[ci].plansEnd) {
					res[ci].plansEnd = r.end
				}
				mu.Unlock()
			}()
		}
	}
	// Each client fires its reads once its server reads the stack as busy
	// (or refuses the read as busy: that, too, says a run holds it).
	var readsWG sync.WaitGroup
	polls := make([]tally, len(clients))
	pollErrs := make([]error, len(clients))
	for ci, c := range clients {
		readsWG.Add(1)
		go func() {
			defer readsWG.Done()
			if err := c.waitBusy(ctx, 3*time.Minute, &polls[ci]); err != nil {
				pollErrs[ci] = err
				return
			}
			var wg sync.WaitGroup
			for i := range loadReads {
				tool := readTools[i%len(readTools)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := c.call(ctx, tool, readArgs(tool, planID))
					mu.Lock()
					res[ci].reads = append(res[ci].reads, r)
					mu.Unlock()
				}()
			}
			wg.Wait()
		}()
	}
	readsWG.Wait()
	readsDone := time.Since(t0)
	plansWG.Wait()
	wall := time.Since(t0)
	if err := errors.Join(pollErrs...); err != nil {
		return err
	}

	plans, reads := tally{}, map[string]tally{}
	lat := map[string][]time.Duration{}
	var during, after []time.Duration
	concurrent := 0
	var planOK, planBusy []time.Duration
	for _, cr := range res {
		for _, r := range cr.plans {
			plans.add(r)
			switch r.kind {
			case kindOK:
				planOK = append(planOK, r.latency)
			case kindBusy:
				planBusy = append(planBusy, r.latency)
			}
		}
		for _, r := range cr.reads {
			t := reads[r.tool]
			t.add(r)
			reads[r.tool] = t
			all := reads["all"]
			all.add(r)
			reads["all"] = all
			if r.concurrent {
				concurrent++
			}
			if r.kind != kindOK {
				continue
			}
			lat[r.tool] = append(lat[r.tool], r.latency)
			lat["all"] = append(lat["all"], r.latency)
			if r.end.Before(cr.plansEnd) {
				during = append(during, r.latency)
			} else {
				after = append(after, r.latency)
			}
		}
	}
	var rss []string
	var peak int64
	for _, c := range clients {
		v := c.VmHWM()
		peak = max(peak, v)
		rss = append(rss, mib(v))
	}
	who := "one client (one serve process)"
	if len(clients) > 1 {
		who = fmt.Sprintf("%d clients at once (%d serve processes, one config and state_dir)", len(clients), len(clients))
	}
	fmt.Printf("  %s: %d plan_change + %d reads each; all reads answered after %s, all calls after %s\n",
		who, loadPlans, loadReads, roundMs(readsDone), roundMs(wall))
	var poll tally
	for _, t := range polls {
		poll.ok, poll.busy, poll.other = poll.ok+t.ok, poll.busy+t.busy, poll.other+t.other
		for k, v := range t.others {
			if poll.others == nil {
				poll.others = map[string]int{}
			}
			poll.others[k] += v
		}
	}
	fmt.Printf("    show_stack polls until busy (not counted below): %s\n", poll)
	fmt.Printf("    plan_change  %s; latency ok %s, refused %s\n", plans, dist(planOK), dist(planBusy))
	if plans.busyText != "" {
		fmt.Printf("    a refusal: %s\n", plans.busyText)
	}
	for _, tool := range append(slices.Clone(readTools), "all") {
		extra := ""
		if tool == "show_stack" {
			extra = fmt.Sprintf(", %d labelled concurrent", concurrent)
		}
		fmt.Printf("    %-12s %s%s; latency %s\n", tool, reads[tool], extra, dist(lat[tool]))
	}
	fmt.Printf("    reads answered while the client's plans ran: %d, latency %s; after: %d\n", len(during), dist(during), len(after))
	fmt.Printf("    server VmHWM: %s (max %s)\n", strings.Join(rss, " "), mib(peak))
	poll.printOthers("    poll ")
	plans.printOthers("    plan_change ")
	reads["all"].printOthers("    reads ")
	return nil
}

type resultKind int

const (
	kindOK resultKind = iota
	kindBusy
	kindOther
)

type callResult struct {
	tool       string
	kind       resultKind
	text       string // the error's text, for busy and other
	latency    time.Duration
	end        time.Time
	planID     string // plan_change's
	concurrent bool   // show_stack read a busy stack
	transport  bool   // the error is the transport's or JSON-RPC's, not the tool's
}

// tally counts results by kind and keeps the texts of other errors.
type tally struct {
	ok, busy, other int
	others          map[string]int
	busyText        string // the first busy refusal's
	busyWaited      int    // refusals after waiting queue_timeout
}

func (t *tally) add(r callResult) {
	switch r.kind {
	case kindOK:
		t.ok++
	case kindBusy:
		t.busy++
		if t.busyText == "" {
			t.busyText = r.text
		}
		if strings.Contains(r.text, "(its queue_timeout)") {
			t.busyWaited++
		}
	default:
		t.other++
		if t.others == nil {
			t.others = map[string]int{}
		}
		t.others[r.tool+": "+r.text]++
	}
}

func (t tally) String() string {
	return fmt.Sprintf("ok %d, busy %d (%d after waiting queue_timeout), other errors %d", t.ok, t.busy, t.busyWaited, t.other)
}

// printOthers prints every other error's text (a bug to report), the most
// frequent first.
func (t tally) printOthers(prefix string) {
	texts := make([]string, 0, len(t.others))
	for s := range t.others {
		texts = append(texts, s)
	}
	sort.Slice(texts, func(i, j int) bool { return t.others[texts[i]] > t.others[texts[j]] })
	for _, s := range texts {
		fmt.Printf("%sOTHER ERROR ×%d: %s\n", prefix, t.others[s], s)
	}
}

// loadClient is an MCP client session with its own `plangate serve`.
type loadClient struct {
	c      *client.Client
	cmd    *exec.Cmd
	log    *os.File
	closed bool
}

func startLoadClient(ctx context.Context, bin, cfgPath string, env []string, logPath string) (*loadClient, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	lc := &loadClient{log: log}
	c, err := client.NewStdioMCPClientWithOptions(bin, nil, []string{"serve", "--config", cfgPath},
		transport.WithCommandFunc(func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = env
			cmd.Stderr = log
			lc.cmd = cmd
			return cmd, nil
		}))
	if err != nil {
		log.Close()
		return nil, err
	}
	lc.c = c
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION,
		ClientInfo:      mcp.Implementation{Name: "benchreport-load", Version: "1"},
	}}); err != nil {
		lc.Close()
		return nil, fmt.Errorf("initialize plangate serve (log %s): %w", logPath, err)
	}
	return lc, nil
}

// Close ends the session and the server.
func (lc *loadClient) Close() error {
	if lc.closed {
		return nil
	}
	lc.closed = true
	err := lc.c.Close()
	if cerr := lc.log.Close(); err == nil {
		err = cerr
	}
	return err
}

// VmHWM is the server process's peak resident set size so far.
func (lc *loadClient) VmHWM() int64 {
	return vmHWMOf(filepath.Join("/proc", strconv.Itoa(lc.cmd.Process.Pid), "status"))
}

// call calls tool and sorts its result.
func (lc *loadClient) call(ctx context.Context, tool string, args map[string]any) callResult {
	return callTool(ctx, lc.c, tool, args)
}

// callTool calls tool on c, over any transport, and sorts its result: a
// JSON-RPC or transport error is kindOther, a tool error kindBusy when it
// is the stack's bounded-queue refusal and kindOther otherwise.
func callTool(ctx context.Context, c *client.Client, tool string, args map[string]any) callResult {
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := c.CallTool(ctx, req)
	r := callResult{tool: tool, end: time.Now()}
	r.latency = r.end.Sub(start)
	switch {
	case err != nil:
		r.kind, r.text, r.transport = kindOther, "JSON-RPC: "+err.Error(), true
	case res.IsError:
		r.kind, r.text = kindOther, resultText(res)
		if strings.HasPrefix(r.text, `stack "bench" is busy: `) {
			r.kind = kindBusy
		}
	default:
		var sc struct {
			PlanID     string `json:"plan_id"`
			Concurrent string `json:"concurrent"`
		}
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			_ = json.Unmarshal(b, &sc)
		}
		r.planID, r.concurrent = sc.PlanID, sc.Concurrent != ""
	}
	return r
}

// waitBusy polls show_stack until the server reads the stack as busy (a
// plan runs, or waits for another process's run) or refuses the read as
// busy, for at most timeout. Each poll's result is added to polls.
func (lc *loadClient) waitBusy(ctx context.Context, timeout time.Duration, polls *tally) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r := lc.call(ctx, "show_stack", map[string]any{"stack": "bench"})
		if polls != nil {
			polls.add(r)
		}
		if r.concurrent || r.kind == kindBusy {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("show_stack never read the stack as busy while plan_change calls ran")
}

// caller is an MCP session the figures call tools on: a stdio client
// with its own server, or one HTTP session of a shared server.
type caller interface {
	call(ctx context.Context, tool string, args map[string]any) callResult
}

// idleReads are the latencies of each read tool called one at a time on
// an idle stack, and of bare show -json of its state.
type idleReads struct {
	tools map[string][]time.Duration
	bare  []time.Duration
}

// measureIdle calls each read tool ten times, one call at a time, with
// nothing else running, and every fourth call times a bare `terraform
// show -json` of the stack's state (what show_stack runs).
func measureIdle(ctx context.Context, s caller, tf *gen.Terraform, stackDir, planID string) (idleReads, error) {
	idle := idleReads{tools: map[string][]time.Duration{}}
	for i := range 40 {
		tool := readTools[i%len(readTools)]
		r := s.call(ctx, tool, readArgs(tool, planID))
		if r.kind != kindOK {
			return idle, fmt.Errorf("%s on an idle stack: %s", tool, r.text)
		}
		idle.tools[tool] = append(idle.tools[tool], r.latency)
		if i%4 == 0 {
			d, err := bareShowState(ctx, tf, stackDir)
			if err != nil {
				return idle, err
			}
			idle.bare = append(idle.bare, d)
		}
	}
	return idle, nil
}

func (r idleReads) print(indent string) {
	for _, tool := range readTools {
		fmt.Printf("%s%-12s %s\n", indent, tool, dist(r.tools[tool]))
	}
	fmt.Printf("%s%-12s %s\n", indent, "bare show", dist(r.bare))
}

// buildPlangate returns bin, or when it is empty builds ./cmd/plangate
// into dir (benchreport runs from the repository).
func buildPlangate(ctx context.Context, dir, bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "plangate")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/plangate").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/plangate (run benchreport from the repository, or pass -plangate): %w\n%s", err, out)
	}
	return bin, nil
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func readArgs(tool, planID string) map[string]any {
	switch tool {
	case "show_stack":
		return map[string]any{"stack": "bench"}
	case "get_plan":
		return map[string]any{"plan_id": planID}
	case "list_plans":
		return map[string]any{"stack": "bench"}
	}
	return map[string]any{}
}

// bareShowState is `terraform show -json` of the stack's state, what
// show_stack runs.
func bareShowState(ctx context.Context, tf *gen.Terraform, dir string) (time.Duration, error) {
	start := time.Now()
	err := tf.Run(ctx, dir, nil, "show", "-json", "-no-color")
	return time.Since(start), err
}

// pct is the q-th percentile of d (nearest rank).
func pct(d []time.Duration, q int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (q*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

// dist is "p50 / p95 / max (n)".
func dist(d []time.Duration) string {
	if len(d) == 0 {
		return "- (0)"
	}
	return fmt.Sprintf("%s / %s / %s (n=%d)", roundMs(pct(d, 50)), roundMs(pct(d, 95)), roundMs(slices.Max(d)), len(d))
}

// roundMs prints a duration in ms, with a decimal under 10 ms.
func roundMs(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return ms(d)
}
