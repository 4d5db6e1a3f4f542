package moto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
)

// Credentials is an access key moto issued (or any key, while IAM is not
// enforced).
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Env returns the credentials as the environment variables the AWS SDKs and
// Terraform's AWS provider read, with AWS_REGION set to DefaultRegion.
func (c Credentials) Env() map[string]string {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": c.SecretAccessKey,
		"AWS_REGION":            DefaultRegion,
		"AWS_DEFAULT_REGION":    DefaultRegion,
	}
	if c.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = c.SessionToken
	}
	return env
}

// Config returns an SDK config that signs with creds and sends every
// service to the emulator. It reads no environment and no shared config.
func (s *Server) Config(creds Credentials) aws.Config {
	return aws.Config{
		Region:           DefaultRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{FixQueryErrors},
		// moto's server answers "Connection: close"; one connection per
		// request keeps the client from racing its close.
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true }),
	}
}

// IAM returns an IAM client of the emulator signing with creds.
func (s *Server) IAM(creds Credentials) *iam.Client {
	return iam.NewFromConfig(s.Config(creds))
}

// Admin is an IAM user allowed everything, for setting up a test.
type Admin struct {
	Name  string
	ARN   string
	Creds Credentials
	IAM   *iam.Client

	t   testing.TB
	srv *Server
}

// adminUser names the administrator Admin creates.
const adminUser = "moto-admin"

// Admin returns the server's administrator, creating it on first use with
// BootstrapActions unauthenticated actions. With IAM enforcement on, call
// it before anything else touches the server: once moto's free actions are
// spent, nobody can create the first user any more.
func (s *Server) Admin(t testing.TB) *Admin {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		if s.iamEnforced && s.freeActions < BootstrapActions {
			t.Fatalf("moto: IAM is enforced after %d free actions; creating the administrator takes %d: start with WithIAMEnforcement(moto.BootstrapActions)", s.freeActions, BootstrapActions)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Any key works for the free actions; moto does not look at it.
		boot := s.IAM(Credentials{AccessKeyID: "AKIABOOTSTRAPBOOTSTR", SecretAccessKey: "bootstrap"})
		out, err := boot.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(adminUser)})
		if err != nil {
			t.Fatalf("moto: creating the administrator (were the free actions already used?): %v", err)
		}
		if _, err := boot.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
			UserName:       aws.String(adminUser),
			PolicyName:     aws.String("admin"),
			PolicyDocument: aws.String(Allow("*")),
		}); err != nil {
			t.Fatalf("moto: administrator policy: %v", err)
		}
		key, err := boot.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(adminUser)})
		if err != nil {
			t.Fatalf("moto: administrator access key: %v", err)
		}
		creds := Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
		s.admin = &Admin{Name: adminUser, ARN: aws.ToString(out.User.Arn), Creds: creds, IAM: s.IAM(creds), srv: s}
	}
	a := *s.admin
	a.t = t
	return &a
}

// User is an IAM user with an access key.
type User struct {
	Name, ARN string
	Creds     Credentials
}

// CreateUser creates an IAM user with an access key and, unless policy is
// empty, an inline policy.
func (a *Admin) CreateUser(name, policy string) User {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := a.IAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		a.t.Fatalf("moto: CreateUser %s: %v", name, err)
	}
	if policy != "" {
		if _, err := a.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
			UserName: aws.String(name), PolicyName: aws.String(name + "-policy"), PolicyDocument: aws.String(policy),
		}); err != nil {
			a.t.Fatalf("moto: PutUserPolicy %s: %v", name, err)
		}
	}
	key, err := a.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		a.t.Fatalf("moto: CreateAccessKey %s: %v", name, err)
	}
	return User{
		Name:  name,
		ARN:   aws.ToString(out.User.Arn),
		Creds: Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)},
	}
}

// Role is an IAM role.
type Role struct {
	Name, ARN string
}

// CreateRole creates an IAM role with the trust policy trust (see Trust)
// and, unless policy is empty, an inline permissions policy.
func (a *Admin) CreateRole(name, trust, policy string) Role {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := a.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		a.t.Fatalf("moto: CreateRole %s: %v", name, err)
	}
	if policy != "" {
		a.PutRolePolicy(name, name+"-policy", policy)
	}
	return Role{Name: name, ARN: aws.ToString(out.Role.Arn)}
}

// PutRolePolicy sets an inline policy of a role.
func (a *Admin) PutRolePolicy(role, policyName, policy string) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String(policyName), PolicyDocument: aws.String(policy),
	}); err != nil {
		a.t.Fatalf("moto: PutRolePolicy %s: %v", role, err)
	}
}

// Statement is one IAM policy statement.
type Statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource,omitempty"`
	Principal map[string]any `json:"Principal,omitempty"`
}

// Policy renders statements as an IAM policy document.
func Policy(statements ...Statement) string {
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Allow is a policy allowing actions (such as "sts:AssumeRole" or "s3:*")
// on every resource. Moto matches a statement's Resource against the
// request's resource only for STS AssumeRole (the role ARN), S3 (bucket and
// key ARNs), SQS and IAM role actions; for everything else the request's
// resource is "*", so a narrower Resource never matches there.
func Allow(actions ...string) string {
	return Policy(Statement{Effect: "Allow", Action: actions, Resource: "*"})
}

// Trust is a role trust policy letting the given principals (IAM user or
// role ARNs) call sts:AssumeRole. Moto compares the caller's ARN with these
// strings exactly: an account root ("arn:aws:iam::<account>:root") does not
// stand for the account's users as it does on AWS, and a trust policy
// without an "AWS" principal (a "Service" one only) makes moto fail the
// AssumeRole with an internal error.
func Trust(principalARNs ...string) string {
	return Policy(Statement{Effect: "Allow", Action: []string{"sts:AssumeRole"}, Principal: map[string]any{"AWS": principalARNs}})
}

// CreateBucket creates an S3 bucket in the emulator, signed with creds.
func (s *Server) CreateBucket(t testing.TB, creds Credentials, bucket string) {
	t.Helper()
	if status, body := s.S3(t, creds, http.MethodPut, bucket, nil); status != http.StatusOK {
		t.Fatalf("moto: CreateBucket %s: HTTP %d: %s", bucket, status, body)
	}
}

// S3 sends one SigV4-signed S3 request (path-style: path is
// "<bucket>[/<key>]") to the emulator and returns the status and body. The
// helpers need no S3 client for the few objects tests touch.
func (s *Server) S3(t testing.TB, creds Credentials, method, path string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/"+strings.TrimPrefix(path, "/"), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hash, "s3", DefaultRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto: S3 %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("moto: S3 %s %s: %v", method, path, err)
	}
	return resp.StatusCode, b
}
