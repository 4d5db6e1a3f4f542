package moto

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestStartAndStop(t *testing.T) {
	var pid int
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
			t.Fatalf("URL %q is not on 127.0.0.1", s.URL)
		}
		pid = s.PID
		ctx := context.Background()
		out, err := sts.NewFromConfig(s.Config(Credentials{AccessKeyID: "AKIAANY", SecretAccessKey: "any"})).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Account); got != DefaultAccountID {
			t.Fatalf("account %s, want %s", got, DefaultAccountID)
		}
	})
	// The subtest's cleanup has run: the process group is gone.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("moto_server process group %d still alive after cleanup", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIAMEnforcement(t *testing.T) {
	s := Start(t, WithIAMEnforcement(BootstrapActions))
	admin := s.Admin(t)
	ctx := context.Background()

	// Unknown keys are refused once the free actions are spent.
	_, err := s.IAM(Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}).ListUsers(ctx, &iam.ListUsersInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Fatalf("unknown key: want InvalidClientTokenId, got %v", err)
	}
	// The administrator can do anything.
	u := admin.CreateUser("reader", Allow("iam:ListUsers"))
	if _, err := s.IAM(u.Creds).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("allowed action refused: %v", err)
	}
	_, err = s.IAM(u.Creds).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	if code := errorCode(err); code != "AccessDenied" {
		t.Fatalf("action outside the policy: want AccessDenied, got %v", err)
	}
	// A wrong secret is a signature mismatch.
	bad := u.Creds
	bad.SecretAccessKey = "wrong"
	_, err = s.IAM(bad).ListUsers(ctx, &iam.ListUsersInput{})
	if code := errorCode(err); code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: want SignatureDoesNotMatch, got %v", err)
	}

	// Roles: trust names the user exactly.
	role := admin.CreateRole("r", Trust(u.ARN), Allow("iam:ListUsers"))
	stsc := sts.NewFromConfig(s.Config(u.Creds))
	if _, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role.ARN), RoleSessionName: aws.String("s")}); err == nil {
		t.Fatal("AssumeRole without sts:AssumeRole in the user's policy succeeded")
	}

	// Enforcement off and on again at run time.
	unknown := s.IAM(Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"})
	s.ResetAuth(t, -1)
	if _, err := unknown.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("enforcement off: %v", err)
	}
	s.ResetAuth(t, 0)
	_, err = unknown.ListUsers(ctx, &iam.ListUsersInput{})
	if code := errorCode(err); code != "InvalidClientTokenId" {
		t.Fatalf("enforcement back on: want InvalidClientTokenId, got %v", err)
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// fatalRecorder records Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Skip(...any)                       { f.msg = "skipped"; runtime.Goexit() }
func (f *fatalRecorder) Skipf(string, ...any)              { f.msg = "skipped"; runtime.Goexit() }
func (f *fatalRecorder) SkipNow()                          { f.msg = "skipped"; runtime.Goexit() }
func (f *fatalRecorder) Fatal(args ...any)                 { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fatalRecorder) Helper()                           {}
func (f *fatalRecorder) Cleanup(fn func())                 { f.TB.Cleanup(fn) }
func (f *fatalRecorder) Logf(string, ...any)               {}
func (f *fatalRecorder) Errorf(format string, args ...any) { f.Fatalf(format, args...) }

// Without moto_server the test fails (never skips) and says how to install it.
func TestMissingMotoFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec)
	}()
	<-done
	if !strings.Contains(rec.msg, "moto_server") || !strings.Contains(rec.msg, "pip install 'moto[server]'") {
		t.Fatalf("want a failure saying how to install moto, got %q", rec.msg)
	}
}
