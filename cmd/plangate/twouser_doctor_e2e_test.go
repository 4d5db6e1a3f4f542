package main_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doctorAs runs plangate doctor --json with args as the layout's agent
// user and returns its checks by name, with its stderr and exit code.
func (l *twoUserLayout) doctorAs(cmd *exec.Cmd) (map[string]doctorCheck, []doctorCheck, string, int) {
	t := l.t
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, stderr.String())
	}
	var list []doctorCheck
	require.NoError(t, json.Unmarshal(out, &list), "stdout: %s\nstderr: %s", out, stderr.String())
	m := map[string]doctorCheck{}
	for _, c := range list {
		require.NotEmpty(t, c.Fact, c.Check)
		if !c.OK {
			require.NotEmpty(t, c.Fix, "a check that does not hold says what to do: %s", c.Check)
		}
		m[c.Check] = c
	}
	assert.NotContains(t, string(out)+stderr.String(), twoUserSecret, "doctor's facts hold no secret")
	return m, list, stderr.String(), code
}

// plangate doctor --server, run as the agent's user on the agent's
// machine against the recommended layout: the server runs the checks for
// the user it sees at the other end of its socket (and of loopback TCP),
// and every check holds: stack sandbox is the agent's own directory, and
// its Terraform state is under state_dir (local_state = "state_dir").
// --agent-user names another user: the server's own fails everywhere.
func TestTwoUsersDoctorOverTheWire(t *testing.T) {
	l := newTwoUserLayout(t)
	l.startServer()

	checks, list, stderr, code := l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "unix:"+l.sock, "--json"))
	assert.Equal(t, 0, code, stderr)
	for name, c := range checks {
		assert.True(t, c.OK, "%s: %s (%s)", name, c.Fact, c.Fix)
	}
	assert.Contains(t, checks["stack sandbox: Terraform state out of the agent's reach"].Fact, "local state under state_dir")
	assert.Equal(t, "plangate server reachable by the agent", list[0].Check, "the server's answer comes first")
	assert.Contains(t, list[0].Fact, "the server ran its checks for "+l.agent.name+", seen as the unix socket's peer")
	for _, name := range []string{
		"plangate.hcl not writable by the agent", "state_dir not readable by the agent", "state_dir not writable by the agent",
		"accepted-config record not writable by the agent", "stack web: Terraform state out of the agent's reach",
		"server's environment not readable by the agent", "config changes accepted", "approver keys on the server's machine",
		"approver keys on the agent's machine",
	} {
		require.Contains(t, checks, name)
	}
	assert.Contains(t, checks["plangate.hcl not writable by the agent"].Fact, "not writable by "+l.agent.name)
	assert.Contains(t, checks["state_dir not readable by the agent"].Fact, l.agent.name+" can read no file of state_dir "+l.stateDir)
	assert.Contains(t, checks["server's environment not readable by the agent"].Fact, "plangate server (pid ")
	assert.Contains(t, checks["server's environment not readable by the agent"].Fact, "runs as "+l.server.name)
	assert.Contains(t, checks["accepted-config record not writable by the agent"].Fact, "(the server's own record)")
	assert.Contains(t, checks["approver keys on the agent's machine"].Fact, filepath.Join(l.agent.home, ".config", "plangate"))

	// The table says the same.
	table, err := l.asAgent(l.bin, "doctor", "--server", "unix:"+l.sock).Output()
	require.NoError(t, err, string(table))
	assert.Contains(t, string(table), "✓ plangate server reachable by the agent")
	assert.Contains(t, string(table), "✓ stack sandbox: Terraform state out of the agent's reach")

	t.Run("an approver key the agent's user keeps", func(t *testing.T) {
		out, err := l.asAgent(l.bin, "keygen", "--name", "oncall").CombinedOutput()
		require.NoError(t, err, string(out))
		checks, _, _, code := l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "unix:"+l.sock, "--json"))
		assert.Equal(t, 1, code)
		c := checks["approver key oncall on the agent's machine: passphrase, out of the agent's reach"]
		assert.Equal(t, "fail", c.Status, c.Fact)
		assert.Contains(t, c.Fact, "not passphrase-protected")
		assert.Contains(t, c.Fact, l.agent.name+" owns")
		require.NoError(t, os.RemoveAll(filepath.Join(l.agent.home, ".config")))
	})

	t.Run("--agent-user names the server's user", func(t *testing.T) {
		checks, _, stderr, code := l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "unix:"+l.sock, "--agent-user", l.server.name, "--json"))
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "do not hold for agents running as "+l.server.name)
		for _, name := range []string{"state_dir not readable by the agent", "state_dir not writable by the agent", "server's environment not readable by the agent"} {
			assert.Equal(t, "fail", checks[name].Status, "%s: %s", name, checks[name].Fact)
		}
		assert.Contains(t, checks["state_dir not writable by the agent"].Fact, l.server.name+" owns")

		checks, _, _, code = l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "unix:"+l.sock, "--agent-user", "no-such-user-pg", "--json"))
		assert.Equal(t, 1, code)
		assert.Contains(t, checks["plangate server reachable by the agent"].Fact, "made no checks of its side: --agent-user no-such-user-pg")
	})

	// On loopback TCP the server finds the agent's user from the socket's
	// owner; the request needs the agent's token, as MCP's do.
	t.Run("loopback TCP", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		tok, err := l.asServer(nil, l.bin, "agent-token", "add", "--name", "agent", "--config", l.cfg).Output()
		require.NoError(t, err)
		tokenFile := filepath.Join(l.agent.home, "agent-token")
		require.NoError(t, os.WriteFile(tokenFile, tok, 0o600))
		require.NoError(t, os.Chown(tokenFile, l.agent.uid, l.agent.gid))
		l.startServerOn("tcp://" + addr)

		checks, _, _, code := l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "http://"+addr, "--json"))
		assert.Equal(t, 1, code)
		c := checks["plangate server reachable by the agent"]
		assert.Equal(t, "fail", c.Status)
		assert.Contains(t, c.Fact, "an agent token is required")
		assert.NotContains(t, checks, "state_dir not readable by the agent", "no token, no checks of the server's side")

		checks, _, stderr, code := l.doctorAs(l.asAgent(l.bin, "doctor", "--server", "http://"+addr, "--token-file", tokenFile, "--json"))
		assert.Equal(t, 0, code, stderr)
		assert.Contains(t, checks["plangate server reachable by the agent"].Fact, "the server ran its checks for "+l.agent.name+", seen as 127.0.0.1:")
		assert.Equal(t, "ok", checks["state_dir not writable by the agent"].Status)
		for _, c := range checks {
			assert.NotContains(t, c.Fact, strings.TrimSpace(string(tok)), "the token is in no fact")
		}
	})
}
