package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/moto"
)

// guardFor is the guard of an aws block against srv whose own
// credentials are creds, and nothing of the developer's.
func guardFor(t *testing.T, srv *moto.Server, plan, apply moto.Role, creds moto.Credentials) (*config.Stack, *awsguard.Guard) {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{"HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none")}
	require.NoError(t, os.WriteFile(filepath.Join(home, "none"), nil, 0o600))
	for k, v := range creds.Env() {
		env[k] = v
	}
	st := &config.Stack{Name: "app", Dir: t.TempDir(), AWS: &config.AWS{
		Region: moto.DefaultRegion, AccountID: moto.DefaultAccountID,
		PlanRoleARN: plan.ARN, ApplyRoleARN: apply.ARN, EndpointURL: srv.URL,
	}}
	return st, awsguard.New(st.AWS, awsguard.WithBaseEnv(env))
}

func byName(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

// iamReader may do what doctor does: read IAM and ask who it is; and what
// plangate does: assume roles.
var iamReader = moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity", "iam:Get*", "iam:List*")

// The roles of a stack, read from IAM (moto, enforcing IAM) with the
// server's own credentials: a plan role that may delete buckets (through
// an attached managed policy too) and an apply role that may assume other
// roles and trusts someone else are flagged; narrow roles pass; a server
// identity that may not read IAM gets "unknown" and is told which
// permissions it needs.
func TestAWSRoles(t *testing.T) {
	srv := moto.Start(t, moto.WithIAMEnforcement(moto.BootstrapActions))
	admin := srv.Admin(t)
	server := admin.CreateUser("plangate-server", iamReader)
	other := admin.CreateUser("someone-else", moto.Allow("sts:AssumeRole"))
	readOnly := moto.Allow("s3:Get*", "s3:List*", "s3:HeadBucket", "ec2:Describe*", "iam:Get*", "iam:List*")

	goodPlan := admin.CreateRole("good-plan", moto.Trust(server.ARN), readOnly)
	goodApply := admin.CreateRole("good-apply", moto.Trust(server.ARN), moto.Allow("s3:*", "ec2:*"))

	badPlan := admin.CreateRole("bad-plan", moto.Trust(server.ARN), moto.Allow("s3:Get*", "s3:List*", "s3:DeleteBucket"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	managed, err := admin.IAM.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String("plan-extra"),
		PolicyDocument: aws.String(moto.Allow("ec2:Describe*", "ec2:TerminateInstances")),
	})
	require.NoError(t, err)
	_, err = admin.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(badPlan.Name), PolicyArn: managed.Policy.Arn})
	require.NoError(t, err)
	badApply := admin.CreateRole("bad-apply", moto.Trust(server.ARN, other.ARN), moto.Allow("s3:*", "sts:AssumeRole"))

	t.Run("narrow roles pass", func(t *testing.T) {
		st, g := guardFor(t, srv, goodPlan, goodApply, server.Creds)
		checks := awsChecks(ctx, st, g)
		require.Len(t, checks, 5)
		for _, c := range checks {
			assert.Equal(t, StatusOK, c.Status, "%s: %s", c.Name, c.Fact)
		}
		assert.Contains(t, byName(checks)["stack app: apply role assumable only by plangate"].Fact, server.ARN)
	})

	t.Run("a plan role that may delete buckets and an apply role that may assume roles are flagged", func(t *testing.T) {
		st, g := guardFor(t, srv, badPlan, badApply, server.Creds)
		m := byName(awsChecks(ctx, st, g))

		plan := m["stack app: plan role only reads"]
		assert.Equal(t, StatusFail, plan.Status)
		assert.Contains(t, plan.Fact, "s3:DeleteBucket")
		assert.Contains(t, plan.Fact, "ec2:TerminateInstances", "the attached managed policy is read too")
		assert.Contains(t, plan.Fact, "managed policy "+aws.ToString(managed.Policy.Arn))
		assert.NotContains(t, plan.Fact, `"s3:Get*"`, "reads are not flagged")
		assert.NotEmpty(t, plan.Fix)

		assert.Equal(t, StatusOK, m["stack app: plan role cannot assume roles"].Status, m["stack app: plan role cannot assume roles"].Fact)

		assume := m["stack app: apply role cannot assume roles"]
		assert.Equal(t, StatusFail, assume.Status)
		assert.Contains(t, assume.Fact, "sts:AssumeRole")
		assert.Contains(t, assume.Fact, badApply.ARN)

		trust := m["stack app: apply role assumable only by plangate"]
		assert.Equal(t, StatusFail, trust.Status)
		assert.Contains(t, trust.Fact, other.ARN)
		assert.Equal(t, StatusOK, m["stack app: plan role trusts only plangate"].Status)
	})

	t.Run("an identity that may not read IAM is told which permissions it needs", func(t *testing.T) {
		blind := admin.CreateUser("plangate-blind", moto.Allow("sts:AssumeRole", "sts:GetCallerIdentity"))
		st, g := guardFor(t, srv, goodPlan, goodApply, blind.Creds)
		checks := awsChecks(ctx, st, g)
		require.Len(t, checks, 5)
		for _, c := range checks {
			assert.Equal(t, StatusUnknown, c.Status, "%s: %s", c.Name, c.Fact)
			assert.False(t, c.OK)
			assert.Contains(t, c.Fact, "iam:GetRole")
			assert.Contains(t, c.Fix, blind.ARN)
			assert.Contains(t, c.Fix, "iam:GetRolePolicy")
			assert.Contains(t, c.Fix, "iam:GetPolicyVersion")
		}
	})

	t.Run("a role trusting the whole account or anyone is flagged", func(t *testing.T) {
		wide := admin.CreateRole("wide-apply", moto.Trust("arn:aws:iam::"+moto.DefaultAccountID+":root", "*"), moto.Allow("s3:*"))
		st, g := guardFor(t, srv, goodPlan, wide, server.Creds)
		trust := byName(awsChecks(ctx, st, g))["stack app: apply role assumable only by plangate"]
		assert.Equal(t, StatusFail, trust.Status)
		assert.Contains(t, trust.Fact, "account "+moto.DefaultAccountID)
		assert.True(t, strings.Contains(trust.Fact, `anyone ("*")`), trust.Fact)
	})
}
