package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's chromium, which `make browser-deps` installs.
const chromiumPath = "/usr/bin/chromium"

// requireChromium fails when the browser is missing under `make test`
// (PLANGATE_E2E_BROWSER=required: the Makefile installed it or failed
// first); elsewhere it skips and says how to get it.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	msg := chromiumPath + " not found: the review-page tests drive Debian's chromium; run `make browser-deps` as root (apt-get install -y chromium)"
	if os.Getenv("PLANGATE_E2E_BROWSER") == "required" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// browser is clients/review_browser.mjs: one real Chromium, steered one
// JSON command at a time.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte
	stderr  *lockedBuffer
	version string

	mu sync.Mutex
	id int
}

// startBrowser starts the driver and waits for Chromium to be up.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	requireClients(t)
	requireChromium(t)
	cmd := exec.Command("node", filepath.Join(clientsDir, "review_browser.mjs"), "--chromium", chromiumPath)
	cmd.Dir = clientsDir
	cmd.Env = env()
	b := &browser{t: t, cmd: cmd, lines: make(chan []byte, 16), stderr: &lockedBuffer{}}
	cmd.Stderr = b.stderr
	var err error
	b.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		defer close(b.lines)
		r := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				b.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = b.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	var ready struct {
		Ready   bool   `json:"ready"`
		Version string `json:"version"`
	}
	select {
	case line, ok := <-b.lines:
		require.True(t, ok, "review_browser.mjs exited before Chromium started:\n%s", b.stderr)
		require.NoError(t, json.Unmarshal(line, &ready), "%s", line)
	case <-time.After(60 * time.Second):
		t.Fatalf("Chromium did not start within 60 s:\n%s", b.stderr)
	}
	require.True(t, ready.Ready)
	b.version = ready.Version
	t.Logf("Chromium %s", b.version)
	return b
}

// do sends one command and decodes its result into v (nil: ignore it). A
// failed command fails t.
func (b *browser) do(t *testing.T, v any, op string, args map[string]any) {
	t.Helper()
	if err := b.try(v, op, args); err != nil {
		t.Fatalf("browser %s %v: %v", op, args, err)
	}
}

// try sends one command and returns the driver's error, if any.
func (b *browser) try(v any, op string, args map[string]any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.id++
	cmd := map[string]any{"id": b.id, "op": op}
	for k, a := range args {
		cmd[k] = a
	}
	line, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if _, err := b.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing to review_browser.mjs: %v\n%s", err, b.stderr)
	}
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case line, ok := <-b.lines:
		if !ok {
			return fmt.Errorf("review_browser.mjs exited:\n%s", b.stderr)
		}
		var res struct {
			ID     int             `json:"id"`
			OK     bool            `json:"ok"`
			Error  string          `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(line, &res); err != nil {
			return fmt.Errorf("review_browser.mjs printed %q: %v", line, err)
		}
		if res.ID != b.id {
			return fmt.Errorf("answer to command %d, want %d: %s", res.ID, b.id, line)
		}
		if !res.OK {
			return fmt.Errorf("%s", res.Error)
		}
		if v != nil {
			return json.Unmarshal(res.Result, v)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("no answer within 60 s\n%s", b.stderr)
	}
}

// pageView is what review_browser.mjs's inspect returns.
type pageView struct {
	URL      string `json:"url"`
	Title    string `json:"title"`
	Viewport struct {
		Width, Height float64
	} `json:"viewport"`
	Plans             []planView `json:"plans"`
	Errors            []string   `json:"errors"`
	ExternalResources []string   `json:"externalResources"`
	Console           []string   `json:"console"`
}

type planView struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Summary    *string `json:"summary"`
	SummaryBox *box    `json:"summaryBox"`
	Deletions  []struct {
		Text string `json:"text"`
		Box  box    `json:"box"`
	} `json:"deletions"`
	Diff           *string `json:"diff"`
	MoreDiff       bool    `json:"moreDiff"`
	ApproveCommand *string `json:"approveCommand"`
	PasskeyButton  *struct {
		Disabled bool   `json:"disabled"`
		Text     string `json:"text"`
	} `json:"passkeyButton"`
	Approvers []string `json:"approvers"`
	Token     *string  `json:"token"`
	Errors    []string `json:"errors"`
	Text      string   `json:"text"`
}

type box struct {
	Top, Bottom, Left, Right, Width, Height float64
	Visible                                 bool
	Color                                   string
}

func (v *pageView) plan(id string) *planView {
	for i := range v.Plans {
		if v.Plans[i].ID == id {
			return &v.Plans[i]
		}
	}
	return nil
}

func (v *pageView) ids() []string {
	var ids []string
	for _, p := range v.Plans {
		ids = append(ids, p.ID+" ("+p.Status+")")
	}
	return ids
}

// netEvent is one response (or failed request) a page saw.
type netEvent struct {
	URL     string `json:"url"`
	Method  string `json:"method"`
	Status  int    `json:"status"`
	Failure string `json:"failure"`
}

// longRunning is a plangate command that prints a URL first and goes on
// (review, passkey register): its stdout, line by line, and its exit.
type longRunning struct {
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	all    strings.Builder
	stderr *logBuffer
	done   chan struct{}
	err    error
}

// logBuffer keeps all of a process's stderr (its log), for counting lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines are the log lines holding every one of parts.
func (l *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

func startLong(t *testing.T, args ...string) *longRunning {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env()
	l := &longRunning{cmd: cmd, lines: make(chan string, 64), stderr: &logBuffer{}, done: make(chan struct{})}
	cmd.Stderr = l.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.all.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
			select {
			case l.lines <- sc.Text():
			default:
			}
		}
		l.err = cmd.Wait()
		close(l.lines)
		close(l.done)
	}()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-l.done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-l.done
			}
		}
	})
	return l
}

// firstLine is the first line of stdout (the URL, by contract).
func (l *longRunning) firstLine(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-l.lines:
		require.True(t, ok, "plangate %s exited before printing anything: %v\nstderr:\n%s", strings.Join(l.cmd.Args[1:], " "), l.err, l.stderr)
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("plangate %s printed no line within 30 s\nstderr:\n%s", strings.Join(l.cmd.Args[1:], " "), l.stderr)
	}
	return ""
}

// wait waits for the process to exit and returns all of its stdout.
func (l *longRunning) wait(t *testing.T, timeout time.Duration) (string, error) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(timeout):
		t.Fatalf("plangate %s still running after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(l.cmd.Args[1:], " "), timeout, l.stdout(), l.stderr)
	}
	return l.stdout(), l.err
}

func (l *longRunning) stdout() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// sdkCalls runs tool calls through the TypeScript SDK over stdio
// (clients/sdk_calls.mjs), in one session, and returns their results.
func sdkCalls(t *testing.T, cfg string, calls ...map[string]any) []sdkCall {
	t.Helper()
	b, err := json.Marshal(calls)
	require.NoError(t, err)
	var r struct {
		OK      bool      `json:"ok"`
		Error   string    `json:"error"`
		Results []sdkCall `json:"results"`
	}
	node(t, 3*time.Minute, &r, "sdk_calls.mjs", "--binary", binary, "--config", cfg, "--calls", string(b))
	require.True(t, r.OK, r.Error)
	require.Len(t, r.Results, len(calls))
	return r.Results
}

func tool(name string, args map[string]any) map[string]any {
	return map[string]any{"name": name, "arguments": args}
}
