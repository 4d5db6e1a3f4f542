package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/internal/tftest"
)

// The secret the server holds in its environment, as cloud credentials
// would be: no process or file the agent's user can read may show it.
const twoUserSecret = "fake-secret-for-test"

const twoUserPassphrase = "correct horse battery staple"

// osUser is an OS user the test created, with its own primary group.
type osUser struct {
	name, home string
	uid, gid   int
}

// twoUserLayout is the recommended deployment of docs/server-setup.md in
// miniature, under base: a server user and an agent user, a socket group
// both are in (the server must be a member to give its socket that group),
// plangate.hcl owned by root, mode 0640, group of the server user;
// state_dir 0700 and the approver keys owned by the server user; the
// socket in a directory of the socket group, mode 0750.
type twoUserLayout struct {
	t                   *testing.T
	base, bin, tf       string
	cfg, stateDir, keys string
	sock, passFile      string
	server, agent       osUser
	socketGroup         string
}

func newTwoUserLayout(t *testing.T) *twoUserLayout {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the two-user test creates OS users with useradd and runs plangate as them: run it as root (CI does)")
	}
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the two-user test needs %s (shadow-utils / util-linux): %v", tool, err)
		}
	}
	tf := tftest.Setup(t)

	suffix := make([]byte, 3)
	_, err := rand.Read(suffix)
	require.NoError(t, err)
	id := hex.EncodeToString(suffix)
	l := &twoUserLayout{t: t, socketGroup: "pgsock" + id}

	// Not under t.TempDir(): its parents are 0700, and both users must
	// traverse this tree. Socket paths are short, too.
	l.base, err = os.MkdirTemp("", "pg2u")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(l.base) })
	require.NoError(t, os.Chmod(l.base, 0o755))

	run(t, "groupadd", l.socketGroup)
	t.Cleanup(func() { runQuiet("groupdel", l.socketGroup) })
	l.server = addUser(t, "pgsrv"+id, l.socketGroup)
	l.agent = addUser(t, "pgagt"+id, l.socketGroup)

	// The binary TestMain built lives in a 0700 temp dir: copy it where
	// both users can run it.
	binDir := filepath.Join(l.base, "bin")
	require.NoError(t, os.Mkdir(binDir, 0o755))
	l.bin = filepath.Join(binDir, "plangate")
	copyFile(t, binary, l.bin, 0o755)
	l.tf = tf
	if l.asServer(nil, "test", "-x", tf).Run() != nil {
		l.tf = filepath.Join(binDir, "terraform")
		copyFile(t, tf, l.tf, 0o755)
	}

	// The project: root's, readable by all but plangate.hcl, which only
	// root writes and only the server's group reads. Stack "web" is the
	// server user's (Terraform writes its lock file and local state
	// there); stack "sandbox" is the agent's, as a repository it edits is.
	proj := filepath.Join(l.base, "proj")
	out, err := exec.Command(binary, "init", proj).CombinedOutput()
	require.NoError(t, err, string(out))
	l.stateDir = filepath.Join(l.base, "state")
	l.keys = filepath.Join(l.base, "keys")
	for _, d := range []string{l.stateDir, l.keys} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, l.server.uid, l.server.gid))
	}
	sandbox := filepath.Join(proj, "stacks", "sandbox")
	tftest.CopyDir(t, filepath.Join(proj, "stacks", "web"), sandbox)
	chownTo(t, filepath.Join(proj, "stacks", "web"), l.server)
	chownTo(t, sandbox, l.agent)

	// The approver's key is the server user's to read (approve runs as that
	// user), so it has a passphrase; scripts here read it from a file.
	key := filepath.Join(l.keys, "oncall.key")
	l.passFile = filepath.Join(l.keys, "oncall.pass")
	require.NoError(t, os.WriteFile(l.passFile, []byte(twoUserPassphrase+"\n"), 0o600))
	require.NoError(t, os.Chown(l.passFile, l.server.uid, l.server.gid))
	keygen := l.asServer(nil, l.bin, "keygen", "--name", "oncall", "--out", key, "--passphrase-file", l.passFile)
	kout, err := keygen.CombinedOutput()
	require.NoError(t, err, string(kout))
	approver := string(kout[strings.Index(string(kout), "approver \"oncall\" {"):])

	l.cfg = filepath.Join(proj, "plangate.hcl")
	demo, err := os.ReadFile(l.cfg)
	require.NoError(t, err)
	cfg := "state_dir = \"" + l.stateDir + "\"\n\n" + string(demo) +
		"\nstack \"sandbox\" {\n  dir         = \"stacks/sandbox\"\n  variables   = [\"replicas\"]\n  local_state = \"state_dir\"\n}\n\n" + approver
	require.NoError(t, os.WriteFile(l.cfg, []byte(cfg), 0o640))
	require.NoError(t, os.Chown(l.cfg, 0, l.server.gid))
	require.NoError(t, os.Chmod(l.cfg, 0o640))

	// Like /run/plangate: the socket group may traverse, nobody else.
	runDir := filepath.Join(l.base, "run")
	require.NoError(t, os.Mkdir(runDir, 0o750))
	g, err := user.LookupGroup(l.socketGroup)
	require.NoError(t, err)
	gid, _ := strconv.Atoi(g.Gid)
	require.NoError(t, os.Chown(runDir, l.server.uid, gid))
	l.sock = filepath.Join(runDir, "plangate.sock")
	return l
}

func addUser(t *testing.T, name, group string) osUser {
	t.Helper()
	run(t, "useradd", "--create-home", "--user-group", "--shell", "/bin/sh", "--groups", group, name)
	t.Cleanup(func() { runQuiet("userdel", "--remove", name) })
	u, err := user.Lookup(name)
	require.NoError(t, err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return osUser{name: name, home: u.HomeDir, uid: uid, gid: gid}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
}

func runQuiet(name string, args ...string) { _ = exec.Command(name, args...).Run() }

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	require.NoError(t, os.Chmod(dst, mode))
}

func chownTo(t *testing.T, dir string, u osUser) {
	t.Helper()
	chownTree(t, dir, u.uid, u.gid)
}

// as runs name as u (its uid, its groups: setpriv --init-groups) with
// exactly env, or u's plain environment (PATH, HOME, USER) when env is nil,
// under umask 077 as the systemd unit sets it.
func (l *twoUserLayout) as(u osUser, env []string, name string, args ...string) *exec.Cmd {
	if env == nil {
		env = l.plainEnv(u)
	}
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + u.name, "--regid=" + u.name, "--init-groups", "--",
		"/bin/sh", "-c", `umask 077 && exec "$0" "$@"`, name}, args...)...)
	cmd.Env = env
	cmd.Dir = "/"
	return cmd
}

func (l *twoUserLayout) plainEnv(u osUser) []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "LANG=C.UTF-8"}
}

func (l *twoUserLayout) asServer(env []string, name string, args ...string) *exec.Cmd {
	if env == nil && l.tf != "" {
		// The server user's commands (approve reads the plan file with
		// terraform show) run the server's Terraform: a plan file is
		// read by the Terraform version that wrote it.
		env = append(l.plainEnv(l.server), "PLANGATE_TERRAFORM="+l.tf)
	}
	return l.as(l.server, env, name, args...)
}

func (l *twoUserLayout) asAgent(name string, args ...string) *exec.Cmd {
	return l.as(l.agent, nil, name, args...)
}

// startServer runs `plangate server` as the server user, the secret in its
// environment, with no new privileges and umask 077 as docs/plangate.service
// runs it, and waits until it listens; it returns the server's pid.
func (l *twoUserLayout) startServer() (int, *lockedBuffer) {
	return l.startServerOn("unix:"+l.sock, "--socket-group", l.socketGroup)
}

// startServerOn is startServer listening on listen, with args.
func (l *twoUserLayout) startServerOn(listen string, args ...string) (int, *lockedBuffer) {
	t := l.t
	// As the unit: Terraform sandboxed or not at all, the key dir hidden.
	env := append(l.plainEnv(l.server), "PLANGATE_TERRAFORM="+l.tf, "CHECKPOINT_DISABLE=1", "AWS_SECRET_ACCESS_KEY="+twoUserSecret,
		"PLANGATE_SANDBOX=required", "PLANGATE_SANDBOX_HIDE="+l.keys)
	cmd := l.asServer(env, l.bin, append([]string{"server", "--config", l.cfg, "--listen", listen}, args...)...)
	// As the unit's NoNewPrivileges=yes: Terraform and its providers run.
	cmd.Args = append([]string{cmd.Args[0], "--no-new-privs"}, cmd.Args[1:]...)
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "plangate serving over HTTP") }, time.Minute, 50*time.Millisecond,
		"the server did not start: %s", stderr)
	// setpriv and sh exec: the pid is plangate's.
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm")
	require.NoError(t, err)
	require.Equal(t, "plangate", strings.TrimSpace(string(comm)))
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	require.NoError(t, err)
	require.Contains(t, string(status), "NoNewPrivs:\t1")
	return cmd.Process.Pid, stderr
}

// relay runs `plangate serve --connect` as the agent's user, as its MCP
// client would.
func (l *twoUserLayout) relay() *rpc {
	return startRPC(l.t, l.asAgent(l.bin, "serve", "--connect", "unix:"+l.sock))
}

// agentFails runs a command as the agent's user and asserts that the OS
// refuses it (permission denied); it returns the combined output.
func (l *twoUserLayout) agentFails(what string, name string, args ...string) string {
	l.t.Helper()
	out, err := l.asAgent(name, args...).CombinedOutput()
	assert.Error(l.t, err, "as the agent's user, %s must fail; it printed:\n%s", what, out)
	// Refused by the OS, not failing for some other reason.
	denied := strings.Contains(string(out), "ermission denied") || strings.Contains(string(out), "Operation not permitted")
	assert.True(l.t, denied, "%s: refused for lack of permission; it printed:\n%s", what, out)
	assert.NotContains(l.t, string(out), twoUserSecret, what)
	return string(out)
}

// The boundary of the threat model's third kind of agent (a shell as its
// own OS user): plangate server under its own user, the agent through the
// socket. Everything the agent needs works; everything that would let it
// get around plangate is refused by the OS.
func TestTwoUsers(t *testing.T) {
	l := newTwoUserLayout(t)
	pid, serverLog := l.startServer()

	info, err := os.Stat(l.sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), info.Mode().Perm())

	// Through the relay, as the agent: initialize, list, plan.
	r := l.relay()
	init := r.relayInitialize()
	require.Nil(t, init["error"], "initialize: %v\n%s", init["error"], r.stderr)
	stacks := r.callTool("list_stacks", map[string]any{})
	assert.Contains(t, resultText(stacks), "web")
	pc := r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 3}})
	require.NotEqual(t, true, pc["isError"], "plan_change: %s\nserver log:\n%s", resultText(pc), serverLog)
	planID := pc["structuredContent"].(map[string]any)["plan_id"].(string)
	assert.Contains(t, resultText(pc), "plangate approve")

	// The approver approves on the server's machine as the server's user
	// (sudo -u plangate plangate approve ...), the agent applies.
	approveOut, err := l.asServer(nil, l.bin, "approve", "--config", l.cfg, "--key", filepath.Join(l.keys, "oncall.key"), "--passphrase-file", l.passFile, "--yes", planID).Output()
	require.NoError(t, err, string(approveOut))
	lines := strings.Split(strings.TrimSpace(string(approveOut)), "\n")
	token := lines[len(lines)-1]
	applied := r.callTool("apply_plan", map[string]any{"plan_id": planID, "approval_tokens": []string{token}})
	require.NotEqual(t, true, applied["isError"], "apply_plan: %s\nserver log:\n%s", resultText(applied), serverLog)
	assert.Equal(t, "applied", applied["structuredContent"].(map[string]any)["status"])

	// A freeze, set by someone on the server's side.
	out, err := l.asServer(nil, l.bin, "freeze", "web", "--config", l.cfg, "--reason", "two-user test").CombinedOutput()
	require.NoError(t, err, string(out))

	t.Run("the server's environment", func(t *testing.T) {
		environ := "/proc/" + strconv.Itoa(pid) + "/environ"
		mine, err := os.ReadFile(environ)
		require.NoError(t, err)
		require.Contains(t, string(mine), twoUserSecret, "precondition: the server holds the secret")
		l.agentFails("reading "+environ, "cat", environ)
		l.agentFails("listing the server's open files", "ls", "/proc/"+strconv.Itoa(pid)+"/fd")
		l.agentFails("signalling the server", "kill", "-TERM", strconv.Itoa(pid))
		cmdline, err := l.asAgent("cat", "/proc/"+strconv.Itoa(pid)+"/cmdline").Output()
		require.NoError(t, err, "the command line is public")
		assert.NotContains(t, string(cmdline), twoUserSecret)
	})

	t.Run("state_dir, plan files, Terraform state, keys", func(t *testing.T) {
		l.agentFails("listing state_dir", "ls", l.stateDir)
		l.agentFails("writing into state_dir", "touch", filepath.Join(l.stateDir, "agent-was-here"))
		var files []string
		require.NoError(t, filepath.WalkDir(l.stateDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return err
		}))
		assert.Contains(t, files, filepath.Join(l.stateDir, "plans", planID, "tfplan"))
		for _, f := range files {
			l.agentFails("reading "+f, "cat", f)
		}
		state := filepath.Join(filepath.Dir(l.cfg), "stacks", "web", "terraform.tfstate")
		info, err := os.Stat(state)
		require.NoError(t, err, "precondition: the apply wrote the local state in the stack dir")
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "Terraform state under the unit's UMask=0077")
		l.agentFails("reading the Terraform state", "cat", state)
		l.agentFails("replacing the Terraform state", "sh", "-c", "echo {} > "+state)
		l.agentFails("reading the approver keys", "ls", l.keys)
	})

	t.Run("plangate.hcl", func(t *testing.T) {
		before, err := os.ReadFile(l.cfg)
		require.NoError(t, err)
		l.agentFails("appending to plangate.hcl", "sh", "-c", "echo '# the agent was here' >> "+l.cfg)
		l.agentFails("replacing plangate.hcl", "sh", "-c", "echo '# the agent was here' > "+l.cfg+".new && mv "+l.cfg+".new "+l.cfg)
		l.agentFails("removing plangate.hcl", "rm", "-f", l.cfg)
		after, err := os.ReadFile(l.cfg)
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after))
	})

	t.Run("unfreeze without an approver key", func(t *testing.T) {
		out := l.agentFails("plangate unfreeze without a key", l.bin, "unfreeze", "web", "--config", l.cfg)
		t.Logf("plangate unfreeze as the agent: %s", strings.TrimSpace(out))
		// With a key of its own, which no approver block names.
		own := filepath.Join(l.agent.home, "agent.key")
		kout, err := l.asAgent(l.bin, "keygen", "--name", "oncall", "--out", own).CombinedOutput()
		require.NoError(t, err, string(kout))
		out = l.agentFails("plangate unfreeze with its own key", l.bin, "unfreeze", "web", "--config", l.cfg, "--key", own)
		t.Logf("plangate unfreeze --key <its own> as the agent: %s", strings.TrimSpace(out))
		// With a config of its own that names the real state_dir and its
		// own key as the approver.
		pub := string(kout[strings.Index(string(kout), "approver \"oncall\" {"):])
		mine := filepath.Join(l.agent.home, "plangate.hcl")
		require.NoError(t, os.WriteFile(mine, []byte("state_dir = \""+l.stateDir+"\"\n\nstack \"web\" {\n  dir = \""+filepath.Join(filepath.Dir(l.cfg), "stacks", "web")+"\"\n}\n\n"+pub), 0o644))
		out = l.agentFails("plangate unfreeze with a config of its own", l.bin, "unfreeze", "web", "--config", mine, "--key", own)
		t.Logf("plangate unfreeze --config <its own> --key <its own> as the agent: %s", strings.TrimSpace(out))

		f, err := freeze.Check(l.stateDir, "web")
		require.NoError(t, err)
		require.NotNil(t, f, "web is still frozen")
		assert.Equal(t, "two-user test", f.Reason)

		// And the server still refuses applies.
		again := r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 4}})
		require.NotEqual(t, true, again["isError"], resultText(again))
		id := again["structuredContent"].(map[string]any)["plan_id"].(string)
		tok, err := l.asServer(nil, l.bin, "approve", "--config", l.cfg, "--key", filepath.Join(l.keys, "oncall.key"), "--passphrase-file", l.passFile, "--yes", id).Output()
		require.NoError(t, err, string(tok))
		tl := strings.Split(strings.TrimSpace(string(tok)), "\n")
		refused := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{tl[len(tl)-1]}})
		assert.Equal(t, true, refused["isError"], resultText(refused))
		assert.Contains(t, resultText(refused), "frozen")
	})

	t.Run("an approver on a terminal, as the server's user", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("needs script(1) (util-linux) for a terminal")
		}
		pc := r.callTool("plan_change", map[string]any{"stack": "web", "variables": map[string]any{"replicas": 5}})
		require.NotEqual(t, true, pc["isError"], resultText(pc))
		id := pc["structuredContent"].(map[string]any)["plan_id"].(string)
		// What sudo -u plangate plangate approve does: the passphrase is read
		// from the terminal, the stack name typed on it.
		approve := l.asServer(nil, l.bin, "approve", "--config", l.cfg, "--key", filepath.Join(l.keys, "oncall.key"), id)
		quoted := make([]string, len(approve.Args))
		for i, a := range approve.Args {
			quoted[i] = "'" + a + "'"
		}
		cmd := exec.Command("script", "--quiet", "--return", "--command", strings.Join(quoted, " "), "/dev/null")
		cmd.Env = approve.Env
		// Typed ahead, so the terminal echoes the passphrase before plangate
		// turns echo off: no assertion on what the terminal shows.
		cmd.Stdin = strings.NewReader(twoUserPassphrase + "\nweb\n")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "Approved plan "+id+" as oncall")
	})

	t.Run("the secret appears nowhere the agent reads", func(t *testing.T) {
		for _, line := range r.all {
			assert.NotContains(t, line, twoUserSecret, "a tool result")
		}
		assert.NotContains(t, r.stderr.String(), twoUserSecret, "the relay's log")
		// Every file the agent's user can read under the layout, and its home.
		out, err := l.asAgent("grep", "-rIl", "--no-messages", twoUserSecret, l.base, l.agent.home).CombinedOutput()
		assert.Error(t, err, "grep finds nothing")
		assert.Empty(t, strings.TrimSpace(string(out)), "files the agent's user can read that hold the secret")
	})
}

// Terraform code in a stack the agent's user can edit (a coding agent
// edits its repository's code: the threat model's second kind) runs as the
// server's user at plan time, and Terraform's file functions read whatever
// that user can read. So a plan_change result can carry the server's
// environment (its own and its parent's, the same user's), state_dir and
// the approver keys. The environments' secrets are masked by value (plan's
// envsecrets.go), and Terraform runs in a sandbox (internal/sandbox) where
// state_dir, but for the plan's own files, and the key directory are
// hidden: this test holds plangate to both.
func TestTwoUsersTerraformCodeReadsAsTheServer(t *testing.T) {
	l := newTwoUserLayout(t)
	pid, serverLog := l.startServer()
	sandbox := filepath.Join(filepath.Dir(l.cfg), "stacks", "sandbox")
	// The agent's own directory, which the server's user cannot write:
	// Terraform's state is under state_dir (local_state = "state_dir").
	write := func(probes ...string) {
		t.Helper()
		// Each probe an output of its own, as an agent would write it.
		var tf strings.Builder
		for i, expr := range probes {
			fmt.Fprintf(&tf, "output \"probe%d\" {\n  value = %s\n}\n", i, expr)
		}
		probe := filepath.Join(sandbox, "probe.tf")
		out, err := l.asAgent("sh", "-c", "cat > "+probe+" <<'EOF'\n"+tf.String()+"EOF\nchmod 644 "+probe).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	key, err := os.ReadFile(filepath.Join(l.keys, "oncall.key"))
	require.NoError(t, err)
	var k struct {
		SealedKey string `json:"sealed_key"`
	}
	require.NoError(t, json.Unmarshal(key, &k))
	require.NotEmpty(t, k.SealedKey)
	r := l.relay()
	require.Nil(t, r.relayInitialize()["error"])
	plan := func() string {
		t.Helper()
		pc := r.callTool("plan_change", map[string]any{"stack": "sandbox"})
		text := resultText(pc)
		require.NotEqual(t, true, pc["isError"], "%s\nserver log:\n%s", text, serverLog)
		t.Logf("plan_change result:\n%s", text)
		assert.NotContains(t, text, twoUserSecret, "plan_change shows terraform's environment or the server's")
		assert.NotContains(t, text, k.SealedKey, "plan_change shows an approver key (sealed, for an offline guess of its passphrase)")
		return text
	}

	// What the sandbox hides is not there at all: the approver key the
	// server's user keeps (PLANGATE_SANDBOX_HIDE) and the server's process.
	keyPath := filepath.Join(l.keys, "oncall.key")
	write(`file("`+keyPath+`")`, `file("/proc/`+strconv.Itoa(pid)+`/environ")`)
	text := plan()
	assert.Contains(t, text, `no file exists at "`+keyPath+`"`, "Terraform read the approver key")
	assert.Contains(t, text, `no file exists at "/proc/`+strconv.Itoa(pid)+`/environ"`, "Terraform sees the server's process")

	// What it may read: its own environment (the credentials in it
	// masked) and, of state_dir, only this plan's own files.
	write(`file("/proc/self/environ")`, `join(",", fileset("`+l.stateDir+`", "**"))`)
	text = plan()
	require.Contains(t, text, "probe1", "the probes did not run:\n%s", text)
	assert.Contains(t, text, "plans/.draft-", "fileset read nothing of state_dir: the probe is not what it claims")
	for _, f := range []string{"audit.jsonl", "ledger.jsonl", "agent-tokens", "accepted-config", "tfstate/web"} {
		assert.NotContains(t, text, f, "Terraform code lists %s of state_dir", f)
	}
}
