package doctor

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustPolicy(t *testing.T, doc string) *policyDoc {
	t.Helper()
	p, err := parsePolicy(doc, "inline policy p")
	require.NoError(t, err)
	return p
}

func TestBeyondRead(t *testing.T) {
	lock := stateLock{bucket: "tf-state", table: "tf-lock"}
	for _, tc := range []struct {
		name, doc string
		want      []string // substrings of the findings; none means read-only
	}{
		{"reads only", `{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","ec2:Describe*","s3:HeadBucket"],"Resource":"*"}]}`, nil},
		{"a single statement, a single action", `{"Statement":{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}}`, nil},
		{"state bucket and lock table writes", `{"Statement":[
			{"Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::tf-state/app/*"},
			{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:DeleteItem"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/tf-lock"}]}`, nil},
		{"writes to another bucket", `{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::other/*"}]}`, []string{`"s3:PutObject"`}},
		{"writes anywhere", `{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`, []string{`"s3:PutObject"`}},
		{"star", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, []string{"s3:DeleteBucket", `every action ("*"`}},
		{"s3 star names DeleteBucket", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, []string{`s3:DeleteBucket (through "s3:*"`, `"s3:*" in inline policy p`}},
		{"DeleteBucket in any case", `{"Statement":[{"Effect":"Allow","Action":"S3:deletebucket","Resource":"*"}]}`, []string{"s3:DeleteBucket"}},
		{"a deny everywhere removes DeleteBucket", `{"Statement":[{"Effect":"Allow","Action":"s3:Delete*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`, []string{`"s3:Delete*"`}},
		{"NotAction", `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, []string{"every action but iam:*", "s3:DeleteBucket"}},
		{"a Get prefix that is not one", `{"Statement":[{"Effect":"Allow","Action":"s3:G*","Resource":"*"}]}`, []string{`"s3:G*"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := beyondRead([]*policyDoc{mustPolicy(t, tc.doc)}, lock)
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			joined := strings.Join(got, "\n")
			for _, w := range tc.want {
				assert.Contains(t, joined, w)
			}
			if tc.name == "a deny everywhere removes DeleteBucket" {
				assert.NotContains(t, joined, "s3:DeleteBucket (through")
			}
		})
	}
}

func TestParsePolicyURLEncoded(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`
	p := mustPolicy(t, url.QueryEscape(doc))
	assert.NotEmpty(t, allowedBy([]*policyDoc{p}, "sts:AssumeRole"))
	assert.Empty(t, allowedBy([]*policyDoc{p}, "s3:GetObject"))
}

func TestTrust(t *testing.T) {
	me := identityOf("arn:aws:iam::123456789012:user/plangate")
	for _, tc := range []struct {
		name, doc string
		status    Status
		want      string
	}{
		{"plangate alone", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/plangate"},"Action":"sts:AssumeRole"}]}`, StatusOK, "only plangate"},
		{"someone else too", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/plangate","arn:aws:iam::123456789012:user/mallory"]},"Action":"sts:AssumeRole"}]}`, StatusFail, "user/mallory"},
		{"anyone", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`, StatusFail, `anyone ("*")`},
		{"the account", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`, StatusFail, "account 123456789012"},
		{"a service", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, StatusFail, "Service principal ec2.amazonaws.com"},
		{"not plangate", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/other"},"Action":"sts:AssumeRole"}]}`, StatusFail, "user/other"},
		{"nobody", `{"Statement":[]}`, StatusFail, "does not trust plangate"},
		{"a deny is no trust", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/plangate"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`, StatusOK, "only plangate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := trustCheck("trust", roleFacts{arn: "arn:aws:iam::123456789012:role/r", trust: mustPolicy(t, tc.doc)}, me)
			assert.Equal(t, tc.status, c.Status, c.Fact)
			assert.Contains(t, c.Fact, tc.want)
		})
	}
}

func TestIdentityOfAssumedRole(t *testing.T) {
	me := identityOf("arn:aws:sts::123456789012:assumed-role/plangate-server/i-0abc")
	assert.Equal(t, "arn:aws:iam::123456789012:role/plangate-server", me.principal)
	assert.True(t, me.is("arn:aws:iam::123456789012:role/service/plangate-server"), "a role with a path")
	assert.False(t, me.is("arn:aws:iam::123456789012:role/other"))
	assert.False(t, me.is("arn:aws:iam::999999999999:role/plangate-server"))
}

func TestGlob(t *testing.T) {
	assert.True(t, matchAction("s3:*", "s3:DeleteBucket"))
	assert.True(t, matchAction("s3:Delete?ucket", "S3:DELETEBUCKET"))
	assert.True(t, matchAction("*", "sts:AssumeRole"))
	assert.False(t, matchAction("sts:AssumeRoleWith*", "sts:AssumeRole"))
	assert.False(t, matchAction("s3:Get*", "s3:DeleteBucket"))
}
