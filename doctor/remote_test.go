package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agentChecks are the checks decided by the agent's access to this
// machine (a project with one stack, web).
var agentChecks = []string{
	"plangate.hcl not writable by the agent",
	"state_dir not readable by the agent",
	"state_dir not writable by the agent",
	"accepted-config record not writable by the agent",
	"stack web: Terraform state out of the agent's reach",
	"server's environment not readable by the agent",
}

func smallProject(t *testing.T) string {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "web"), 0o755))
	cfg := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("state_dir = \""+filepath.Join(t.TempDir(), "state")+"\"\n\nstack \"web\" {\n  dir = \"web\"\n}\n"), 0o644))
	return cfg
}

// Without an account to examine (doctor --server, for a peer it cannot
// name or one on another host), every check of the agent's access takes
// the absence's verdict; the others are made as always.
func TestRunWithoutAnAccount(t *testing.T) {
	cfg := smallProject(t)
	for _, absent := range []*Absent{
		{Holds: true, Fact: "the agent connects from 10.0.0.7, another host"},
		{Fact: "who the agent is could not be told", Fix: "pass --agent-user"},
	} {
		checks, err := Run(context.Background(), Options{ConfigPath: cfg, Absent: absent, Proc: t.TempDir()})
		require.NoError(t, err)
		byName := map[string]Check{}
		for _, c := range checks {
			byName[c.Name] = c
		}
		for _, name := range agentChecks {
			c, found := byName[name]
			require.True(t, found, name)
			assert.Equal(t, absent.Holds, c.OK, name)
			assert.Equal(t, absent.Fact, c.Fact, name)
			assert.Equal(t, absent.Fix, c.Fix, name)
		}
		assert.Equal(t, StatusFail, byName["config changes accepted"].Status, "no config was accepted yet: decided without any account")
		assert.Equal(t, StatusOK, byName["state_dir outside any git work tree"].Status)
	}
	_, err := Run(context.Background(), Options{ConfigPath: cfg})
	assert.Error(t, err, "neither an account nor an absence")
}

// In the server, the server's process is doctor's own, whatever its
// binary is called and however its config was named.
func TestServersInTheServer(t *testing.T) {
	proc := t.TempDir()
	cfg := "/srv/plangate/plangate.hcl"
	d := filepath.Join(proc, strconv.Itoa(os.Getpid()))
	require.NoError(t, os.MkdirAll(d, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "cmdline"), []byte("/opt/pg\x00server\x00--config\x00../plangate.hcl\x00"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d, "status"), []byte("Uid:\t64998\t64998\t64998\t64998\n"), 0o644))
	agent := &Account{Name: "agent", UID: 1000, GIDs: []int{1000}}

	c := serverProcess(proc, cfg, newAccess(agent), false)
	assert.Equal(t, StatusUnknown, c.Status, "plangate doctor is not the server: %s", c.Fact)
	c = serverProcess(proc, cfg, newAccess(agent), true)
	assert.Equal(t, StatusOK, c.Status, c.Fact)
	assert.Contains(t, c.Fact, "plangate server (pid "+strconv.Itoa(os.Getpid())+") runs as uid 64998")
}

// On the agent's machine, every key file of the key dir (and
// $PLANGATE_KEY's) counts: one the agent's user can read, or without a
// passphrase, fails.
func TestKeyFiles(t *testing.T) {
	dir := openTempDir(t)
	writeFile(t, filepath.Join(dir, "alice.key"), 0o600)
	writeFile(t, filepath.Join(dir, "bob.key"), 0o600)
	extra := filepath.Join(openTempDir(t), "carol.key")
	writeFile(t, extra, 0o644)
	encrypted := func(path string) (bool, error) { return !strings.HasSuffix(path, "bob.key"), nil }

	me := &Account{Name: "me", UID: os.Getuid(), GIDs: []int{os.Getgid()}}
	stranger := &Account{Name: "stranger", UID: 4242, GIDs: []int{4242}}
	byName := func(checks []Check) map[string]Check {
		m := map[string]Check{}
		for _, c := range checks {
			m[c.Name] = c
		}
		return m
	}
	const alice, bob, carol = "approver key alice on the agent's machine: passphrase, out of the agent's reach",
		"approver key bob on the agent's machine: passphrase, out of the agent's reach",
		"approver key carol on the agent's machine: passphrase, out of the agent's reach"

	mine := byName(KeyFiles(me, dir, []string{extra}, encrypted))
	require.Len(t, mine, 3)
	assert.Equal(t, StatusFail, mine[alice].Status, "the agent's user owns it")
	if os.Getuid() != 0 {
		assert.Contains(t, mine[alice].Fact, "me owns")
	}
	assert.Contains(t, mine[bob].Fact, "not passphrase-protected")

	theirs := byName(KeyFiles(stranger, dir, []string{extra}, encrypted))
	assert.Equal(t, StatusOK, theirs[alice].Status, theirs[alice].Fact)
	assert.Equal(t, StatusFail, theirs[bob].Status, "no passphrase, whoever may read it")
	assert.Equal(t, StatusFail, theirs[carol].Status, "mode 0644: %s", theirs[carol].Fact)

	none := KeyFiles(stranger, t.TempDir(), nil, encrypted)
	require.Len(t, none, 1)
	assert.True(t, none[0].OK, none[0].Fact)
	assert.Equal(t, "approver keys on the agent's machine", none[0].Name)
}
