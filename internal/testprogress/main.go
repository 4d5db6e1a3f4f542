// Command testprogress turns `go test -json` into what a person running
// `make test` wants to watch: a line per package when it ends, and while a
// long package runs, a line at most every interval saying how far it got
// and which tests are running. A failing test's whole output is printed
// when it fails; a skipped test is named with its reason, so that a skip
// is never mistaken for a pass. The exit code is 1 when any test, package
// or build failed, or when the input held no result at all.
//
//	go test -json ./... | go run ./internal/testprogress
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of test2json output (go doc test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output, build-fail
}

type pkgState struct {
	name                 string
	passed, failed, skip int
	running              map[string]time.Time // top-level tests
	output               map[string][]string  // by top-level test; "" the package's own
	started              time.Time
	reported             time.Time
	done                 bool
}

type progress struct {
	out      io.Writer
	every    time.Duration
	module   string
	pkgs     map[string]*pkgState
	failed   []string // "pkg TestX" or "pkg (package)"
	skipped  []string
	results  int
	anyFail  bool
	building map[string][]string
}

func main() {
	every := flag.Duration("every", 30*time.Second, "longest silence while a package runs")
	module := flag.String("module", "github.com/plangate/plangate/", "prefix to drop from package names")
	flag.Parse()
	p := &progress{out: os.Stdout, every: *every, module: *module,
		pkgs: map[string]*pkgState{}, building: map[string][]string{}}
	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				os.Exit(p.finish())
			}
			p.line(line)
		case now := <-tick.C:
			p.heartbeat(now)
		}
	}
}

func (p *progress) short(pkg string) string { return strings.TrimPrefix(pkg, p.module) }

func (p *progress) line(line []byte) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
		// Not test2json: go test's own messages (e.g. a vet failure).
		fmt.Fprintln(p.out, string(line))
		return
	}
	switch e.Action {
	case "build-output":
		p.building[e.ImportPath] = append(p.building[e.ImportPath], e.Output)
		return
	case "build-fail":
		fmt.Fprintf(p.out, "BUILD FAIL %s\n%s", p.short(e.ImportPath), strings.Join(p.building[e.ImportPath], ""))
		p.anyFail = true
		p.failed = append(p.failed, p.short(e.ImportPath)+" (build)")
		return
	}
	if e.Package == "" {
		return
	}
	s := p.pkgs[e.Package]
	if s == nil {
		s = &pkgState{name: p.short(e.Package), running: map[string]time.Time{}, output: map[string][]string{},
			started: time.Now(), reported: time.Now()}
		p.pkgs[e.Package] = s
	}
	top, _, sub := strings.Cut(e.Test, "/")
	switch e.Action {
	case "run":
		if !sub && e.Test != "" {
			s.running[top] = time.Now()
		}
	case "output":
		s.output[top] = append(s.output[top], e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			p.endPackage(s, e)
			return
		}
		if sub {
			return // a subtest's output stays with its top-level test
		}
		delete(s.running, top)
		p.results++
		switch e.Action {
		case "pass":
			s.passed++
		case "skip":
			s.skip++
			reason := lastMeaningful(s.output[top])
			p.skipped = append(p.skipped, fmt.Sprintf("%s %s: %s", s.name, top, reason))
		case "fail":
			s.failed++
			p.anyFail = true
			p.failed = append(p.failed, s.name+" "+top)
			fmt.Fprintf(p.out, "--- FAIL %s %s (%.1fs)\n%s", s.name, top, e.Elapsed, strings.Join(s.output[top], ""))
		}
		delete(s.output, top)
	}
}

func (p *progress) endPackage(s *pkgState, e event) {
	s.done = true
	p.results++
	tests := fmt.Sprintf("%d passed", s.passed)
	if s.failed > 0 {
		tests += fmt.Sprintf(", %d failed", s.failed)
	}
	if s.skip > 0 {
		tests += fmt.Sprintf(", %d skipped", s.skip)
	}
	switch e.Action {
	case "fail":
		p.anyFail = true
		if s.failed == 0 {
			// A panic, a timeout or TestMain: the package's own output says.
			p.failed = append(p.failed, s.name+" (package)")
			for test, out := range s.output {
				if test != "" {
					fmt.Fprintf(p.out, "--- output of %s %s (still running)\n", s.name, test)
				}
				fmt.Fprint(p.out, strings.Join(out, ""))
			}
		}
		fmt.Fprintf(p.out, "FAIL %-28s %6.1fs  %s\n", s.name, e.Elapsed, tests)
	case "skip":
		fmt.Fprintf(p.out, "     %-28s         no tests\n", s.name)
	default:
		fmt.Fprintf(p.out, "ok   %-28s %6.1fs  %s\n", s.name, e.Elapsed, tests)
	}
	s.output = nil
}

// heartbeat speaks for each package still running that has been silent
// for p.every.
func (p *progress) heartbeat(now time.Time) {
	for _, s := range p.sorted() {
		if s.done || now.Sub(s.reported) < p.every || len(s.running) == 0 {
			continue
		}
		s.reported = now
		names := make([]string, 0, len(s.running))
		for name, since := range s.running {
			names = append(names, fmt.Sprintf("%s %s", name, now.Sub(since).Round(time.Second)))
		}
		sort.Strings(names)
		if len(names) > 4 {
			names = append(names[:4], fmt.Sprintf("and %d more", len(names)-4))
		}
		fmt.Fprintf(p.out, "...  %-28s %6.0fs  %d passed, %d failed so far; running %s\n",
			s.name, now.Sub(s.started).Seconds(), s.passed, s.failed, strings.Join(names, ", "))
	}
}

func (p *progress) sorted() []*pkgState {
	all := make([]*pkgState, 0, len(p.pkgs))
	for _, s := range p.pkgs {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	return all
}

func (p *progress) finish() int {
	for _, s := range p.sorted() {
		if !s.done && (len(s.running) > 0 || s.passed+s.failed > 0) {
			// go test was killed, or its output cut: say what never ended.
			p.anyFail = true
			p.failed = append(p.failed, s.name+" (no result)")
		}
	}
	if len(p.skipped) > 0 {
		fmt.Fprintf(p.out, "\nSkipped (%d):\n", len(p.skipped))
		for _, s := range p.skipped {
			fmt.Fprintln(p.out, "  "+s)
		}
	}
	if p.results == 0 {
		fmt.Fprintln(p.out, "testprogress: no test results in the input (did go test run with -json?)")
		return 1
	}
	if p.anyFail {
		fmt.Fprintf(p.out, "\nFAILED (%d):\n", len(p.failed))
		for _, f := range p.failed {
			fmt.Fprintln(p.out, "  "+f)
		}
		return 1
	}
	return 0
}

// lastMeaningful is the skip reason: the last output line that is not
// go test's own "--- SKIP" or "=== RUN" line.
func lastMeaningful(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		l := strings.TrimSpace(out[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}
