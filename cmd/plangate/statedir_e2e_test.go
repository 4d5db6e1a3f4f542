package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

// `plangate init` in a repository writes a config whose records live in
// the user's state directory, outside the repository, and says where.
func TestInitKeepsTheStateOutOfTheRepository(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_STATE_HOME", xdg)
	repo := filepath.Join(t.TempDir(), "myrepo")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))

	cmd := exec.Command(binary, "init", repo)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	cfgPath := filepath.Join(repo, "plangate.hcl")
	want, err := config.DefaultStateDir(cfgPath)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(want, filepath.Join(xdg, "plangate", "myrepo-")), want)
	assert.Contains(t, stdout.String(), "go to "+want+"\n")
	assert.Empty(t, stderr.String())

	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	assert.Equal(t, want, cfg.StateDir)
	assert.Empty(t, cfg.StateDirWarning())

	out, err := exec.Command(binary, "plans", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.NotContains(t, string(out), "warning")
	assert.DirExists(t, want, "the records are in the user's state directory")
	assert.NoDirExists(t, filepath.Join(repo, ".plangate"), "and not in the repository")
}

// A state_dir set inside a git work tree is warned about wherever someone
// looks: every CLI command's stderr, serve's stderr, list_stacks (for the
// agent to relay) and the approve screen.
func TestStateDirInAWorkTreeIsWarnedAbout(t *testing.T) {
	dir := project(t)
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
	cfgPath := filepath.Join(dir, "plangate.hcl")
	key := filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	block := string(out[strings.Index(string(out), "approver \"oncall\" {"):])
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\nstate_dir = \".plangate\"\n\n" + block)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	warning := cfg.StateDirWarning()
	require.Contains(t, warning, "state_dir "+filepath.Join(dir, ".plangate")+" is inside the git work tree "+dir)
	def, err := config.DefaultStateDir(cfgPath)
	require.NoError(t, err)
	require.Contains(t, warning, "the default is "+def)

	for _, args := range [][]string{{"plans"}, {"audit"}, {"freeze", "--reason", "x"}, {"unfreeze"}} {
		cmd := exec.Command(binary, append(args, "--config", cfgPath)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if args[0] == "unfreeze" {
			// Without an approver's key the freeze stays; the warning comes first all the same.
			require.Error(t, err)
			assert.Contains(t, stderr.String(), "not unfrozen")
		} else {
			require.NoError(t, err, stderr.String())
		}
		assert.Contains(t, stderr.String(), "plangate: warning: "+warning+"\n", args[0])
		assert.NotContains(t, stdout.String(), warning, "%s: stdout is for the command's output", args[0])
	}

	r := serve(t, dir)
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "e2e", "version": "1"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	ls := r.callTool("list_stacks", map[string]any{})
	assert.Equal(t, []any{warning}, ls["structuredContent"].(map[string]any)["warnings"])
	assert.Contains(t, resultText(ls), "WARNING (tell a human): "+warning)
	pc := r.callTool("plan_change", map[string]any{"stack": "web"})
	id := pc["structuredContent"].(map[string]any)["plan_id"].(string)
	require.NoError(t, r.stdin.Close())
	for line := range r.lines {
		mustJSONRPC(t, line)
	}
	require.NoError(t, r.cmd.Wait())
	assert.Contains(t, r.stderr.String(), "plangate: warning: "+warning+"\n")

	approve := exec.Command(binary, "approve", "--config", cfgPath, "--key", key, "--yes", id)
	var stdout, stderr strings.Builder
	approve.Stdout, approve.Stderr = &stdout, &stderr
	require.NoError(t, approve.Run(), stderr.String())
	assert.Contains(t, stdout.String(), "\nWARNING: "+warning+"\n", "the approve screen says it")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "pgt1."), "the token is still alone on the last line")
}
