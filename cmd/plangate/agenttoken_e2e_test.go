package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/agenttoken"
)

// runBinary runs plangate and returns its stdout, stderr and exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

// The operator's side of agent tokens, with the real binary: add prints
// the token once, list and the state dir never hold it, every add and
// revoke is audited, and a revoke applies to a store already open (the
// server's) at its next check.
func TestAgentTokenCLI(t *testing.T) {
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	sd := stateDir(t, dir)

	out, errOut, code := runBinary(t, "agent-token", "add", "--name", "ci", "--stacks", "web", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	token := lines[len(lines)-1]
	assert.Len(t, lines, 1, "stdout is the token alone")
	assert.Regexp(t, regexp.MustCompile(`^pga1_[A-Za-z0-9_-]{43}$`), token)
	assert.Contains(t, errOut, "--token-file", "says where the token goes")
	assert.Contains(t, errOut, "Authorization: Bearer")
	assert.Contains(t, errOut, "shown this once")
	assert.NotContains(t, errOut, token)

	// The server's store, open before the revoke.
	server, err := agenttoken.Open(sd)
	require.NoError(t, err)
	agent, err := server.Authenticate(token)
	require.NoError(t, err)
	assert.Equal(t, &agenttoken.Agent{Name: "ci", Stacks: []string{"web"}}, agent)

	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			args []string
			code int
			want string
		}{
			"unknown stack":   {[]string{"add", "--name", "dev", "--stacks", "web,prod"}, 1, `unknown stack "prod" in --stacks: the configured stacks are [web]`},
			"duplicate name":  {[]string{"add", "--name", "ci"}, 1, `agent "ci" already has a live token`},
			"bad name":        {[]string{"add", "--name", "CI bot"}, 1, "agent name"},
			"no name":         {[]string{"add"}, 2, "--name is required"},
			"no subcommand":   {nil, 2, "name a subcommand"},
			"bad subcommand":  {[]string{"rotate"}, 2, `unknown subcommand "rotate"`},
			"revoke nobody":   {[]string{"revoke", "nobody"}, 1, `no live agent token named "nobody"`},
			"revoke two":      {[]string{"revoke", "a", "b"}, 2, "name the one agent"},
			"flags before it": {[]string{"--name", "ci", "add"}, 1, "already has a live token"},
		} {
			t.Run(name, func(t *testing.T) {
				out, errOut, code := runBinary(t, append(append([]string{"agent-token"}, tc.args...), "--config", cfg)...)
				assert.Equal(t, tc.code, code, errOut)
				assert.Contains(t, errOut, tc.want)
				assert.Empty(t, out, "nothing on stdout, no token")
			})
		}
	})

	out, errOut, code = runBinary(t, "agent-token", "add", "--name", "dev", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	devToken := strings.TrimSpace(out)

	out, errOut, code = runBinary(t, "agent-token", "--config", cfg, "list")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, regexp.MustCompile(`(?m)^ci +web +\S+ \(\S+ ago\) +live$`), out)
	assert.Regexp(t, regexp.MustCompile(`(?m)^dev +all +\S+ \(\S+ ago\) +live$`), out)

	out, errOut, code = runBinary(t, "agent-token", "revoke", "ci", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "agent token of ci revoked")
	_, err = server.Authenticate(token)
	require.ErrorIs(t, err, agenttoken.ErrUnauthorized, "revoked without restarting the store")
	assert.Contains(t, err.Error(), "revoked")
	_, err = server.Authenticate(devToken)
	assert.NoError(t, err, "the other agent's token still works")

	out, _, _ = runBinary(t, "agent-token", "list", "--config", cfg)
	assert.Regexp(t, regexp.MustCompile(`(?m)^ci +web +.* revoked \S+$`), out)

	// The tokens are nowhere in the state dir: not in the store, not in the
	// audit log.
	require.NoError(t, filepath.WalkDir(sd, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, tok := range []string{token, devToken} {
			assert.NotContains(t, string(b), strings.TrimPrefix(tok, "pga1_"), "%s holds a token", path)
		}
		return nil
	}))

	out, errOut, code = runBinary(t, "audit", "--json", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		if strings.HasPrefix(ev["event"].(string), "agent_token_") {
			events = append(events, ev)
		}
	}
	require.Len(t, events, 3)
	want := []struct{ event, reason string }{
		{"agent_token_added", "agent ci, stacks web"},
		{"agent_token_added", "agent dev, all stacks"},
		{"agent_token_revoked", "agent ci, stacks web"},
	}
	for i, w := range want {
		assert.Equal(t, w.event, events[i]["event"])
		assert.Equal(t, w.reason, events[i]["reason"])
		assert.NotEmpty(t, events[i]["actor"], "names the OS user")
	}
	_, errOut, code = runBinary(t, "audit", "verify", "--config", cfg)
	assert.Equal(t, 0, code, errOut)
}

func TestAgentTokenHelp(t *testing.T) {
	for _, args := range [][]string{{"agent-token", "--help"}, {"agent-token", "add", "--help"}, {"agent-token", "list", "--help"}, {"agent-token", "revoke", "--help"}} {
		out, errOut, code := runBinary(t, args...)
		assert.Equal(t, 0, code, "%v: %s", args, errOut)
		assert.Contains(t, out, "Usage: plangate "+strings.Join(args[:len(args)-1], " "), "%v", args)
	}
}
