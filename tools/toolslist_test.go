package tools_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

// Budgets of what tools/list costs a client (issue 14): the part of each
// tool a model reads (name, description, input schema) and the whole
// answer, per tool, as the real binary sends them over stdio.
const (
	modelVisibleBudget = 700
	perToolBudget      = 1200
)

// The real `plangate serve` answers tools/list within the budgets. Each
// tool's share is measured on the wire bytes, escapes included.
func TestToolsListWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := tftest.RepoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "plangate")
	out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "plangate")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "web"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web", "main.tf"), []byte("variable \"n\" {\n  default = 1\n}\n"), 0o644))
	cfg := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("state_dir = \"state\"\nstack \"web\" {\n  dir = \"web\"\n  variables = [\"n\"]\n}\n"), 0o644))

	line := toolsList(t, bin, cfg, dir)
	var answer struct {
		Result struct {
			Tools []map[string]json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(line, &answer))
	tools := answer.Result.Tools
	require.GreaterOrEqual(t, len(tools), 7)
	for _, tool := range tools {
		var name string
		require.NoError(t, json.Unmarshal(tool["name"], &name))
		visible := len(`{"name":,"description":,"inputSchema":}`) + len(tool["name"]) + len(tool["description"]) + len(tool["inputSchema"])
		assert.LessOrEqual(t, visible, modelVisibleBudget, "%s: name, description and input schema take %d B", name, visible)
		t.Logf("%-13s model-visible %4d B, output schema %4d B", name, visible, len(tool["outputSchema"]))
	}
	total := len(line)
	assert.LessOrEqual(t, total, perToolBudget*len(tools), "tools/list is %d B for %d tools", total, len(tools))
	t.Logf("tools/list %d B for %d tools (%d B per tool; budget %d)", total, len(tools), total/len(tools), perToolBudget*len(tools))
}

// toolsList starts bin serve, initializes and returns the tools/list
// answer line.
func toolsList(t *testing.T, bin, cfg, dir string) []byte {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "xdg"))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for _, m := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"budget-test","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	} {
		_, err := fmt.Fprintln(stdin, m)
		require.NoError(t, err)
	}
	r := bufio.NewReaderSize(stdout, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		require.NoError(t, err, "reading the answers of plangate serve")
		var m struct {
			ID *int `json:"id"`
		}
		if json.Unmarshal(line, &m) == nil && m.ID != nil && *m.ID == 2 {
			return line[:len(line)-1]
		}
	}
}
