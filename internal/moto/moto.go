// Package moto runs the moto AWS emulator (`moto_server`) for tests and
// creates IAM users, roles and access keys in it.
//
// Each Start gives a test its own moto_server child process on a free
// loopback port; t.Cleanup stops it by process group. A missing moto_server
// fails the test with how to install it: these tests never skip.
//
// IAM enforcement (WithIAMEnforcement) follows moto's
// INITIAL_NO_AUTH_ACTION_COUNT: moto serves that many actions without
// checking anything, and from then on every action must be signed with an
// access key moto issued (an IAM user's or an assumed role's) whose
// policies allow it. There is no root key, so the free actions are what
// bootstraps the first user: Server.Admin spends exactly BootstrapActions of
// them on an administrator and signs everything after with its key.
//
// What moto 5.2 does differently from AWS under enforcement (checked
// against its source and in these tests):
//   - Policies: a statement's Resource is matched only for sts:AssumeRole
//     (the role ARN), S3 (bucket and object ARNs), SQS and IAM role actions;
//     every other action is checked against "*", so use Resource "*" there.
//   - Trust policies: the caller's ARN must equal a listed "AWS" principal
//     (or "*"); an account root principal does not stand for its users, and
//     a trust policy with only a "Service" principal makes AssumeRole fail
//     with HTTP 500. A role that does not exist can be assumed by anyone
//     allowed sts:AssumeRole, in any account (the assumed identity is then
//     in that account).
//   - sts:GetCallerIdentity is always allowed, as on AWS.
//   - Expiry is never checked: expired session tokens keep working.
//   - Its authorization errors have the EC2 error shape for every service:
//     IAM and STS clients see "UnknownError" (FixQueryErrors repairs that
//     for the helpers' clients), DynamoDB clients fail to decode them.
//   - A bucket's HEAD is authorized as "s3:HeadBucket" (AWS: s3:ListBucket);
//     a role without it gets 403, which the AWS provider's refresh takes
//     for a deleted bucket.
//   - S3 signature checks fail for any query string holding "/" (even with
//     boto3), such as the S3 backend's workspace listing (prefix "env:/"):
//     Terraform's S3 backend cannot run with enforcement on.
package moto

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// DefaultAccountID is the account moto puts everything in.
	DefaultAccountID = "123456789012"
	// DefaultRegion is the region the helpers use.
	DefaultRegion = "us-east-1"
	// BootstrapActions is how many of moto's unauthenticated actions
	// Server.Admin uses (CreateUser, PutUserPolicy, CreateAccessKey) when IAM
	// enforcement is on. WithIAMEnforcement(BootstrapActions) enforces IAM
	// for everything after the administrator exists.
	BootstrapActions = 3
	// InstallHint says how to get moto_server.
	InstallHint = "install it with `pip install 'moto[server]'` (Python >= 3.9) and make sure moto_server is on PATH"
)

// startTimeout bounds how long moto_server may take to answer.
const startTimeout = 30 * time.Second

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:<port>, for every AWS service.
	URL string
	// PID is moto_server's process id (also its process group id).
	PID int

	iamEnforced bool
	freeActions int
	logPath     string

	mu    sync.Mutex
	admin *Admin
}

type options struct {
	env         map[string]string
	iamEnforced bool
	freeActions int
}

// Option configures Start.
type Option func(*options)

// WithIAMEnforcement makes moto check signatures and IAM policies after the
// first n actions (env INITIAL_NO_AUTH_ACTION_COUNT=n). The count is global
// to the server, across services, and only counts actions that go through
// moto's authorization (the /moto-api/ endpoints used to wait for the
// server do not). Use n = BootstrapActions and call Server.Admin first.
func WithIAMEnforcement(n int) Option {
	return func(o *options) {
		o.iamEnforced = true
		o.freeActions = n
		o.env["INITIAL_NO_AUTH_ACTION_COUNT"] = strconv.Itoa(n)
	}
}

// WithEnv sets an environment variable of moto_server (for example
// MOTO_ACCOUNT_ID, which moves every request into another account).
func WithEnv(key, value string) Option {
	return func(o *options) { o.env[key] = value }
}

// Start runs moto_server on a free 127.0.0.1 port, waits until it answers and
// stops it (SIGTERM, then SIGKILL, to its whole process group) when the test
// ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{env: map[string]string{}}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server (the AWS emulator these tests run against) not found on PATH: %v; %s", err, InstallHint)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin, o)
		if err == nil {
			return s
		}
		lastErr = err
		// Another process may have taken the port between our probe and
		// moto's bind: try another one.
	}
	t.Fatalf("moto_server did not start: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, o options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(t.TempDir(), "moto_server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = t.TempDir()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = os.Environ()
	for k, v := range o.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Own process group, so that Cleanup reaches moto_server and anything it
	// spawns (the pyenv shim execs python); SIGKILL if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-exited
			}
			// Whatever is left in the group (nothing, normally).
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		})
	}

	s := &Server{
		URL:         fmt.Sprintf("http://127.0.0.1:%d", port),
		PID:         pid,
		iamEnforced: o.iamEnforced,
		freeActions: o.freeActions,
		logPath:     logPath,
	}
	if err := s.waitReady(exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w\n%s", err, tail(logPath))
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("moto_server log (%s):\n%s", s.URL, tail(logPath))
		}
	})
	return s, nil
}

// waitReady polls /moto-api/, which moto serves without counting it as an
// action (it must not eat into INITIAL_NO_AUTH_ACTION_COUNT).
func (s *Server) waitReady(exited <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited before answering: %v", err)
		default:
		}
		resp, err := client.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("moto_server did not answer on %s within %s", s.URL, startTimeout)
}

// ResetAuth sets INITIAL_NO_AUTH_ACTION_COUNT of the running server to n and
// restarts its action count (moto's POST /moto-api/reset-auth); n < 0 turns
// enforcement off. Enforcement on or off applies to everything moto serves.
func (s *Server) ResetAuth(t testing.TB, n int) {
	t.Helper()
	body := "inf"
	if n >= 0 {
		body = strconv.Itoa(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset-auth", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto reset-auth: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto reset-auth: HTTP %d", resp.StatusCode)
	}
	s.mu.Lock()
	s.iamEnforced = n >= 0
	s.freeActions = n
	s.mu.Unlock()
}

// Log returns the tail of moto_server's request log (for diagnostics).
func (s *Server) Log() string { return tail(s.logPath) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
