package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// The AWS tests run the real binary over stdio against moto_server with the
// real AWS provider (from the preinstalled mirror). Each Terraform run of
// the fixture costs seconds of provider start-up: the steps share one
// emulator and one server where they can.

// planRolePolicy is the read-only plan role's policy. "s3:HeadBucket" is
// moto's name for the HEAD of a bucket, which AWS authorizes as
// s3:ListBucket: without it the provider's refresh gets 403, takes the
// bucket for gone and plans to create it again.
var planRolePolicy = moto.Allow("s3:Get*", "s3:List*", "s3:HeadBucket", "dynamodb:Describe*", "dynamodb:List*", "ec2:Describe*", "iam:Get*", "iam:List*")

// roleSplit starts moto with IAM enforced and sets up the role split of
// the README: plangate's own user may only assume roles and ask who it is;
// the plan role reads, the apply role writes; both trust only that user.
func roleSplit(t *testing.T) (srv *moto.Server, admin *moto.Admin, server moto.User, planRole, applyRole moto.Role) {
	t.Helper()
	srv = moto.Start(t, moto.WithIAMEnforcement(moto.BootstrapActions))
	admin = srv.Admin(t)
	server = admin.CreateUser("plangate-server", moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity"))
	planRole = admin.CreateRole("plangate-plan", moto.Trust(server.ARN), planRolePolicy)
	applyRole = admin.CreateRole("plangate-apply", moto.Trust(server.ARN), moto.Allow("s3:*", "dynamodb:*", "ec2:*", "iam:*"))
	return srv, admin, server, planRole, applyRole
}

// awsStack is one stack of an AWS project: a copy of fixtures/aws/stack
// whose resources are named after name.
type awsStack struct {
	name     string // stack name, and prefix of the fixture's resource names
	awsBlock string // the body of its aws block
	backend  string // a backend block for the copy, "" for local state
}

// awsProject writes a plangate project of AWS stacks with one approver and
// returns its dir, config path, and the approver's key.
func awsProject(t *testing.T, srv *moto.Server, stacks ...awsStack) (dir, cfg, key string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "proj")
	var hcl strings.Builder
	// The provider comes from the preinstalled mirror that plangate.hcl
	// names: plangate writes Terraform's CLI config itself.
	fmt.Fprintf(&hcl, "state_dir = \".plangate\"\nprovider_mirror = %q\n", moto.ProviderMirror(t))
	for _, s := range stacks {
		stackDir := filepath.Join(dir, s.name)
		tftest.CopyDir(t, filepath.Join(tftest.RepoRoot(t), "fixtures", "aws", "stack"), stackDir)
		vars := fmt.Sprintf("endpoint_url = %q\nname = %q\n", srv.URL, "pg-"+s.name)
		require.NoError(t, os.WriteFile(filepath.Join(stackDir, "emulator.tfvars"), []byte(vars), 0o644))
		if s.backend != "" {
			require.NoError(t, os.WriteFile(filepath.Join(stackDir, "backend.tf"), []byte(s.backend), 0o644))
		}
		fmt.Fprintf(&hcl, `
stack %q {
  dir       = %q
  var_files = [%q]
  variables = ["ami", "environment"]
  aws {
%s
  }
}
`, s.name, s.name, s.name+"/emulator.tfvars", s.awsBlock)
	}
	cfg = filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(hcl.String()), 0o644))

	key = filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	block := string(out[strings.Index(string(out), "approver \"oncall\" {"):])
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + block)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return dir, cfg, key
}

// awsServerEnv is the whole environment of `plangate serve` for the AWS
// tests: the server's own keys (the only AWS credentials it has), the
// test-only Terraform CLI config with the provider mirror, nothing else of
// the developer's.
func awsServerEnv(t *testing.T, creds moto.Credentials) []string {
	t.Helper()
	terraform := tftest.Find(t)
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		tfbin.EnvVar + "=" + terraform,
		// A CLI config of the server's own is never passed on: this one
		// would leave Terraform no way to install the provider.
		"TF_CLI_CONFIG_FILE=" + emptyInstallConfig(t),
		"CHECKPOINT_DISABLE=1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

func (r *rpc) initialize() {
	r.t.Helper()
	r.request("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "aws-e2e", "version": "1"}})
	r.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
}

// approve runs `plangate approve --yes` and returns the token.
func approve(t *testing.T, cfg, key, id string) (token, out string) {
	t.Helper()
	b, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", id).CombinedOutput()
	require.NoError(t, err, string(b))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	token = lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "pgt1."), string(b))
	return token, string(b)
}

func structured(t *testing.T, res map[string]any) map[string]any {
	t.Helper()
	sc, ok := res["structuredContent"].(map[string]any)
	require.True(t, ok, "no structured content: %s", resultText(res))
	return sc
}

// planOK calls plan_change and requires a plan awaiting approval.
func planOK(t *testing.T, r *rpc, stack string, vars map[string]any) (id string, sum map[string]any, text string) {
	t.Helper()
	args := map[string]any{"stack": stack}
	if vars != nil {
		args["variables"] = vars
	}
	res := r.callTool("plan_change", args)
	require.NotEqual(t, true, res["isError"], resultText(res))
	sum = structured(t, res)
	require.Equal(t, "awaiting_approval", sum["status"], resultText(res))
	return sum["plan_id"].(string), sum, resultText(res)
}

func applyOK(t *testing.T, r *rpc, id, token string) map[string]any {
	t.Helper()
	res := r.callTool("apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	require.NotEqual(t, true, res["isError"], resultText(res))
	out := structured(t, res)
	require.Equal(t, "applied", out["status"], resultText(res))
	return out
}

func counts(sum map[string]any) (add, change, destroy int) {
	c := sum["counts"].(map[string]any)
	return int(c["add"].(float64)), int(c["change"].(float64)), int(c["destroy"].(float64))
}

func deletedAddrs(sum map[string]any) []string {
	var out []string
	for _, d := range sum["deleted"].([]any) {
		out = append(out, d.(map[string]any)["address"].(string))
	}
	return out
}

// The whole AWS loop through plangate with IAM enforced by the emulator:
// the server's own user may only assume roles; plans run as the read-only
// plan role (the fixture's aws_caller_identity says so), applies as the
// apply role, assumed only after approval. Creation, an in-place update
// with drift made outside Terraform, an AMI change that replaces the
// instance, and the IAM role removed from the configuration.
func TestAWSLoopWithRoleSplit(t *testing.T) {
	t.Parallel()
	srv, admin, server, planRole, applyRole := roleSplit(t)

	dir, cfg, key := awsProject(t, srv, awsStack{name: "app", awsBlock: fmt.Sprintf(`
    region         = "us-east-1"
    account_id     = %q
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q`, moto.DefaultAccountID, planRole.ARN, applyRole.ARN, srv.URL)})
	r := serveWithEnv(t, dir, awsServerEnv(t, server.Creds))
	r.initialize()

	// 1. Creation, planned as the plan role.
	id, sum, text := planOK(t, r, "app", nil)
	planARN := "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/plangate-plan/plangate-plan-" + id[:8]
	assert.Equal(t, map[string]any{"account": moto.DefaultAccountID, "arn": planARN, "role_arn": planRole.ARN, "assumed_by": server.ARN}, sum["aws"])
	add, change, destroy := counts(sum)
	assert.Equal(t, []int{4, 0, 0}, []int{add, change, destroy})
	assert.Contains(t, text, "AWS: account "+moto.DefaultAccountID+" as "+planARN)
	// Terraform itself ran as the plan role: the fixture's caller identity.
	assert.Contains(t, text, `caller_arn  = "`+planARN+`"`)

	token, approveOut := approve(t, cfg, key, id)
	assert.Contains(t, approveOut, "AWS: account "+moto.DefaultAccountID, "the human sees the account before signing")
	applied := applyOK(t, r, id, token)
	applyARN := "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/plangate-apply/plangate-apply-" + id[:8]
	assert.Equal(t, applyARN, applied["aws"].(map[string]any)["arn"], "the apply ran as the apply role")

	state := r.callTool("show_stack", map[string]any{"stack": "app"})
	require.NotEqual(t, true, state["isError"], resultText(state))
	assert.Contains(t, resultText(state), "aws_instance.web")
	assert.Contains(t, resultText(state), "assumed-role/plangate-plan/plangate-read-app", "state is read as the plan role")

	// 2. Drift: a human retags the role outside Terraform. The next plan
	// (an in-place update of every resource's Environment tag) reports it
	// apart from its own changes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := admin.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("pg-app-app"), Tags: []iamtypes.Tag{{Key: aws.String("Owner"), Value: aws.String("someone-by-hand")}}})
	require.NoError(t, err)
	id, sum, text = planOK(t, r, "app", map[string]any{"environment": "staging"})
	add, change, destroy = counts(sum)
	assert.Equal(t, []int{0, 4, 0}, []int{add, change, destroy})
	assert.EqualValues(t, 0, sum["deletions"])
	drift, _ := sum["drift"].([]any)
	require.Len(t, drift, 1, text)
	assert.Equal(t, "aws_iam_role.app", drift[0].(map[string]any)["address"])
	assert.Contains(t, text, "Drift (changed outside Terraform, not part of this plan's actions): 1")
	// The diff is rendered with the AWS provider's schemas, as terraform
	// show renders it (a map's keys quoted, its unchanged elements
	// counted), and rendered so again for the approver from the schemas
	// kept beside the plan.
	retag := `~ "Environment" = "test" -> "staging"`
	assert.Contains(t, text, retag)
	assert.Contains(t, text, "# (1 unchanged element hidden)")
	assert.FileExists(t, filepath.Join(dir, ".plangate", "plans", id, "schema.json"))
	token, approveOut = approve(t, cfg, key, id)
	assert.Contains(t, approveOut, retag)
	applyOK(t, r, id, token)

	// 3. A new AMI replaces the instance: one deletion.
	vars := map[string]any{"environment": "staging", "ami": "ami-12c6146b"}
	id, sum, text = planOK(t, r, "app", vars)
	add, change, destroy = counts(sum)
	assert.Equal(t, []int{1, 0, 1}, []int{add, change, destroy})
	assert.EqualValues(t, 1, sum["deletions"])
	assert.Equal(t, []string{"aws_instance.web"}, deletedAddrs(sum))
	assert.Contains(t, text, "DELETES 1 (aws_instance.web, replaced)")
	token, _ = approve(t, cfg, key, id)
	applyOK(t, r, id, token)

	// 4. The IAM role removed from the configuration: one deletion.
	require.NoError(t, os.Remove(filepath.Join(dir, "app", "iam.tf")))
	id, sum, text = planOK(t, r, "app", vars)
	add, change, destroy = counts(sum)
	assert.Equal(t, []int{0, 0, 1}, []int{add, change, destroy})
	assert.Equal(t, []string{"aws_iam_role.app"}, deletedAddrs(sum))
	assert.Contains(t, text, "DELETES 1 (aws_iam_role.app, deleted)")
	token, _ = approve(t, cfg, key, id)
	applyOK(t, r, id, token)

	state = r.callTool("show_stack", map[string]any{"stack": "app"})
	var view struct {
		Resources []struct{ Address string } `json:"resources"`
	}
	b, _ := json.Marshal(structured(t, state))
	require.NoError(t, json.Unmarshal(b, &view))
	var addrs []string
	for _, res := range view.Resources {
		addrs = append(addrs, res.Address)
	}
	sort.Strings(addrs)
	assert.Equal(t, []string{"aws_dynamodb_table.items", "aws_instance.web", "aws_s3_bucket.data", "data.aws_caller_identity.current"}, addrs)

	// The audit log names who planned and who applied; no credential
	// reaches the log, the plan records or the server's output.
	out, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	// Each event of the last plan names the identity of its step.
	events := auditEvents(string(out), id)
	role := "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/"
	assert.Contains(t, events["plan_created"], "aws="+role+"plangate-plan/plangate-plan-"+id[:8]+" ")
	for _, name := range []string{"apply_started", "applied"} {
		assert.Contains(t, events[name], "aws="+role+"plangate-apply/plangate-apply-"+id[:8]+" ", name)
	}
	require.NoError(t, r.stdin.Close())
	for line := range r.lines {
		r.all = append(r.all, line)
	}
	_ = r.cmd.Wait()
	texts := []string{strings.Join(r.all, "\n"), r.stderr.String(), string(out)}
	assertNoSecret(t, server.Creds.SecretAccessKey, filepath.Join(dir, ".plangate"), texts...)
	// The roles' temporary keys (moto's start with ASIA, as AWS's do) are
	// never shown either. (server/aws_test.go checks their secrets.)
	for _, text := range texts {
		assert.NotRegexp(t, `ASIA[A-Z0-9]{16}`, text)
	}
}

// assertNoSecret fails if secret occurs in any file under dir or any text.
func assertNoSecret(t *testing.T, secret, dir string, texts ...string) {
	t.Helper()
	for i, s := range texts {
		assert.NotContains(t, s, secret, "text %d holds a credential", i)
	}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "providers" {
			return filepath.SkipDir // provider binaries (links into the mirror)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(b), secret, "%s holds a credential", p)
		return nil
	}))
}

// The account guard and the role split, refused or denied: a plan whose
// credentials are in another account than account_id never runs; an apply
// whose apply role is in another account than the plan's is refused before
// Terraform starts (tokens unspent). (An aws block without both roles is
// a config error: config's tests.)
func TestAWSAccountGuardAndRoleSplitRefusals(t *testing.T) {
	t.Parallel()
	srv, _, server, planRole, applyRole := roleSplit(t)
	const otherAccount = "210987654321"
	dir, cfg, key := awsProject(t, srv,
		awsStack{name: "wrongacct", awsBlock: fmt.Sprintf(`
    region         = "us-east-1"
    account_id     = %q
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q`, otherAccount, planRole.ARN, applyRole.ARN, srv.URL)},
		awsStack{name: "crossapply", awsBlock: fmt.Sprintf(`
    region         = "us-east-1"
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q`, planRole.ARN, "arn:aws:iam::"+otherAccount+":role/plangate-apply", srv.URL)},
	)
	r := serveWithEnv(t, dir, awsServerEnv(t, server.Creds))
	r.initialize()

	stacks := resultText(r.callTool("list_stacks", map[string]any{}))
	assert.Contains(t, stacks, "aws: region us-east-1, account "+otherAccount+" only, plans as "+planRole.ARN)

	// account_id differs: refused before Terraform, nothing recorded, audited.
	res := r.callTool("plan_change", map[string]any{"stack": "wrongacct"})
	require.Equal(t, true, res["isError"], resultText(res))
	msg := resultText(res)
	assert.Contains(t, msg, "refusing to plan: nothing ran")
	assert.Contains(t, msg, "in account "+moto.DefaultAccountID+", but the stack's aws block expects account "+otherAccount)
	list := structured(t, r.callTool("list_plans", map[string]any{"stack": "wrongacct"}))
	assert.Empty(t, list["plans"])
	_, err := os.Stat(filepath.Join(dir, ".plangate", "terraform", "wrongacct"))
	assert.True(t, os.IsNotExist(err), "terraform never ran for the refused plan")

	// The apply role lives in another account than the plan was made in.
	crossID, _, _ := planOK(t, r, "crossapply", nil)
	crossToken, _ := approve(t, cfg, key, crossID)
	res = r.callTool("apply_plan", map[string]any{"plan_id": crossID, "approval_tokens": []string{crossToken}})
	require.Equal(t, true, res["isError"], resultText(res))
	msg = resultText(res)
	assert.Contains(t, msg, "the plan was made in AWS account "+moto.DefaultAccountID)
	assert.Contains(t, msg, "are in account "+otherAccount)
	assert.Contains(t, msg, "approval tokens were not used")
	plans := structured(t, r.callTool("list_plans", map[string]any{"stack": "crossapply"}))["plans"].([]any)
	require.Len(t, plans, 1)
	assert.Equal(t, "awaiting_approval", plans[0].(map[string]any)["status"], "nothing ran: the plan still awaits")

	b, err := exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(b))
	assert.Contains(t, string(b), "plan_refused")
	assert.Contains(t, string(b), "stack=wrongacct")
	cross := auditEvents(string(b), crossID)
	assert.Contains(t, cross, "apply_refused")
	assert.NotContains(t, cross, "apply_started", "the cross-account apply never started")
}

// emptyInstallConfig is a Terraform CLI config that allows no provider
// installation at all: were plangate to pass the server's own on,
// nothing could be installed.
func emptyInstallConfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "server.tfrc")
	require.NoError(t, os.WriteFile(p, []byte("provider_installation {\n}\n"), 0o600))
	return p
}

// auditEvents maps the event names of one plan's lines in `plangate audit`
// output to those lines.
func auditEvents(out, planID string) map[string]string {
	events := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 3 && strings.Contains(line, " plan="+planID+" ") {
			events[f[2]] = line
		}
	}
	return events
}

// Remote state in the emulator's S3 with S3-native locking: plangate
// initialises the backend with the guard's session; a plan while
// another run holds the lock names the holder and records nothing; once
// the lock is gone the plan runs. (Moto cannot enforce IAM on Terraform's
// S3 backend: see internal/moto.)
func TestAWSRemoteStateLockHolder(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	admin := srv.Admin(t)
	server := admin.CreateUser("plangate-server", "")
	planRole := admin.CreateRole("plangate-plan", moto.Trust(server.ARN), moto.Allow("s3:*", "ec2:Describe*", "iam:Get*", "iam:List*"))
	applyRole := admin.CreateRole("plangate-apply", moto.Trust(server.ARN), moto.Allow("s3:*", "ec2:*", "iam:*"))
	const bucket = "plangate-state"
	srv.CreateBucket(t, admin.Creds, bucket)
	backend := fmt.Sprintf(`terraform {
  backend "s3" {
    bucket       = %q
    key          = %q
    region       = "us-east-1"
    use_lockfile = true
    endpoints    = { s3 = %q }

    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }
}
`, bucket, moto.StateKey, srv.URL)
	dir, _, _ := awsProject(t, srv, awsStack{name: "remote", backend: backend, awsBlock: fmt.Sprintf(`
    region         = "us-east-1"
    account_id     = %q
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q`, moto.DefaultAccountID, planRole.ARN, applyRole.ARN, srv.URL)})
	r := serveWithEnv(t, dir, awsServerEnv(t, server.Creds))
	r.initialize()

	const lockID = "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"
	lock := `{"ID":"` + lockID + `","Operation":"OperationTypeApply","Info":"","Who":"alice@build-7","Version":"1.11.0","Created":"2026-01-02T03:04:05Z","Path":"` + bucket + "/" + moto.StateKey + `"}`
	lockPath := bucket + "/" + moto.StateKey + ".tflock"
	status, body := srv.S3(t, admin.Creds, http.MethodPut, lockPath, []byte(lock))
	require.Equal(t, http.StatusOK, status, "%s", body)

	res := r.callTool("plan_change", map[string]any{"stack": "remote"})
	require.Equal(t, true, res["isError"], resultText(res))
	msg := resultText(res)
	assert.Contains(t, msg, `stack "remote": the Terraform state is locked by another run, so nothing ran: held by alice@build-7 since 2026-01-02 03:04:05 +0000 UTC`)
	assert.Contains(t, msg, "operation OperationTypeApply, lock ID "+lockID)
	assert.Contains(t, msg, "terraform force-unlock "+lockID)
	list := structured(t, r.callTool("list_plans", map[string]any{"stack": "remote"}))
	assert.Empty(t, list["plans"], "a plan that never ran is not recorded")

	status, body = srv.S3(t, admin.Creds, http.MethodDelete, lockPath, nil)
	require.Equal(t, http.StatusNoContent, status, "%s", body)
	_, sum, _ := planOK(t, r, "remote", nil)
	add, _, _ := counts(sum)
	assert.Equal(t, 4, add)
	status, _ = srv.S3(t, admin.Creds, http.MethodHead, lockPath, nil)
	assert.Equal(t, http.StatusNotFound, status, "the plan released its lock")
}
