package awsguard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/moto"
)

const planID = "0193f2c4-7d1e-7b3a-9c55-2f4e8d1a6b70"

// isolatedEnv is an environment with no AWS credentials anywhere: HOME and
// the shared files are empty temporary ones, the instance role is off.
func isolatedEnv(t *testing.T) map[string]string {
	t.Helper()
	home := t.TempDir()
	cfgFile := filepath.Join(home, "config")
	credsFile := filepath.Join(home, "credentials")
	for _, f := range []string{cfgFile, credsFile} {
		require.NoError(t, os.WriteFile(f, nil, 0o600))
	}
	return map[string]string{
		"HOME":                        home,
		"AWS_CONFIG_FILE":             cfgFile,
		"AWS_SHARED_CREDENTIALS_FILE": credsFile,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// envWith is isolatedEnv plus creds.
func envWith(t *testing.T, creds moto.Credentials) map[string]string {
	env := isolatedEnv(t)
	for k, v := range creds.Env() {
		env[k] = v
	}
	return env
}

// isolateProcess gives the process itself the isolated environment (for
// the production path, which reads the process environment).
func isolateProcess(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_ARN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
	} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func awsBlock(endpoint string) *config.AWS {
	return &config.AWS{Region: moto.DefaultRegion, AccountID: moto.DefaultAccountID, EndpointURL: endpoint}
}

func TestPlanChecksIdentity(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", "")

	g := awsguard.New(awsBlock(srv.URL), awsguard.WithBaseEnv(envWith(t, user.Creds)))
	for _, run := range []func(context.Context, string) (*awsguard.Session, error){g.Plan, g.Apply} {
		s, err := run(context.Background(), planID)
		require.NoError(t, err)
		assert.Equal(t, awsguard.Identity{Account: moto.DefaultAccountID, ARN: user.ARN, UserID: s.Identity.UserID}, s.Identity)
		assert.NotEmpty(t, s.Identity.UserID)
		assert.Equal(t, s.Identity, s.Base)
		assert.Empty(t, s.RoleARN)
		// Without a role Terraform gets the verified credentials themselves.
		assert.Equal(t, user.Creds.AccessKeyID, s.Env["AWS_ACCESS_KEY_ID"])
		assert.Equal(t, user.Creds.SecretAccessKey, s.Env["AWS_SECRET_ACCESS_KEY"])
		assert.NotContains(t, s.Env, "AWS_SESSION_TOKEN")
		assert.Equal(t, moto.DefaultRegion, s.Env["AWS_REGION"])
		assert.Equal(t, moto.DefaultRegion, s.Env["AWS_DEFAULT_REGION"])
	}
}

// The production path: credentials from the process environment, and from
// a named profile of the shared credentials file.
func TestPlanStandardCredentialChain(t *testing.T) {
	srv := moto.Start(t)
	admin := srv.Admin(t)
	envUser := admin.CreateUser("from-env", "")
	profileUser := admin.CreateUser("from-profile", "")

	env := isolatedEnv(t)
	require.NoError(t, os.WriteFile(env["AWS_SHARED_CREDENTIALS_FILE"], fmt.Appendf(nil,
		"[plangate]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		profileUser.Creds.AccessKeyID, profileUser.Creds.SecretAccessKey), 0o600))
	isolateProcess(t, env)
	t.Setenv("AWS_ACCESS_KEY_ID", envUser.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", envUser.Creds.SecretAccessKey)

	s, err := awsguard.New(awsBlock(srv.URL)).Plan(context.Background(), planID)
	require.NoError(t, err)
	assert.Equal(t, envUser.ARN, s.Identity.ARN)

	// The aws block's profile wins over the environment's keys, as in the SDK.
	cfg := awsBlock(srv.URL)
	cfg.Profile = "plangate"
	s, err = awsguard.New(cfg).Plan(context.Background(), planID)
	require.NoError(t, err)
	assert.Equal(t, profileUser.ARN, s.Identity.ARN)
	assert.Equal(t, profileUser.Creds.AccessKeyID, s.Env["AWS_ACCESS_KEY_ID"])

	// Same through WithBaseEnv, with the process environment empty.
	isolateProcess(t, isolatedEnv(t))
	s, err = awsguard.New(cfg, awsguard.WithBaseEnv(env)).Plan(context.Background(), planID)
	require.NoError(t, err)
	assert.Equal(t, profileUser.ARN, s.Identity.ARN)
	env["AWS_PROFILE"] = "plangate"
	s, err = awsguard.New(awsBlock(srv.URL), awsguard.WithBaseEnv(env)).Plan(context.Background(), planID)
	require.NoError(t, err)
	assert.Equal(t, profileUser.ARN, s.Identity.ARN)
}

func TestAccountMismatchRefused(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", moto.Allow("sts:AssumeRole"))
	env := envWith(t, user.Creds)

	cfg := awsBlock(srv.URL)
	cfg.AccountID = "210987654321"
	_, err := awsguard.New(cfg, awsguard.WithBaseEnv(env)).Plan(context.Background(), planID)
	var mismatch *awsguard.AccountMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, "210987654321", mismatch.Expected)
	assert.Equal(t, moto.DefaultAccountID, mismatch.Actual)
	msg := err.Error()
	assert.Contains(t, msg, "refusing to plan: nothing ran")
	assert.Contains(t, msg, "210987654321")
	assert.Contains(t, msg, moto.DefaultAccountID)
	assert.Contains(t, msg, user.ARN)

	// A role in another account: the identity Terraform would get is what
	// counts (moto lets anyone assume a role it does not know, in any
	// account).
	cfg = awsBlock(srv.URL)
	cfg.ApplyRoleARN = "arn:aws:iam::999999999999:role/elsewhere"
	_, err = awsguard.New(cfg, awsguard.WithBaseEnv(env)).Apply(context.Background(), planID)
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, "999999999999", mismatch.Actual)
	assert.Contains(t, err.Error(), "refusing to apply: nothing ran")
	assert.Contains(t, err.Error(), "assumed-role/elsewhere/plangate-apply-0193f2c4")

	// An apply in another account than its plan.
	plan := awsguard.Identity{Account: "210987654321", ARN: "arn:aws:sts::210987654321:assumed-role/plangate-plan/plangate-plan-0193f2c4"}
	s, err := awsguard.New(awsBlock(srv.URL), awsguard.WithBaseEnv(env)).Apply(context.Background(), planID)
	require.NoError(t, err)
	err = awsguard.CheckApplyAccount(plan, s)
	require.ErrorAs(t, err, &mismatch)
	assert.True(t, mismatch.PlanAccount)
	assert.Contains(t, err.Error(), "refusing to apply: nothing ran: the plan was made in AWS account 210987654321")
	assert.Contains(t, err.Error(), moto.DefaultAccountID)
	plan.Account = moto.DefaultAccountID
	assert.NoError(t, awsguard.CheckApplyAccount(plan, s))
}

func TestNoCredentials(t *testing.T) {
	srv := moto.Start(t)
	env := isolatedEnv(t)

	check := func(t *testing.T, err error, profile string) {
		t.Helper()
		var noCreds *awsguard.NoCredentialsError
		require.ErrorAs(t, err, &noCreds, "got %v", err)
		assert.Equal(t, profile, noCreds.Profile)
		assert.Contains(t, err.Error(), "refusing to plan: nothing ran: plangate found no AWS credentials")
		assert.Contains(t, err.Error(), "Give the plangate server credentials")
		if profile != "" {
			assert.Contains(t, err.Error(), fmt.Sprintf("profile %q", profile))
		}
	}
	t.Run("base env", func(t *testing.T) {
		_, err := awsguard.New(awsBlock(srv.URL), awsguard.WithBaseEnv(env)).Plan(context.Background(), planID)
		check(t, err, "")
	})
	t.Run("process env", func(t *testing.T) {
		isolateProcess(t, env)
		start := time.Now()
		_, err := awsguard.New(awsBlock(srv.URL)).Plan(context.Background(), planID)
		check(t, err, "")
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("missing profile", func(t *testing.T) {
		isolateProcess(t, env)
		cfg := awsBlock(srv.URL)
		cfg.Profile = "nope"
		_, err := awsguard.New(cfg).Plan(context.Background(), planID)
		check(t, err, "nope")
	})
}

func TestExpiredCredentials(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", "")

	// Moto never expires credentials (it ignores the expiry of assumed-role
	// sessions), so the SDK's own expiry is what this sees: a
	// credential_process that hands out credentials already past their
	// expiry time.
	env := isolatedEnv(t)
	script := filepath.Join(env["HOME"], "creds.sh")
	require.NoError(t, os.WriteFile(script, fmt.Appendf(nil,
		"#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"SessionToken\":\"tok\",\"Expiration\":\"2001-02-03T04:05:06Z\"}'\n",
		user.Creds.AccessKeyID, user.Creds.SecretAccessKey), 0o700))
	require.NoError(t, os.WriteFile(env["AWS_CONFIG_FILE"], fmt.Appendf(nil, "[profile old]\ncredential_process = %s\n", script), 0o600))
	cfg := awsBlock(srv.URL)
	cfg.Profile = "old"
	_, err := awsguard.New(cfg, awsguard.WithBaseEnv(env)).Plan(context.Background(), planID)
	var expired *awsguard.ExpiredCredentialsError
	require.ErrorAs(t, err, &expired, "got %v", err)
	assert.Equal(t, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), expired.Expires.UTC())
	assert.Contains(t, err.Error(), "refusing to plan: nothing ran: plangate's AWS credentials")
	assert.Contains(t, err.Error(), "expired at 2001-02-03T04:05:06Z")
	assert.NotContains(t, err.Error(), user.Creds.SecretAccessKey)

	// What AWS answers for an expired session token (ExpiredToken), which
	// moto cannot produce: the one stand-in in these tests.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>x</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(fake.Close)
	_, err = awsguard.New(awsBlock(fake.URL), awsguard.WithBaseEnv(envWith(t, user.Creds))).Plan(context.Background(), planID)
	require.ErrorAs(t, err, &expired, "got %v", err)
	assert.Contains(t, err.Error(), "The security token included in the request is expired")
}

func TestSTSUnreachable(t *testing.T) {
	t.Parallel()
	env := envWith(t, moto.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"})

	check := func(t *testing.T, endpoint string, timeout, within time.Duration) {
		t.Helper()
		start := time.Now()
		_, err := awsguard.New(awsBlock(endpoint), awsguard.WithBaseEnv(env), awsguard.WithTimeout(timeout)).Plan(context.Background(), planID)
		elapsed := time.Since(start)
		var unreachable *awsguard.STSUnreachableError
		require.ErrorAs(t, err, &unreachable, "got %v", err)
		assert.Contains(t, err.Error(), "refusing to plan: nothing ran: AWS STS at "+endpoint)
		assert.Contains(t, err.Error(), "could not be reached (timeout "+timeout.String()+")")
		assert.Less(t, elapsed, within)
	}
	t.Run("closed port", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		endpoint := "http://" + l.Addr().String()
		l.Close()
		check(t, endpoint, 3*time.Second, 3*time.Second+time.Second)
	})
	t.Run("no answer", func(t *testing.T) {
		t.Parallel()
		// Accepts connections and never answers.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		check(t, "http://"+l.Addr().String(), time.Second, 2*time.Second)
	})
}

// The role split with moto enforcing IAM: plangate's own user may only
// assume roles and ask who it is; the plan role reads, the apply role
// writes; each shows as its own assumed-role session.
func TestRoleSplitUnderIAMEnforcement(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t, moto.WithIAMEnforcement(moto.BootstrapActions))
	admin := srv.Admin(t)
	server := admin.CreateUser("plangate-server", moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity"))
	planRole := admin.CreateRole("plangate-plan", moto.Trust(server.ARN), moto.Allow("iam:Get*", "iam:List*"))
	applyRole := admin.CreateRole("plangate-apply", moto.Trust(server.ARN), moto.Allow("iam:*"))
	other := admin.CreateUser("someone-else", "")
	foreignRole := admin.CreateRole("not-for-plangate", moto.Trust(other.ARN), moto.Allow("iam:*"))

	cfg := awsBlock(srv.URL)
	cfg.PlanRoleARN, cfg.ApplyRoleARN = planRole.ARN, applyRole.ARN
	env := envWith(t, server.Creds)
	env["AWS_PROFILE"] = "unused" // static keys win over AWS_PROFILE
	g := awsguard.New(cfg, awsguard.WithBaseEnv(env))
	ctx := context.Background()

	// plangate's own user can do nothing but assume roles.
	_, err := srv.IAM(server.Creds).ListRoles(ctx, &iam.ListRolesInput{})
	assert.Equal(t, "AccessDenied", errorCode(err), "the server's user must not list roles: %v", err)

	planSession, err := g.Plan(ctx, planID)
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/plangate-plan/plangate-plan-0193f2c4", planSession.Identity.ARN)
	assert.Equal(t, moto.DefaultAccountID, planSession.Identity.Account)
	assert.Equal(t, server.ARN, planSession.Base.ARN)
	assert.Equal(t, planRole.ARN, planSession.RoleARN)
	assert.False(t, planSession.Expires.IsZero())
	assertRoleEnv(t, planSession, server.Creds)

	applySession, err := g.Apply(ctx, planID)
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/plangate-apply/plangate-apply-0193f2c4", applySession.Identity.ARN)
	assertRoleEnv(t, applySession, server.Creds)
	assert.NotEqual(t, planSession.Env["AWS_ACCESS_KEY_ID"], applySession.Env["AWS_ACCESS_KEY_ID"])
	require.NoError(t, awsguard.CheckApplyAccount(planSession.Identity, applySession))

	// Observed, not assumed: the plan credentials read but cannot write,
	// the apply credentials write.
	planIAM := srv.IAM(sessionCreds(planSession))
	_, err = planIAM.ListRoles(ctx, &iam.ListRolesInput{})
	require.NoError(t, err)
	_, err = planIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("by-plan")})
	assert.Equal(t, "AccessDenied", errorCode(err), "the plan role must not write: %v", err)
	_, err = srv.IAM(sessionCreds(applySession)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("by-apply")})
	require.NoError(t, err)

	// A role whose trust policy does not name plangate's user.
	cfg.ApplyRoleARN = foreignRole.ARN
	_, err = awsguard.New(cfg, awsguard.WithBaseEnv(env)).Apply(ctx, planID)
	var denied *awsguard.AssumeRoleDeniedError
	require.ErrorAs(t, err, &denied, "got %v", err)
	assert.Equal(t, foreignRole.ARN, denied.RoleARN)
	assert.Equal(t, server.ARN, denied.Identity)
	assert.Contains(t, err.Error(), "refusing to apply: nothing ran: "+server.ARN+" may not assume role "+foreignRole.ARN)
	assert.Contains(t, err.Error(), "AccessDenied")
	assert.NotContains(t, err.Error(), server.Creds.SecretAccessKey)

	// A user without sts:AssumeRole is denied the same way.
	cfg.PlanRoleARN = planRole.ARN
	_, err = awsguard.New(cfg, awsguard.WithBaseEnv(envWith(t, other.Creds))).Plan(ctx, planID)
	require.ErrorAs(t, err, &denied, "got %v", err)
	assert.Equal(t, other.ARN, denied.Identity)

	// Unknown and wrong keys are rejected credentials, not missing ones.
	bad := server.Creds
	bad.SecretAccessKey = "wr0ng-s3cret-value"
	_, err = awsguard.New(cfg, awsguard.WithBaseEnv(envWith(t, bad))).Plan(ctx, planID)
	var rejected *awsguard.CredentialsRejectedError
	require.ErrorAs(t, err, &rejected, "got %v", err)
	assert.Equal(t, "SignatureDoesNotMatch", rejected.Code)
	assert.NotContains(t, err.Error(), bad.SecretAccessKey)
	_, err = awsguard.New(cfg, awsguard.WithBaseEnv(envWith(t, moto.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}))).Plan(ctx, planID)
	require.ErrorAs(t, err, &rejected, "got %v", err)
	assert.Equal(t, "InvalidClientTokenId", rejected.Code)
}

// assertRoleEnv: a role session's environment has the role's temporary
// credentials, never the server's own.
func assertRoleEnv(t *testing.T, s *awsguard.Session, server moto.Credentials) {
	t.Helper()
	assert.NotEmpty(t, s.Env["AWS_ACCESS_KEY_ID"])
	assert.NotEmpty(t, s.Env["AWS_SECRET_ACCESS_KEY"])
	assert.NotEmpty(t, s.Env["AWS_SESSION_TOKEN"])
	for k, v := range s.Env {
		assert.NotEqual(t, server.AccessKeyID, v, k)
		assert.NotEqual(t, server.SecretAccessKey, v, k)
	}
}

func sessionCreds(s *awsguard.Session) moto.Credentials {
	return moto.Credentials{AccessKeyID: s.Env["AWS_ACCESS_KEY_ID"], SecretAccessKey: s.Env["AWS_SECRET_ACCESS_KEY"], SessionToken: s.Env["AWS_SESSION_TOKEN"]}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSessionApplyStripsServerCredentials(t *testing.T) {
	t.Parallel()
	s := &awsguard.Session{Env: map[string]string{
		"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "role-secret", "AWS_SESSION_TOKEN": "role-token",
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	}}
	server := map[string]string{
		"PATH": "/usr/bin", "HOME": "/home/op", "TF_DATA_DIR": "/x",
		"AWS_ACCESS_KEY_ID": "AKIASERVER", "AWS_SECRET_ACCESS_KEY": "server-secret", "AWS_SESSION_TOKEN": "server-token",
		"AWS_ACCESS_KEY": "AKIASERVER", "AWS_SECRET_KEY": "server-secret", "AWS_SECURITY_TOKEN": "server-token",
		"AWS_PROFILE": "prod-admin", "AWS_DEFAULT_PROFILE": "prod-admin", "AWS_SDK_LOAD_CONFIG": "1",
		"AWS_CONFIG_FILE": "/home/op/.aws/config", "AWS_SHARED_CREDENTIALS_FILE": "/home/op/.aws/credentials",
		"AWS_ROLE_ARN": "arn:aws:iam::1:role/x", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_SESSION_NAME": "x",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://x",
		"AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z", "AWS_ACCOUNT_ID": "1", "AWS_REGION": "us-east-1",
		"AWS_CA_BUNDLE": "/etc/ca.pem", "AWS_ENDPOINT_URL_S3": "https://s3.internal",
	}
	orig := len(server)
	got := s.Apply(server)
	assert.Len(t, server, orig, "Apply must not modify its argument")
	assert.Equal(t, map[string]string{
		"PATH": "/usr/bin", "HOME": "/home/op", "TF_DATA_DIR": "/x",
		"AWS_CA_BUNDLE": "/etc/ca.pem", "AWS_ENDPOINT_URL_S3": "https://s3.internal",
		"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "role-secret", "AWS_SESSION_TOKEN": "role-token",
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	}, got)
}

func TestSessionNeverShowsCredentials(t *testing.T) {
	t.Parallel()
	s := &awsguard.Session{
		Identity: awsguard.Identity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:assumed-role/plangate-plan/plangate-plan-0193f2c4", UserID: "AROA:x"},
		Base:     awsguard.Identity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/plangate"},
		RoleARN:  "arn:aws:iam::123456789012:role/plangate-plan",
		Env:      map[string]string{"AWS_ACCESS_KEY_ID": "ASIASECRETKEYID", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_SESSION_TOKEN": "t0ken-value"},
	}
	var outputs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outputs = append(outputs, fmt.Sprintf(f, s), fmt.Sprintf(f, *s))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("plan", "session", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("plan", "session", *s)
	outputs = append(outputs, buf.String())
	b, err := json.Marshal(s)
	require.NoError(t, err)
	outputs = append(outputs, string(b))
	b, err = json.Marshal(struct{ S awsguard.Session }{*s})
	require.NoError(t, err)
	outputs = append(outputs, string(b))

	secret := regexp.MustCompile(`ASIASECRETKEYID|s3cr3t-value|t0ken-value`)
	for _, out := range outputs {
		assert.NotRegexp(t, secret, out)
		assert.Contains(t, out, "assumed-role/plangate-plan/plangate-plan-0193f2c4")
	}
}

func TestSessionName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "plangate-plan-0193f2c4", awsguard.SessionName(awsguard.OpPlan, planID))
	assert.Equal(t, "plangate-apply-0193f2c4", awsguard.SessionName(awsguard.OpApply, planID))
	assert.Equal(t, "plangate-plan-ab-c", awsguard.SessionName(awsguard.OpPlan, "ab c"))
	assert.Equal(t, "plangate-read-payments-eu", awsguard.SessionName(awsguard.OpRead, "payments-eu"), "a state read names the whole stack")
	assert.Len(t, awsguard.SessionName(awsguard.OpRead, strings.Repeat("s", 100)), 64)
	_, err := awsguard.New(awsBlock("http://127.0.0.1:1")).Plan(context.Background(), "")
	assert.ErrorContains(t, err, "no plan id")
	assert.True(t, strings.HasPrefix(awsguard.SessionName(awsguard.OpApply, "x"), "plangate-apply-"))
}

// session_duration sets how long the role's credentials last (an apply
// that outlives them would fail part-way); without it AWS's hour applies.
func TestSessionDuration(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	user := srv.Admin(t).CreateUser("plangate-server", "")
	cfg := awsBlock(srv.URL)
	cfg.ApplyRoleARN = "arn:aws:iam::" + moto.DefaultAccountID + ":role/plangate-apply"
	for _, tc := range []struct {
		duration, want time.Duration
	}{{0, time.Hour}, {3 * time.Hour, 3 * time.Hour}} {
		cfg.SessionDuration = tc.duration
		before := time.Now()
		s, err := awsguard.New(cfg, awsguard.WithBaseEnv(envWith(t, user.Creds))).Apply(context.Background(), planID)
		require.NoError(t, err)
		assert.WithinDuration(t, before.Add(tc.want), s.Expires, time.Minute, "session_duration %s", tc.duration)
	}
}
