package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/moto"
)

// doctorAgent is the OS user the doctor tests run agents as when they run
// as root (CI does). It is created with useradd if missing and left in
// place (a system user without home or shell).
const doctorAgent = "pgdoctor-agent"

type doctorCheck struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Status string `json:"status"`
	Fact   string `json:"fact"`
	Fix    string `json:"fix"`
}

// runDoctor runs plangate doctor --json and returns its checks by name.
func runDoctor(t *testing.T, args ...string) (map[string]doctorCheck, string, int) {
	t.Helper()
	stdout, stderr, code := runBinary(t, append([]string{"doctor", "--json"}, args...)...)
	var checks []doctorCheck
	require.NoError(t, json.Unmarshal([]byte(stdout), &checks), "stdout: %s\nstderr: %s", stdout, stderr)
	m := map[string]doctorCheck{}
	for _, c := range checks {
		require.NotEmpty(t, c.Fact, c.Check)
		if !c.OK {
			require.NotEmpty(t, c.Fix, "a check that does not hold says what to do: %s", c.Check)
		}
		m[c.Check] = c
	}
	return m, stderr, code
}

// agentAccount returns the agents' OS user, creating it with useradd: only
// root can, so tests that need a second user skip otherwise.
func agentAccount(t *testing.T) *user.User {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: the agent runs as a second OS user, created with useradd")
	}
	if u, err := user.Lookup(doctorAgent); err == nil {
		return u
	}
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", doctorAgent).CombinedOutput()
	u, lookErr := user.Lookup(doctorAgent)
	require.NoError(t, lookErr, "useradd %s: %v: %s", doctorAgent, err, out)
	return u
}

func ids(t *testing.T, u *user.User) (uid, gid int) {
	t.Helper()
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(t, err)
	gid, err = strconv.Atoi(u.Gid)
	require.NoError(t, err)
	return uid, gid
}

// openPath lets every user search the directories above and at dir, up to
// and including the temporary directory's test directories (private to
// root by default), so that what stops an agent is the layout under test.
func openPath(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := dir; d != tmp && d != "/" && strings.HasPrefix(d, tmp); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.NoError(t, os.Chmod(d, fi.Mode().Perm()|0o055))
	}
}

func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}))
}

// startServe runs plangate serve for cfg (as the given user when cred is
// not nil) and returns once it answered initialize: it is then in /proc.
func startServe(t *testing.T, bin, cfg string, cred *syscall.Credential) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	_, err = io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"doctor-test","version":"1"}}}`+"\n")
	require.NoError(t, err)
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		require.True(t, ok, "plangate serve ended before answering: %s", stderr.String())
		require.Contains(t, l, `"result"`, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("plangate serve did not answer initialize within 30s: %s", stderr.String())
	}
}

// copyBinary puts plangate where every user may run it (the test binary's
// directory is private).
func copyBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	openPath(t, dir)
	b, err := os.ReadFile(binary)
	require.NoError(t, err)
	bin := filepath.Join(dir, "plangate")
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	return bin
}

// The default layout, everything belonging to the agent's user (the
// invoking user, or, as root, a second user that owns the project and the
// state as if it had run plangate init and plangate serve itself): doctor
// fails, naming the writable config, state_dir and Terraform state, and
// the server whose environment the agent can read.
func TestDoctorSameUserLayout(t *testing.T) {
	dir, cfg, sd := acceptedProject(t)

	args := []string{"--config", cfg}
	bin, agent := binary, ""
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		u := agentAccount(t)
		uid, gid := ids(t, u)
		agent = u.Username
		state := os.Getenv("XDG_STATE_HOME")
		chownTree(t, dir, uid, gid)
		chownTree(t, state, uid, gid)
		openPath(t, dir)
		openPath(t, state)
		bin = copyBinary(t)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		args = append(args, "--agent-user", agent)
	} else {
		t.Log("not root: the agent is the invoking user (the cross-user layout is TestDoctorTwoUserLayout, which needs root)")
		u, err := user.Current()
		require.NoError(t, err)
		agent = u.Username
	}
	startServe(t, bin, cfg, cred)

	checks, stderr, code := runDoctor(t, args...)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "do not hold for agents running as "+agent)

	c := checks["plangate.hcl not writable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, cfg)
	assert.Contains(t, c.Fact, agent+" owns")

	c = checks["state_dir not writable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, sd)
	c = checks["state_dir not readable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)

	c = checks["accepted-config record not writable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)

	c = checks["stack web: Terraform state out of the agent's reach"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, filepath.Join(dir, "stacks", "web"))

	c = checks["server's environment not readable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "plangate serve (pid ")

	c = checks["state_dir outside any git work tree"]
	assert.Equal(t, "ok", c.Status, c.Fact)

	// The table says the same.
	table, _, code := runBinary(t, append([]string{"doctor"}, args...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, table, "✗ plangate.hcl not writable by the agent")
	assert.Contains(t, table, "→ ")
}

// The server's layout, as root: plangate.hcl owned by root in directories
// the agent may search but not write, state_dir 0700, the server running
// as root, the approver's key passphrase-protected under root: every check
// holds for the agent's user. An approver added with an unencrypted key
// then fails twice: the change waits for acceptance, and the key has no
// passphrase.
func TestDoctorTwoUserLayout(t *testing.T) {
	u := agentAccount(t)
	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	openPath(t, dir)
	keys := filepath.Join(t.TempDir(), "keys")
	t.Setenv("PLANGATE_KEY_DIR", keys)
	pass := filepath.Join(t.TempDir(), "pass")
	require.NoError(t, os.WriteFile(pass, []byte("correct horse\n"), 0o600))
	appendApprover := func(name string, args ...string) {
		out, err := exec.Command(binary, append([]string{"keygen", "--name", name}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		block := string(out[strings.Index(string(out), fmt.Sprintf("approver %q {", name)):])
		f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n" + block)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	appendApprover("oncall", "--passphrase-file", pass)
	_, stderr, code := runBinary(t, "config", "status", "--config", cfg)
	require.Equal(t, 0, code, stderr)
	// What is left between the agent and the state is state_dir's own mode.
	openPath(t, filepath.Dir(stateDir(t, dir)))
	fi, err := os.Stat(stateDir(t, dir))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	startServe(t, binary, cfg, nil)

	checks, stderr, code := runDoctor(t, "--config", cfg, "--agent-user", u.Username)
	for name, c := range checks {
		assert.True(t, c.OK, "%s: %s (%s)", name, c.Fact, c.Fix)
	}
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, checks["approver key oncall: passphrase, out of the agent's reach"].Fact, "passphrase-protected")
	assert.Contains(t, checks["server's environment not readable by the agent"].Fact, "runs as root")

	table, _, code := runBinary(t, "doctor", "--config", cfg, "--agent-user", u.Username)
	assert.Equal(t, 0, code)
	assert.Contains(t, table, fmt.Sprintf("All %d checks hold.", len(checks)))

	appendApprover("second")
	checks, _, code = runDoctor(t, "--config", cfg, "--agent-user", u.Username)
	assert.Equal(t, 1, code)
	c := checks["config changes accepted"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, `approver "second"`)
	c = checks["approver key second: passphrase, out of the agent's reach"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "not passphrase-protected")
}

// plangate doctor --server where the server runs as the agent's own user
// (the invoking user, or, as root, a second user that owns the project and
// the state): run as that user against the server's socket, it fails
// naming the writable config and state_dir, as the local doctor does.
func TestDoctorOverTheWireSameUser(t *testing.T) {
	dir, cfg, sd := acceptedProject(t)
	run := t.TempDir()
	keys := t.TempDir()
	bin, agent := binary, ""
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		u := agentAccount(t)
		uid, gid := ids(t, u)
		agent = u.Username
		for _, d := range []string{dir, os.Getenv("XDG_STATE_HOME"), run, keys} {
			chownTree(t, d, uid, gid)
			openPath(t, d)
		}
		bin = copyBinary(t)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	} else {
		u, err := user.Current()
		require.NoError(t, err)
		agent = u.Username
	}
	as := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "PLANGATE_KEY_DIR="+keys, "PLANGATE_CONFIG=", "PLANGATE_SERVER=")
		cmd.Dir = run
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	sock := filepath.Join(run, "plangate.sock")
	srv := as("server", "--config", cfg, "--listen", "unix:"+sock)
	serverLog := &lockedBuffer{}
	srv.Stdout, srv.Stderr = serverLog, serverLog
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	require.Eventually(t, func() bool { return strings.Contains(serverLog.String(), "plangate serving over HTTP") }, time.Minute, 50*time.Millisecond, "%s", serverLog)

	doctor := as("doctor", "--server", "unix:"+sock, "--json")
	var errOut strings.Builder
	doctor.Stderr = &errOut
	out, err := doctor.Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, errOut.String())
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, errOut.String(), "do not hold for agents running as "+agent)
	var list []doctorCheck
	require.NoError(t, json.Unmarshal(out, &list), "%s", out)
	checks := map[string]doctorCheck{}
	for _, c := range list {
		checks[c.Check] = c
	}

	c := checks["plangate server reachable by the agent"]
	assert.Equal(t, "ok", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "the server ran its checks for "+agent)
	c = checks["plangate.hcl not writable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, cfg)
	assert.Contains(t, c.Fact, agent+" owns")
	c = checks["state_dir not writable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, sd)
	assert.Equal(t, "fail", checks["state_dir not readable by the agent"].Status)
	assert.Equal(t, "fail", checks["accepted-config record not writable by the agent"].Status)
	assert.Equal(t, "fail", checks["stack web: Terraform state out of the agent's reach"].Status)
	c = checks["server's environment not readable by the agent"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "plangate server (pid ")
	assert.Contains(t, c.Fact, "the agent's user")
	assert.Equal(t, "ok", checks["state_dir outside any git work tree"].Status)
	assert.Equal(t, "ok", checks["approver keys on the agent's machine"].Status)
}

// Where the server cannot be reached, doctor --server says so in its one
// check of the server, still checks the keys on this machine, and fails.
// --config names a local file, which --server does not read.
func TestDoctorOverTheWireUnreachable(t *testing.T) {
	t.Setenv("PLANGATE_KEY_DIR", t.TempDir())
	sock := filepath.Join(t.TempDir(), "none.sock")
	checks, stderr, code := runDoctor(t, "--server", "unix:"+sock)
	assert.Equal(t, 1, code, stderr)
	c := checks["plangate server reachable by the agent"]
	assert.Equal(t, "fail", c.Status)
	assert.Contains(t, c.Fact, "is not reachable")
	assert.Contains(t, c.Fix, "socket's group")
	assert.Equal(t, "ok", checks["approver keys on the agent's machine"].Status)
	assert.Len(t, checks, 2)

	_, stderr, code = runBinary(t, "doctor", "--server", "unix:"+sock, "--config", "plangate.hcl")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "with --server, the server checks its own")

	// On the server's machine, with $PLANGATE_SERVER set, --config is a
	// local doctor's.
	dir := project(t)
	t.Setenv("PLANGATE_SERVER", "unix:"+sock)
	checks, stderr, _ = runDoctor(t, "--config", filepath.Join(dir, "plangate.hcl"))
	assert.Contains(t, checks, "plangate.hcl not writable by the agent", stderr)
	assert.NotContains(t, checks, "plangate server reachable by the agent")
}

// The binary reads the roles of a stack's aws block from IAM with its own
// AWS credentials (the environment, as the server's): on moto, a plan role
// that may s3:DeleteBucket and an apply role that may sts:AssumeRole are
// flagged.
func TestDoctorAWSRoles(t *testing.T) {
	srv := moto.Start(t, moto.WithIAMEnforcement(moto.BootstrapActions))
	admin := srv.Admin(t)
	server := admin.CreateUser("plangate-server", moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity", "iam:Get*", "iam:List*"))
	planRole := admin.CreateRole("plangate-plan", moto.Trust(server.ARN), moto.Allow("s3:Get*", "s3:List*", "s3:DeleteBucket"))
	applyRole := admin.CreateRole("plangate-apply", moto.Trust(server.ARN), moto.Allow("s3:*", "sts:AssumeRole"))

	dir := project(t)
	cfg := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stacks", "cloud"), 0o755))
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, `
stack "cloud" {
  dir = "stacks/cloud"
  aws {
    region         = "us-east-1"
    account_id     = %q
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q
  }
}
`, moto.DefaultAccountID, planRole.ARN, applyRole.ARN, srv.URL)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	cmd := exec.Command(binary, "doctor", "--json", "--config", cfg)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+server.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+server.Creds.SecretAccessKey, "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, stderr.String())
	assert.Equal(t, 1, ee.ExitCode())
	var checks []doctorCheck
	require.NoError(t, json.Unmarshal(out, &checks), "stdout: %s\nstderr: %s", out, stderr.String())
	m := map[string]doctorCheck{}
	for _, c := range checks {
		m[c.Check] = c
	}
	c := m["stack cloud: plan role only reads"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "s3:DeleteBucket")
	c = m["stack cloud: apply role cannot assume roles"]
	assert.Equal(t, "fail", c.Status, c.Fact)
	assert.Contains(t, c.Fact, "sts:AssumeRole")
	for _, name := range []string{"stack cloud: plan role cannot assume roles", "stack cloud: plan role trusts only plangate", "stack cloud: apply role assumable only by plangate"} {
		assert.Equal(t, "ok", m[name].Status, "%s: %s", name, m[name].Fact)
	}
	assert.NotContains(t, string(out)+stderr.String(), server.Creds.SecretAccessKey)
}

// acceptedProject is a demo project whose config has had its first use
// (config status accepts it), with its state dir.
func acceptedProject(t *testing.T) (dir, cfg, sd string) {
	t.Helper()
	dir = project(t)
	cfg = filepath.Join(dir, "plangate.hcl")
	_, stderr, code := runBinary(t, "config", "status", "--config", cfg)
	require.Equal(t, 0, code, stderr)
	return dir, cfg, stateDir(t, dir)
}
