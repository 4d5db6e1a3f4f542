package awsguard

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Session is what one plan or apply may act as.
//
// Env holds secrets: pass it to Terraform's process environment only
// (through Apply). Session never prints, logs or marshals it: String,
// GoString, LogValue and MarshalJSON show the identity alone.
type Session struct {
	// Identity is who Terraform acts as: the assumed role's session
	// (arn:aws:sts::<account>:assumed-role/<role>/plangate-plan-<prefix>)
	// when the aws block names a role, else plangate's own identity.
	Identity Identity
	// Base is plangate's own identity, the one that assumed the role (the
	// same as Identity without a role).
	Base Identity
	// RoleARN is the role assumed, "" for none.
	RoleARN string
	// Expires is when the credentials in Env stop working (zero: not known
	// to expire).
	Expires time.Time
	// Env is the environment Terraform's process needs: AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (temporary credentials),
	// AWS_REGION and AWS_DEFAULT_REGION; and, so that Terraform cannot find
	// credentials of its own, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE
	// pointing at an empty file and AWS_EC2_METADATA_DISABLED=true. A stack
	// whose provider block names a profile therefore fails instead of acting
	// as someone else.
	Env map[string]string
}

// sessionEnv is Session.Env for creds.
func sessionEnv(creds aws.Credentials, region string) map[string]string {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":           creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       creds.SecretAccessKey,
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          region,
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	if creds.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = creds.SessionToken
	}
	return env
}

// strippedVars are the variables through which an AWS SDK or Terraform's
// AWS provider could find credentials, a profile, a role, a region or an
// account other than the session's. Prefixes end in "_".
var strippedVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_SHARED_CONFIG_FILE", "AWS_SDK_LOAD_CONFIG",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONTAINER_", "AWS_EC2_METADATA_",
	"AWS_SSO_", "AWS_VAULT", "AWS_LOGIN_",
}

func stripped(name string) bool {
	for _, v := range strippedVars {
		if name == v || (strings.HasSuffix(v, "_") && strings.HasPrefix(name, v)) {
			return true
		}
	}
	return false
}

// Apply returns a copy of env (a process environment, such as the
// server's) with every AWS credential, profile, role and region variable
// removed and the session's Env added: pass the result to Terraform. Other
// AWS_* settings (AWS_CA_BUNDLE, AWS_ENDPOINT_URL_*, retries) stay. env is
// not modified.
func (s *Session) Apply(env map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(s.Env))
	for k, v := range env {
		if !stripped(k) {
			out[k] = v
		}
	}
	for k, v := range s.Env {
		out[k] = v
	}
	return out
}

// NoCredentials returns a copy of env with every AWS credential, profile,
// role and region variable removed and the shared files pointed at
// /dev/null: for a Terraform process that needs no cloud at all (show of
// a plan file reads the file and the providers' schemas), which must not
// get plangate's own credentials either.
func NoCredentials(env map[string]string) map[string]string {
	out := make(map[string]string, len(env)+3)
	for k, v := range env {
		if !stripped(k) {
			out[k] = v
		}
	}
	out["AWS_CONFIG_FILE"] = os.DevNull
	out["AWS_SHARED_CREDENTIALS_FILE"] = os.DevNull
	out["AWS_EC2_METADATA_DISABLED"] = "true"
	return out
}

// String shows the identity alone.
func (s Session) String() string {
	if s.RoleARN != "" {
		return fmt.Sprintf("AWS %s (account %s, role %s assumed by %s)", s.Identity.ARN, s.Identity.Account, s.RoleARN, s.Base.ARN)
	}
	return fmt.Sprintf("AWS %s (account %s)", s.Identity.ARN, s.Identity.Account)
}

// GoString keeps %#v from printing Env.
func (s Session) GoString() string { return "awsguard.Session{" + s.String() + "}" }

// Format makes every fmt verb (%v, %+v, %s, %q...) print String.
func (s Session) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue shows the identity alone in slog records.
func (s Session) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("account", s.Identity.Account), slog.String("arn", s.Identity.ARN)}
	if s.RoleARN != "" {
		attrs = append(attrs, slog.String("role", s.RoleARN), slog.String("assumed_by", s.Base.ARN))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the identity alone.
func (s Session) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Identity Identity  `json:"identity"`
		Base     Identity  `json:"base"`
		RoleARN  string    `json:"role_arn,omitempty"`
		Expires  time.Time `json:"expires,omitzero"`
	}{s.Identity, s.Base, s.RoleARN, s.Expires})
}
