package plan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/atomicfile"
)

// ApplyOutput is what `terraform apply <saved plan>` produced.
type ApplyOutput struct {
	Diagnostics []Diagnostic
	Failed      bool
	// Interrupted: Terraform received SIGINT (from plangate's
	// cancellation, plangate freeze --stop, or anyone) and stopped
	// gracefully.
	Interrupted bool
}

// interruptReceived is Terraform's log line when SIGINT reaches it.
func interruptReceived(m UIMessage) bool {
	return m.Type == "log" && strings.Contains(m.Message, "Interrupt received")
}

// The journal of an apply, in the plan's directory: Terraform writes its
// -json stream and its stderr there itself (so they outlive plangate),
// and plangate writes the exit status when it sees the process end.
const (
	ApplyJournalFile = "apply.jsonl"
	ApplyStderrFile  = "apply.stderr"
	ApplyExitFile    = "apply.exit"
)

// ErrApplyStarted: the plan's directory holds a journal, so an apply of
// it was started before; a plan is applied at most once.
var ErrApplyStarted = errors.New("an apply of this plan was started before (its journal exists): a plan is applied at most once")

// StartedOption reports the Terraform process once it runs.
type StartedOption struct{ fn func(Process) }

// OnStart calls fn with the Terraform process as soon as it runs.
func OnStart(fn func(Process)) *StartedOption { return &StartedOption{fn} }

func (o *StartedOption) configureApply(c *applyConfig) { c.started = o.fn }

// ApplySaved runs `terraform apply` on a saved plan file, never on a fresh
// plan: Terraform itself refuses a saved plan made stale by another apply.
// The caller must hold the stack lock (Runner.Lock) and must have verified
// the approvals; this method checks nothing of the kind.
//
// Terraform runs detached from plangate: in its own session, without a
// parent-death signal, its output going straight to the journal files in
// the plan file's directory. If plangate dies, Terraform finishes and
// saves its state; ReadJournal tells the next plangate what happened.
// Cancelling ctx sends Terraform SIGINT, and ApplySaved still waits for it
// to stop gracefully (finish the resources in flight, write state,
// release the lock).
func (r *Runner) ApplySaved(ctx context.Context, st *config.Stack, planFile string, opts ...ApplyOption) (*ApplyOutput, error) {
	c := applyOptions(opts)
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureInit(ctx, st, false, c.creds); err != nil {
		return nil, err
	}
	env, err := r.env(st, c.creds)
	if err != nil {
		return nil, err
	}
	args := []string{"apply", "-no-color", "-input=false", "-json", "-lock=true"}
	statePath := r.localState(st)
	if statePath != "" {
		if err := r.checkLocalState(st); err != nil {
			return nil, err
		}
		args = append(args, "-state="+statePath)
	}
	dir := filepath.Dir(planFile)
	journal, err := os.OpenFile(filepath.Join(dir, ApplyJournalFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, ErrApplyStarted
	}
	if err != nil {
		return nil, fmt.Errorf("creating the apply journal: %w", err)
	}
	defer journal.Close()
	stderr, err := os.OpenFile(filepath.Join(dir, ApplyStderrFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the apply journal: %w", err)
	}
	defer stderr.Close()

	exe, err := r.sandboxed(st, env, dir, dirOf(statePath))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append(args, planFile)...)
	cmd.Dir = st.Dir
	cmd.Env = envList(env)
	cmd.Stdout, cmd.Stderr = journal, stderr
	// Its own session: no signal aimed at plangate's process group (a
	// terminal's ^C, a supervisor's kill of the group) reaches it, and
	// no parent-death signal is set.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	r.logger.Info(r.Product().Command()+" apply", "stack", st.Name, "plan", planFile)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s apply: %w", r.Product().Command(), err)
	}
	proc := Process{PID: cmd.Process.Pid}
	proc.Start, _ = processStart(proc.PID)
	if c.started != nil {
		c.started(proc)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		defer close(done)
		waitErr = cmd.Wait()
		code := 0
		if ee, ok := waitErr.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if waitErr != nil {
			code = -1
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, ApplyExitFile), []byte(strconv.Itoa(code)+"\n")); err != nil {
			r.logger.Warn("recording terraform's exit status", "plan", planFile, "err", err)
		}
	}()

	out := &ApplyOutput{}
	follow(ctx, filepath.Join(dir, ApplyJournalFile), done, func() {
		// Cancelled: SIGINT, once; Terraform stops gracefully.
		_ = cmd.Process.Signal(os.Interrupt)
	}, func(m UIMessage) {
		if m.Type == "diagnostic" && m.Diagnostic != nil {
			out.Diagnostics = append(out.Diagnostics, m.Diagnostic.toDiagnostic())
		}
		out.Interrupted = out.Interrupted || interruptReceived(m)
		if c.events != nil {
			c.events(m)
		}
	})
	if waitErr != nil {
		out.Failed = true
		hasErr := false
		for _, d := range out.Diagnostics {
			hasErr = hasErr || d.Severity == "error"
		}
		if !hasErr {
			b, _ := os.ReadFile(filepath.Join(dir, ApplyStderrFile))
			out.Diagnostics = append(out.Diagnostics, Diagnostic{Severity: "error", Summary: r.Product().Command() + " apply failed", Detail: cleanTerraformOutput(string(b), waitErr)})
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// follow reads the journal at path as Terraform writes it, calling fn for
// each message, until done is closed and every line is read. When ctx
// ends it calls interrupt once and goes on following.
func follow(ctx context.Context, path string, done <-chan struct{}, interrupt func(), fn func(UIMessage)) {
	f, err := os.Open(path)
	if err != nil {
		<-done
		return
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 64<<10)
	var partial []byte
	cancelled := ctx.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	finished := false
	for {
		chunk, err := rd.ReadBytes('\n')
		partial = append(partial, chunk...)
		if err == nil {
			var m UIMessage
			if len(partial) <= 16<<20 && json.Unmarshal(partial, &m) == nil {
				fn(m)
			}
			partial = partial[:0]
			continue
		}
		if finished {
			if len(bytes.TrimSpace(partial)) > 0 {
				var m UIMessage
				if json.Unmarshal(partial, &m) == nil {
					fn(m)
				}
			}
			return
		}
		select {
		case <-done:
			finished = true // read what is left, then stop
		case <-cancelled:
			interrupt()
			cancelled = nil
		case <-tick.C:
		}
	}
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Process names a running process: its PID, and its start time (clock
// ticks after boot, from /proc/<pid>/stat), so that a reused PID is not
// mistaken for it.
type Process struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start,omitempty"`
}

// ThisProcess is plangate's own process.
func ThisProcess() Process {
	p := Process{PID: os.Getpid()}
	p.Start, _ = processStart(p.PID)
	return p
}

// Running reports whether the process still runs (a zombie does not).
func (p Process) Running() bool {
	if p.PID <= 0 {
		return false
	}
	start, state, err := readStat(p.PID)
	if errors.Is(err, errNoProc) {
		// No /proc (not Linux): ask the kernel whether the PID exists.
		return syscall.Kill(p.PID, 0) == nil
	}
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return p.Start == 0 || start == p.Start
}

var errNoProc = errors.New("no /proc")

func processStart(pid int) (uint64, error) {
	start, _, err := readStat(pid)
	return start, err
}

// readStat reads a process's start time and state from /proc/<pid>/stat.
func readStat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr != nil {
			return 0, 0, errNoProc
		}
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0][0], err
}

// ClearJournal removes an apply's journal from dir: only for an apply
// that Terraform refused before changing anything.
func ClearJournal(dir string) error {
	for _, f := range []string{ApplyExitFile, ApplyStderrFile, ApplyJournalFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return atomicfile.SyncDir(dir)
}

// Journal is what an apply's journal says.
type Journal struct {
	// Started: the journal exists (Terraform was started).
	Started bool
	// Exited: plangate saw Terraform exit, with ExitCode.
	Exited   bool
	ExitCode int
	// Applied: Terraform reported the apply complete (its change summary).
	Applied bool
	// Interrupted: Terraform received SIGINT and stopped gracefully.
	Interrupted bool
	Summary     *ChangeSummary
	// Diagnostics are the messages Terraform reported.
	Diagnostics []Diagnostic
	// Done lists the resource instances whose apply completed.
	Done []string
}

// Failed reports whether Terraform reported an error.
func (j *Journal) Failed() bool {
	if j.Exited && j.ExitCode != 0 {
		return true
	}
	for _, d := range j.Diagnostics {
		if d.Severity == "error" {
			return true
		}
	}
	return false
}

// ReadJournal reads the journal of an apply in dir (a plan's directory).
func ReadJournal(dir string) (*Journal, error) {
	j := &Journal{}
	f, err := os.Open(filepath.Join(dir, ApplyJournalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	j.Started = true
	scanUI(f, func(m UIMessage) {
		switch m.Type {
		case "diagnostic":
			if m.Diagnostic != nil {
				j.Diagnostics = append(j.Diagnostics, m.Diagnostic.toDiagnostic())
			}
		case "change_summary":
			if m.Changes != nil && m.Changes.Operation != "plan" {
				j.Applied, j.Summary = true, m.Changes
			}
		case "log":
			j.Interrupted = j.Interrupted || interruptReceived(m)
		case "apply_complete":
			if addr, _ := m.Resource(); addr != "" {
				j.Done = append(j.Done, addr)
			}
		}
	})
	if b, err := os.ReadFile(filepath.Join(dir, ApplyExitFile)); err == nil {
		if code, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			j.Exited, j.ExitCode = true, code
		}
	}
	return j, nil
}

// scanUI decodes Terraform's machine-readable UI stream line by line,
// skipping lines that are not JSON, and drains the reader.
func scanUI(r io.Reader, fn func(UIMessage)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m UIMessage
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		fn(m)
	}
	_, _ = io.Copy(io.Discard, r)
}
