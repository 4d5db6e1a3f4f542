package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/internal/tfbin"
)

// httpSpec is the stack of the HTTP figure: 200 instances in state and a
// mix plan of 100 changes, which plan_change makes in about a second on
// 2 idle cores.
var httpSpec = gen.Spec{Modules: 2, PerModule: 100}

const (
	// httpPace: a session starts a call at most this often, 5 a second,
	// under each agent token's limit (600 requests a minute, burst 60).
	httpPace = 200 * time.Millisecond
	// httpPlanners bounds the plan_change calls in flight over all
	// sessions: one runs, one waits, far from the stack's 8 waiters.
	httpPlanners = 2
	// httpPlanEvery: a session's plan_change calls start at least this
	// far apart.
	httpPlanEvery = 10 * time.Second
	// httpBarePause is the pause between the bare show -json runs timed
	// beside the load.
	httpBarePause = time.Second
)

// httpTools are the tools of the HTTP figure, in the order reported.
var httpTools = append(slices.Clone(readTools), "plan_change", "discard_plan")

// reportHTTPLoad drives the real `plangate server` on a loopback TCP port
// with mcp-go's streamable HTTP client: first one session on the idle
// server (the baseline), then sessions concurrent sessions, each with
// its own agent token, for duration of mixed calls. It prints each tool's
// latency next to its baseline, the calls made, the server's RSS, file
// descriptors and log warnings, and that it stops on SIGTERM. Any call
// that fails, by a tool error or the transport, fails the figure.
func reportHTTPLoad(ctx context.Context, tf *gen.Terraform, dir, plangateBin string, sessions int, duration time.Duration) error {
	p, err := gen.Prepare(ctx, tf, dir, httpSpec, gen.Mix)
	if err != nil {
		return err
	}
	cfg, _, _, err := benchProject(filepath.Join(dir, "http-project"), p.Dir, "")
	if err != nil {
		return err
	}
	env := append(slices.Clone(tf.Env), "XDG_STATE_HOME="+filepath.Join(dir, "http-xdg"), tfbin.EnvVar+"="+tf.Bin)
	names := []string{"bench"}
	for i := range sessions {
		names = append(names, fmt.Sprintf("bench-%02d", i+1))
	}
	tokens := map[string]string{}
	for _, name := range names {
		if tokens[name], err = addAgentToken(ctx, plangateBin, cfg.Path, env, name); err != nil {
			return err
		}
	}
	logPath := filepath.Join(dir, "http-server.log")
	srv, err := startHTTPServer(ctx, plangateBin, cfg.Path, env, logPath)
	if err != nil {
		return err
	}
	defer srv.kill()
	clientLog, err := os.Create(filepath.Join(dir, "http-clients.log"))
	if err != nil {
		return err
	}
	defer clientLog.Close()
	logger := slog.New(slog.NewTextHandler(clientLog, nil))

	fmt.Printf("\nConcurrent sessions over HTTP (mcp-go streamable HTTP client, `plangate server --listen tcp://127.0.0.1:<port>`, an agent token each), generated stack %s (%s: %d changes)\n",
		httpSpec.Name(), gen.Mix, httpSpec.Changes(gen.Mix))

	// The baseline: one session on the idle server, one call at a time.
	base, err := startHTTPSession(ctx, srv.url, tokens["bench"], "bench", mcp.LATEST_LEGACY_PROTOCOL_VERSION, logger)
	if err != nil {
		return err
	}
	defer base.close()
	idleRSS := srv.status("VmHWM") * 1024
	first := base.call(ctx, "plan_change", map[string]any{"stack": "bench"})
	if first.kind != kindOK {
		return fmt.Errorf("first plan_change: %s", first.text)
	}
	planID := first.planID
	alone := map[string][]time.Duration{}
	for range 3 {
		r := base.call(ctx, "plan_change", map[string]any{"stack": "bench"})
		if r.kind != kindOK {
			return fmt.Errorf("plan_change: %s", r.text)
		}
		alone["plan_change"] = append(alone["plan_change"], r.latency)
		d := base.call(ctx, "discard_plan", map[string]any{"plan_id": r.planID})
		if d.kind != kindOK {
			return fmt.Errorf("discard_plan: %s", d.text)
		}
		alone["discard_plan"] = append(alone["discard_plan"], d.latency)
	}
	idle, err := measureIdle(ctx, base, tf, p.Dir, planID)
	if err != nil {
		return err
	}
	for tool, d := range idle.tools {
		alone[tool] = d
	}
	fmt.Printf("  idle server, one session (%s), one call at a time (p50 / p95 / max); server VmHWM after initialize %s:\n",
		mcp.LATEST_LEGACY_PROTOCOL_VERSION, mib(idleRSS))
	for _, tool := range httpTools {
		fmt.Printf("    %-12s %s\n", tool, dist(alone[tool]))
	}
	fmt.Printf("    %-12s %s\n", "bare show", dist(idle.bare))
	if err := base.close(); err != nil {
		return err
	}
	fdsBefore := srv.settleFDs(0, 5*time.Second)

	children := srv.sampleChildren(100 * time.Millisecond)
	load, err := runHTTPSessions(ctx, srv.url, names[1:], tokens, planID, duration, logger, func(ctx context.Context) (time.Duration, error) {
		return bareShowState(ctx, tf, p.Dir)
	})
	maxChildren, meanChildren := children()
	if err != nil {
		return err
	}
	// The sessions are closed, their connections too: the server's
	// descriptors come back to what they were, or something leaks.
	fdsAfter := srv.settleFDs(fdsBefore, 5*time.Second)
	hwm, rss := srv.status("VmHWM")*1024, srv.status("VmRSS")*1024
	stopped, stopErr := srv.stop(30 * time.Second)
	warnings, err := logWarnings(logPath)
	if err != nil {
		return err
	}

	failed := load.print(alone, idle.bare)
	fmt.Printf("    server: Terraform processes at once max %d, mean %.1f; VmHWM %s (%s after initialize), VmRSS %s once the sessions closed; open fds %d before the sessions, %d after\n",
		maxChildren, meanChildren, mib(hwm), mib(idleRSS), mib(rss), fdsBefore, fdsAfter)
	if len(warnings) == 0 {
		fmt.Println("    server log: no warning or error")
	}
	for _, w := range warnings {
		fmt.Printf("    server log: %s\n", w)
	}
	if stopErr != nil {
		fmt.Printf("    SIGTERM: %v\n", stopErr)
	} else {
		fmt.Printf("    SIGTERM: exited 0 after %s\n", roundMs(stopped))
	}
	fmt.Printf("  (server log %s, clients' %s)\n", logPath, clientLog.Name())
	switch {
	case failed > 0:
		return fmt.Errorf("%d calls over HTTP failed (listed above)", failed)
	case stopErr != nil:
		return fmt.Errorf("plangate server on SIGTERM: %w", stopErr)
	}
	return nil
}

// addAgentToken makes an agent token with `plangate agent-token add`,
// which prints it alone on stdout's last line.
func addAgentToken(ctx context.Context, bin, cfgPath string, env []string, name string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "agent-token", "add", "--name", name, "--config", cfgPath)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("plangate agent-token add --name %s: %w\n%s", name, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// httpServer is a running `plangate server` on a loopback TCP port.
type httpServer struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's, once exited
}

// startHTTPServer starts `plangate server` on a free loopback port, its
// stdout and stderr to logPath, and waits until it logs that it serves.
func startHTTPServer(ctx context.Context, bin, cfgPath string, env []string, logPath string) (*httpServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.CommandContext(ctx, bin, "server", "--config", cfgPath, "--listen", "tcp://"+addr)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &httpServer{cmd: cmd, url: "http://" + addr + "/mcp", exited: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(logPath)
		switch {
		case strings.Contains(string(b), "plangate serving over HTTP"):
			return s, nil
		case time.Now().After(deadline):
			s.kill()
			return nil, fmt.Errorf("plangate server did not start within a minute (log %s):\n%s", logPath, b)
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("plangate server exited at start (%v):\n%s", s.err, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// status is a field of the server's /proc/<pid>/status (kB for Vm*).
func (s *httpServer) status(field string) int64 {
	return procStatus(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"), field)
}

// fds counts the server's open file descriptors.
func (s *httpServer) fds() int {
	ents, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "fd"))
	return len(ents)
}

// settleFDs polls the server's open descriptors until they are at most
// want (closed connections take the server a moment to notice), for at
// most timeout, and returns the last count.
func (s *httpServer) settleFDs(want int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := s.fds()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// children counts the server's child processes (its Terraform runs).
func (s *httpServer) children() int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "task", "*", "children"))
	n := 0
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		n += len(strings.Fields(string(b)))
	}
	return n
}

// sampleChildren counts the server's child processes every interval
// until the returned function is called, which returns their maximum
// and mean.
func (s *httpServer) sampleChildren(interval time.Duration) func() (int, float64) {
	done := make(chan struct{})
	var peak, sum, samples int
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			n := s.children()
			peak, sum, samples = max(peak, n), sum+n, samples+1
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (int, float64) {
		close(done)
		<-finished
		return peak, float64(sum) / float64(samples)
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit (status 0).
func (s *httpServer) stop(grace time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-s.exited:
		return time.Since(start), s.err
	case <-time.After(grace):
		s.kill()
		return 0, fmt.Errorf("still running %s after SIGTERM: killed", grace)
	}
}

// kill ends the server if it still runs.
func (s *httpServer) kill() {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// logMsg is a text log line's level and message.
var logMsg = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// logWarnings returns the server log's warnings and errors, "×count
// level msg", the most frequent first.
func logWarnings(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m := logMsg.FindStringSubmatch(sc.Text()); m != nil {
			counts[m[1]+" "+m[2]]++
		}
	}
	var out []string
	for k := range counts {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return counts[out[i]] > counts[out[j]] })
	for i, k := range out {
		out[i] = fmt.Sprintf("×%d %s", counts[k], k)
	}
	return out, sc.Err()
}

// httpSession is one MCP session of an agent over streamable HTTP.
type httpSession struct {
	c      *client.Client
	hc     *http.Client
	closed bool
}

// startHTTPSession connects as agent name with its token, on an HTTP
// client of its own (as an agent's own process would), and initialises
// at protocol version: 2025-11-25 makes a session (Mcp-Session-Id,
// DELETE at close), 2026-07-28 is sessionless.
func startHTTPSession(ctx context.Context, url, token, name, version string, logger *slog.Logger) (*httpSession, error) {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := client.NewStreamableHttpClient(url,
		transport.WithHTTPBasicClient(hc),
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}),
		transport.WithHTTPLogger(logger.With("agent", name)))
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: version,
		ClientInfo:      mcp.Implementation{Name: "benchreport-" + name, Version: "1"},
	}}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("initialize %s over HTTP (%s): %w", name, version, err)
	}
	return &httpSession{c: c, hc: hc}, nil
}

func (s *httpSession) call(ctx context.Context, tool string, args map[string]any) callResult {
	return callTool(ctx, s.c, tool, args)
}

// close ends the session (DELETE of a 2025-11-25 session) and its
// connections; again, nothing.
func (s *httpSession) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.c.Close()
	s.hc.CloseIdleConnections()
	return err
}

// httpLoad is what the concurrent sessions saw.
type httpLoad struct {
	sessions  []sessionCalls
	versions  map[string]int // sessions by protocol version
	bare      []time.Duration
	elapsed   time.Duration // from the first session's start to the last one's end
	duration  time.Duration
	initFails []string
}

type sessionCalls struct {
	results []callResult
}

// runHTTPSessions runs one session per name at once, alternating the
// protocol versions, each for duration: a call at most every httpPace,
// the read tools in turn, a plan_change now and then (at most
// httpPlanners in flight over all sessions, and each session's at least
// httpPlanEvery apart), and discard_plan of each plan it made. Meanwhile
// bare times a bare show -json, one at a time.
func runHTTPSessions(ctx context.Context, url string, names []string, tokens map[string]string, planID string, duration time.Duration,
	logger *slog.Logger, bare func(context.Context) (time.Duration, error)) (*httpLoad, error) {
	versions := []string{mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_PROTOCOL_VERSION}
	load := &httpLoad{sessions: make([]sessionCalls, len(names)), versions: map[string]int{}, duration: duration}
	planners := make(chan struct{}, httpPlanners)
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, name := range names {
		version := versions[i%len(versions)]
		load.versions[version]++
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := startHTTPSession(ctx, url, tokens[name], name, version, logger)
			if err != nil {
				mu.Lock()
				load.initFails = append(load.initFails, err.Error())
				mu.Unlock()
				return
			}
			defer s.close()
			// The sessions' first plans are spread over httpPlanEvery.
			firstPlan := start.Add(time.Duration(i) * httpPlanEvery / time.Duration(len(names)))
			load.sessions[i].results = s.loop(ctx, i, planID, firstPlan, deadline, planners)
		}()
	}
	var bareErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Now().Before(deadline) {
			d, err := bare(ctx)
			if err != nil {
				bareErr = err
				return
			}
			load.bare = append(load.bare, d)
			if err := pause(ctx, httpBarePause); err != nil {
				return
			}
		}
	}()
	wg.Wait()
	load.elapsed = time.Since(start)
	return load, errors.Join(bareErr, ctx.Err())
}

// loop is one session's calls until deadline; its last plan is discarded
// after it.
func (s *httpSession) loop(ctx context.Context, i int, planID string, nextPlan, deadline time.Time, planners chan struct{}) []callResult {
	var results []callResult
	mine := "" // a plan this session made and has not yet discarded
	for n := i; time.Now().Before(deadline); n++ {
		next := time.Now().Add(httpPace)
		var r callResult
		switch {
		case mine != "":
			r = s.call(ctx, "discard_plan", map[string]any{"plan_id": mine})
			mine = ""
		case !time.Now().Before(nextPlan) && tryAcquire(planners):
			r = s.call(ctx, "plan_change", map[string]any{"stack": "bench"})
			<-planners
			nextPlan = time.Now().Add(httpPlanEvery)
			mine = r.planID
		default:
			tool := readTools[n%len(readTools)]
			r = s.call(ctx, tool, readArgs(tool, planID))
		}
		results = append(results, r)
		if err := pause(ctx, time.Until(next)); err != nil {
			break
		}
	}
	if mine != "" {
		results = append(results, s.call(ctx, "discard_plan", map[string]any{"plan_id": mine}))
	}
	return results
}

func tryAcquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// pause waits d (nothing when d <= 0) or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// print prints the load's lines, each tool's latency next to its idle
// baseline (alone), and returns how many calls failed.
func (l *httpLoad) print(alone map[string][]time.Duration, bareIdle []time.Duration) int {
	lat := map[string][]time.Duration{}
	tallies := map[string]tally{}
	var all tally
	var perSession []int
	toolErrs, transportErrs, total := 0, 0, 0
	for _, s := range l.sessions {
		perSession = append(perSession, len(s.results))
		for _, r := range s.results {
			total++
			t := tallies[r.tool]
			t.add(r)
			tallies[r.tool] = t
			all.add(r)
			switch {
			case r.kind == kindOK:
				lat[r.tool] = append(lat[r.tool], r.latency)
			case r.transport:
				transportErrs++
			default:
				toolErrs++
			}
		}
	}
	slices.Sort(perSession)
	var versions []string
	for v, n := range l.versions {
		versions = append(versions, fmt.Sprintf("%d at %s", n, v))
	}
	sort.Strings(versions)
	fmt.Printf("  %d sessions at once (%s) for %s: a call at most every %s per session, the read tools in turn, plan_change at most %d in flight (each session's %s apart), discard_plan of each plan made\n",
		len(l.sessions), strings.Join(versions, ", "), l.duration, httpPace, httpPlanners, httpPlanEvery)
	fmt.Printf("    calls %d in %s (%.1f/s); per session min %d / median %d / max %d\n",
		total, roundMs(l.elapsed), float64(total)/l.elapsed.Seconds(), perSession[0], perSession[len(perSession)/2], perSession[len(perSession)-1])
	failed := toolErrs + transportErrs + len(l.initFails)
	fmt.Printf("    errors %d (tool errors %d, of them busy %d; transport errors %d; sessions that failed to initialize %d)\n",
		failed, toolErrs, all.busy, transportErrs, len(l.initFails))
	fmt.Printf("    %-12s %-34s %s\n", "", "under load: p50 / p95 / max (n)", "p95 / idle p95")
	for _, tool := range httpTools {
		ratio := "-"
		if len(lat[tool]) > 0 && len(alone[tool]) > 0 {
			ratio = fmt.Sprintf("%.1f", pct(lat[tool], 95).Seconds()/pct(alone[tool], 95).Seconds())
		}
		fmt.Printf("    %-12s %-34s %s\n", tool, dist(lat[tool]), ratio)
	}
	ratio := "-"
	if len(l.bare) > 0 && len(bareIdle) > 0 {
		ratio = fmt.Sprintf("%.1f", pct(l.bare, 95).Seconds()/pct(bareIdle, 95).Seconds())
	}
	fmt.Printf("    %-12s %-34s %s   (one at a time beside the sessions, %s apart)\n", "bare show", dist(l.bare), ratio, httpBarePause)
	if len(lat["show_stack"]) > 0 && len(l.bare) > 0 {
		fmt.Printf("    show_stack p95 / bare show p95 under the same load = %.2f\n", pct(lat["show_stack"], 95).Seconds()/pct(l.bare, 95).Seconds())
	}
	for _, s := range l.initFails {
		fmt.Printf("    INITIALIZE FAILED: %s\n", s)
	}
	all.printOthers("    ")
	if all.busy > 0 {
		fmt.Printf("    BUSY ×%d: %s\n", all.busy, all.busyText)
	}
	return failed
}
