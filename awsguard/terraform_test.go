package awsguard_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tftest"
)

// One real init, plan and apply of fixtures/aws/stack with the AWS provider
// against moto enforcing IAM, with the credentials of Guard.Plan and
// Guard.Apply: the plan runs as the read-only plan role (the fixture's
// aws_caller_identity shows it), an apply of the saved plan with the plan
// role's credentials is denied, and the same plan applied with the apply
// role's credentials creates everything. The server's own keys sit in the
// environment handed to Session.Apply and must not be what Terraform uses
// (they may only assume roles).
func TestTerraformWithGuardCredentials(t *testing.T) {
	t.Parallel()
	terraform := tftest.Find(t)
	srv := moto.Start(t, moto.WithIAMEnforcement(moto.BootstrapActions))
	admin := srv.Admin(t)
	server := admin.CreateUser("plangate-server", moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity"))
	planRole := admin.CreateRole("plangate-plan", moto.Trust(server.ARN), moto.Allow(
		"s3:Get*", "s3:List*", "dynamodb:Describe*", "dynamodb:List*", "ec2:Describe*", "iam:Get*", "iam:List*"))
	applyRole := admin.CreateRole("plangate-apply", moto.Trust(server.ARN), moto.Allow(
		"s3:*", "dynamodb:*", "ec2:*", "iam:*"))

	cfg := awsBlock(srv.URL)
	cfg.PlanRoleARN, cfg.ApplyRoleARN = planRole.ARN, applyRole.ARN
	guard := awsguard.New(cfg, awsguard.WithBaseEnv(envWith(t, server.Creds)))

	dir := moto.FixtureStack(t)
	// The server's environment: its own credentials and profile included.
	serverEnv := terraformEnv(t)
	serverEnv["AWS_PROFILE"] = "server-admin"
	for k, v := range server.Creds.Env() {
		serverEnv[k] = v
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	planSession, err := guard.Plan(ctx, planID)
	require.NoError(t, err)
	planEnv := planSession.Apply(serverEnv)
	tf := func(env map[string]string, dir string, args ...string) (string, error) {
		return runTerraform(ctx, terraform, dir, env, args...)
	}
	mustTF := func(env map[string]string, args ...string) string {
		t.Helper()
		return mustTerraform(t, ctx, terraform, dir, env, args...)
	}

	mustTF(planEnv, "init", "-no-color", "-input=false")
	mustTF(planEnv, "plan", "-no-color", "-input=false", "-out=plan.tfplan", "-var", "endpoint_url="+srv.URL)
	var plan struct {
		PlannedValues struct {
			Outputs map[string]struct {
				Value any `json:"value"`
			} `json:"outputs"`
		} `json:"planned_values"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustTF(planEnv, "show", "-json", "plan.tfplan")), &plan))
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/plangate-plan/plangate-plan-0193f2c4", plan.PlannedValues.Outputs["caller_arn"].Value,
		"the plan must run as the plan role")
	assert.Equal(t, moto.DefaultAccountID, plan.PlannedValues.Outputs["account_id"].Value)

	// The plan role cannot apply: same saved plan, in a copy of the working
	// directory so that the failed apply leaves the real one untouched.
	denied := filepath.Join(t.TempDir(), "denied")
	tftest.CopyDir(t, dir, denied)
	require.NoError(t, os.Symlink(filepath.Join(dir, ".terraform"), filepath.Join(denied, ".terraform")))
	out, err := tf(planEnv, denied, "apply", "-no-color", "-input=false", "plan.tfplan")
	require.Error(t, err, "an apply with the plan role's credentials must fail:\n%s", out)
	assert.Contains(t, out, "403", "the plan role's apply must be refused by IAM:\n%s", out)
	assert.Contains(t, out, "plangate-plan", "the refusal names the plan role's session:\n%s", out)

	applySession, err := guard.Apply(ctx, planID)
	require.NoError(t, err)
	require.NoError(t, awsguard.CheckApplyAccount(planSession.Identity, applySession))
	mustTF(applySession.Apply(serverEnv), "apply", "-no-color", "-input=false", "plan.tfplan")

	list := strings.Fields(mustTF(applySession.Apply(serverEnv), "state", "list"))
	sort.Strings(list)
	assert.Equal(t, []string{
		"aws_dynamodb_table.items", "aws_iam_role.app", "aws_instance.web", "aws_s3_bucket.data", "data.aws_caller_identity.current",
	}, list)
}

// terraformEnv is a minimal environment for Terraform: PATH, an empty HOME,
// the test-only CLI configuration (the provider mirror), no prompts.
func terraformEnv(t *testing.T) map[string]string {
	return map[string]string{
		"PATH":               os.Getenv("PATH"),
		"HOME":               t.TempDir(),
		"TF_CLI_CONFIG_FILE": moto.TerraformCLIConfig(t),
		"TF_IN_AUTOMATION":   "1",
		"TF_INPUT":           "0",
		"CHECKPOINT_DISABLE": "1",
	}
}

func runTerraform(ctx context.Context, terraform, dir string, env map[string]string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, terraform, args...)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustTerraform(t *testing.T, ctx context.Context, terraform, dir string, env map[string]string, args ...string) string {
	t.Helper()
	out, err := runTerraform(ctx, terraform, dir, env, args...)
	require.NoError(t, err, "terraform %s:\n%s", strings.Join(args, " "), out)
	return out
}
