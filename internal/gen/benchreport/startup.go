package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/plangate/plangate/internal/gen"
)

// startupRequests are what an MCP client sends first: initialize, the
// initialized notification, tools/list.
var startupRequests = []string{
	`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"benchreport","version":"1"}}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
}

// startupRun is one timed start of a server.
type startupRun struct {
	took      time.Duration // process start → the tools/list answer read
	toolsList int           // bytes of the tools/list answer line
	tools     int
}

// timeStartup starts cmd, sends initialize, the initialized notification
// and tools/list over its stdin as soon as it runs, and returns when the
// tools/list answer is read; then closes stdin and waits for the exit.
func timeStartup(ctx context.Context, name string, args, env []string, dir string) (startupRun, error) {
	var r startupRun
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir, cmd.Stderr = env, dir, io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	out := bufio.NewReaderSize(stdout, 1<<20)
	send := func(msg string) error { _, err := io.WriteString(stdin, msg+"\n"); return err }
	read := func(id int) ([]byte, error) {
		for {
			line, err := out.ReadBytes('\n')
			if err != nil {
				return nil, fmt.Errorf("%s: reading its answer %d: %w", name, id, err)
			}
			var m struct {
				ID    *int            `json:"id"`
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(line, &m) == nil && m.ID != nil && *m.ID == id {
				if len(m.Error) > 0 {
					return nil, fmt.Errorf("%s: answer %d is an error: %s", name, id, m.Error)
				}
				return line, nil
			}
		}
	}
	if err := send(startupRequests[0]); err != nil {
		return r, err
	}
	if _, err := read(1); err != nil {
		return r, err
	}
	if err := send(startupRequests[1]); err != nil {
		return r, err
	}
	if err := send(startupRequests[2]); err != nil {
		return r, err
	}
	line, err := read(2)
	if err != nil {
		return r, err
	}
	r.took = time.Since(start)
	r.toolsList = len(line) - 1
	var list struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(line, &list); err != nil {
		return r, err
	}
	r.tools = len(list.Result.Tools)
	return r, nil
}

// reportStartup times start-up to the tools/list answer of `plangate
// serve` (a project with one generated stack) and of the bare mcp-go
// server (internal/gen/bareserver), alternating, reps runs each after one
// warm-up each, and prints the medians and their ratio (target ≤ 1.5).
func reportStartup(ctx context.Context, dir, plangateBin string, reps int) error {
	plangateBin, err := filepath.Abs(plangateBin)
	if err != nil {
		return err
	}
	bare := filepath.Join(dir, "bareserver")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bare, "./internal/gen/bareserver").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./internal/gen/bareserver (run benchreport from the repository): %w\n%s", err, out)
	}
	project := filepath.Join(dir, "startup-project")
	spec := gen.Spec{Modules: 2, PerModule: 10}
	if err := os.RemoveAll(project); err != nil {
		return err
	}
	if err := spec.Write(filepath.Join(project, "stack"), gen.Mix); err != nil {
		return err
	}
	cfg := filepath.Join(project, "plangate.hcl")
	src := "state_dir = \"state\"\nstack \"bench\" {\n  dir = \"stack\"\n  variables = [\"api_token\"]\n}\n"
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		return err
	}
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(project, "xdg"))
	servers := []struct {
		name string
		bin  string
		args []string
	}{
		{"plangate serve", plangateBin, []string{"serve", "--config", cfg}},
		{"bare mcp-go (7 tools)", bare, nil},
	}
	runs := make([][]startupRun, len(servers))
	for i := -1; i < reps; i++ {
		for k := range servers {
			// Alternate the order, so drift in the machine's load spreads evenly.
			idx := (k + max(i, 0)) % len(servers)
			s := servers[idx]
			r, err := timeStartup(ctx, s.bin, s.args, env, project)
			if err != nil {
				return err
			}
			if i >= 0 {
				runs[idx] = append(runs[idx], r)
			}
		}
	}
	fmt.Printf("Start-up over stdio: process start → initialize → tools/list answer, %d runs each, alternating; medians\n", reps)
	var meds []time.Duration
	for k, s := range servers {
		var ds []time.Duration
		for _, r := range runs[k] {
			ds = append(ds, r.took)
		}
		m := median(ds)
		meds = append(meds, m)
		last := runs[k][len(runs[k])-1]
		fmt.Printf("  %-22s %8s  (runs: %s)  tools/list %d B for %d tools (%d B per tool)\n", s.name, roundMs(m), list(ds), last.toolsList, last.tools, last.toolsList/max(last.tools, 1))
	}
	fmt.Printf("  ratio plangate / bare  %8.2f   (target <= 1.5)\n", meds[0].Seconds()/meds[1].Seconds())
	return nil
}
