package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/moto"
)

// check_drift on AWS, through the real binary, the real AWS provider and
// moto with IAM enforced: a stack created through plangate has no drift;
// then a human retags the IAM role and deletes the bucket with the AWS API,
// and check_drift (run as the read-only plan role) names both, the tag's
// change in the diff. The check is recorded but can never be approved or
// applied, and it still runs on a frozen stack.
func TestAWSCheckDrift(t *testing.T) {
	t.Parallel()
	srv, admin, server, planRole, applyRole := roleSplit(t)
	dir, cfg, key := awsProject(t, srv, awsStack{name: "tier", awsBlock: fmt.Sprintf(`
    region         = "us-east-1"
    account_id     = %q
    plan_role_arn  = %q
    apply_role_arn = %q
    endpoint_url   = %q`, moto.DefaultAccountID, planRole.ARN, applyRole.ARN, srv.URL)})
	r := serveWithEnv(t, dir, awsServerEnv(t, server.Creds))
	r.initialize()

	id, _, _ := planOK(t, r, "tier", nil)
	token, _ := approve(t, cfg, key, id)
	applyOK(t, r, id, token)

	checkDrift := func() (map[string]any, string) {
		t.Helper()
		res := r.callTool("check_drift", map[string]any{"stack": "tier"})
		require.NotEqual(t, true, res["isError"], resultText(res))
		return structured(t, res), resultText(res)
	}

	// 1. Just applied: nothing drifted.
	sum, text := checkDrift()
	assert.Equal(t, "No drift in tier", strings.SplitN(text, "\n", 2)[0], text)
	assert.EqualValues(t, 0, sum["changed"])
	assert.EqualValues(t, 0, sum["deleted"])
	assert.Empty(t, sum["resources"])

	// 2. A human changes a tag and deletes the bucket outside Terraform.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := admin.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("pg-tier-app"),
		Tags: []iamtypes.Tag{{Key: aws.String("Environment"), Value: aws.String("changed-by-hand")}}})
	require.NoError(t, err)
	status, body := srv.S3(t, admin.Creds, http.MethodDelete, "pg-tier-data", nil)
	require.Equal(t, http.StatusNoContent, status, string(body))

	sum, text = checkDrift()
	assert.Equal(t, "Drift in tier: 1 resource changed outside Terraform, 1 deleted outside Terraform", strings.SplitN(text, "\n", 2)[0], text)
	assert.EqualValues(t, 1, sum["changed"])
	assert.EqualValues(t, 1, sum["deleted"])
	assert.Equal(t, []any{
		map[string]any{"address": "aws_s3_bucket.data", "type": "aws_s3_bucket", "action": "delete"},
		map[string]any{"address": "aws_iam_role.app", "type": "aws_iam_role", "action": "update", "attributes": []any{"tags.Environment", "tags_all.Environment"}},
	}, sum["resources"])
	assert.Contains(t, text, "  - aws_s3_bucket.data: deleted outside Terraform")
	assert.Contains(t, text, "  ~ aws_iam_role.app: tags.Environment, tags_all.Environment")
	assert.Contains(t, text, "# aws_iam_role.app has changed")
	// Rendered with the AWS provider's schema, as Terraform renders it: a
	// map's keys quoted.
	assert.Contains(t, text, `~ "Environment" = "test" -> "changed-by-hand"`)
	assert.Contains(t, text, "# aws_s3_bucket.data has been deleted")
	planARN := "arn:aws:sts::" + moto.DefaultAccountID + ":assumed-role/plangate-plan/plangate-plan-"
	assert.Contains(t, text, "AWS: account "+moto.DefaultAccountID+" as "+planARN, "the refresh ran as the read-only plan role")
	checkID := sum["check_id"].(string)

	// 3. Never approvable: plangate approve, and apply_plan with any token.
	out, err := exec.Command(binary, "approve", "--config", cfg, "--key", key, "--yes", checkID).CombinedOutput()
	require.Error(t, err, "approve must refuse a drift check:\n%s", out)
	assert.Contains(t, string(out), "is a drift check (check_drift), not a plan: it can never be approved or applied")
	assert.NotContains(t, string(out), "pgt1.")
	res := r.callTool("apply_plan", map[string]any{"plan_id": checkID, "approval_tokens": []string{token}})
	assert.Equal(t, true, res["isError"])
	assert.Contains(t, resultText(res), "is a drift check (check_drift), not a plan")
	got := r.callTool("get_plan", map[string]any{"plan_id": checkID})
	assert.Equal(t, "drift_check", structured(t, got)["status"])

	// 4. Frozen: applies are refused, the read-only check still runs.
	out, err = exec.Command(binary, "freeze", "--config", cfg, "--reason", "incident 4411", "tier").CombinedOutput()
	require.NoError(t, err, string(out))
	sum, text = checkDrift()
	assert.EqualValues(t, 1, sum["deleted"], text)
	assert.Contains(t, text, `Frozen: stack "tier" is frozen`)
	assert.Contains(t, text, "This read-only check ran all the same.")

	// The audit log has each check with its counts.
	out, err = exec.Command(binary, "audit", "--config", cfg).CombinedOutput()
	require.NoError(t, err, string(out))
	var checks []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "drift_checked") {
			checks = append(checks, line)
		}
	}
	require.Len(t, checks, 3, string(out))
	assert.Contains(t, checks[0], "No drift in tier")
	assert.Contains(t, checks[1], "1 resource changed outside Terraform, 1 deleted outside Terraform")
	assertNoSecret(t, server.Creds.SecretAccessKey, dir+"/.plangate", text, string(out), r.stderr.String())
}
