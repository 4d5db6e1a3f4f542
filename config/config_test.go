package config

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys in testdata/full/plangate.hcl come from these seeds.
var (
	oncallKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	leadKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
)

func TestLoadFullConfig(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("testdata", "full", "plangate.hcl"))
	require.NoError(t, err)
	base := filepath.Dir(path)

	cfg, err := Load(path)
	require.NoError(t, err)

	assert.Equal(t, path, cfg.Path)
	assert.Equal(t, filepath.Join(base, "state", "plangate"), cfg.StateDir)
	assert.Equal(t, []string{"web", "worker"}, cfg.StackNames())

	web, ok := cfg.Stack("web")
	require.True(t, ok)
	assert.Equal(t, "web", web.Name)
	assert.Equal(t, filepath.Join(base, "infra", "web"), web.Dir)
	assert.Equal(t, "Public web tier", web.Description)
	assert.Equal(t, []string{"replicas", "image_tag"}, web.Variables)
	assert.Equal(t, []string{
		filepath.Join(base, "vars", "prod.tfvars"),
		filepath.Join(base, "vars", "common.tfvars"),
	}, web.VarFiles)
	assert.Equal(t, "prod", web.Workspace)
	assert.Equal(t, Policy{
		Approvals:           2,
		DeletionApprovals:   3,
		MaxDeletions:        10,
		MaxDeletionRatio:    0.25,
		MaxDeletionRatioSet: true,
		Protected:           []string{"aws_db_instance.main", "module.data.*"},
		PlanTTL:             30 * time.Minute,
		AllowProvisioners:   true,
		AllowExternalData:   true,
		Providers: []ProviderPattern{
			{"registry.terraform.io", "hashicorp", "*"}, {"registry.example.com", "acme", "widget"}, {"*", "*", "*"},
		},
	}, web.Policy)
	assert.Equal(t, filepath.Join(base, "infra"), cfg.ProviderMirror)
	require.NotNil(t, web.AWS)
	assert.Equal(t, "us-east-1", web.AWS.Region)
	assert.Equal(t, "123456789012", web.AWS.AccountID)
	assert.Equal(t, "prod-plan", web.AWS.Profile)
	assert.Equal(t, "arn:aws:iam::123456789012:role/plangate-plan", web.AWS.PlanRoleARN)
	assert.Equal(t, "arn:aws:iam::123456789012:role/plangate-apply", web.AWS.ApplyRoleARN)
	assert.Equal(t, "http://127.0.0.1:5000", web.AWS.EndpointURL)
	assert.Equal(t, 2*time.Hour, web.AWS.SessionDuration)
	assert.Equal(t, lineOf(t, path, `  aws {`), web.AWS.DeclRange.Start.Line)
	assert.Equal(t, path, web.DeclRange.Filename)
	assert.Equal(t, lineOf(t, path, `stack "web" {`), web.DeclRange.Start.Line)

	worker, ok := cfg.Stack("worker")
	require.True(t, ok)
	assert.Equal(t, filepath.Join(base, "infra", "worker"), worker.Dir)
	assert.Empty(t, worker.Description)
	assert.Empty(t, worker.Variables)
	assert.Empty(t, worker.VarFiles)
	assert.Equal(t, "default", worker.Workspace)
	assert.Equal(t, Policy{
		Approvals:         1,
		DeletionApprovals: 1,
		MaxDeletions:      -1,
		MaxDeletionRatio:  0.5,
		PlanTTL:           time.Hour,
		Providers:         DefaultProviders(),
	}, worker.Policy)
	assert.Nil(t, worker.AWS)

	_, ok = cfg.Stack("nope")
	assert.False(t, ok)

	require.Len(t, cfg.Approvers, 2)
	assert.Equal(t, "oncall", cfg.Approvers[0].Name)
	assert.Equal(t, oncallKey, cfg.Approvers[0].PublicKey)
	assert.Equal(t, lineOf(t, path, `approver "oncall" {`), cfg.Approvers[0].DeclRange.Start.Line)
	lead, ok := cfg.Approver("lead")
	require.True(t, ok)
	assert.Equal(t, leadKey, lead.PublicKey)
}

func TestLoadPolicyDefaults(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		want   Policy
	}{
		{
			name: "no policy block",
			want: Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1, MaxDeletionRatio: 0.5, PlanTTL: time.Hour},
		},
		{
			name:   "empty policy block",
			policy: "policy {}",
			want:   Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1, MaxDeletionRatio: 0.5, PlanTTL: time.Hour},
		},
		{
			name:   "deletion approvals follow approvals",
			policy: "policy {\n approvals = 3\n}",
			want:   Policy{Approvals: 3, DeletionApprovals: 3, MaxDeletions: -1, MaxDeletionRatio: 0.5, PlanTTL: time.Hour},
		},
		{
			name:   "zero max deletions and full ratio",
			policy: "policy {\n max_deletions = 0\n max_deletion_ratio = 1\n plan_ttl = \"168h\"\n}",
			want: Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: 0, MaxDeletionRatio: 1,
				MaxDeletionRatioSet: true, PlanTTL: 168 * time.Hour},
		},
		{
			name:   "explicit default ratio counts as set",
			policy: "policy {\n max_deletion_ratio = 0.5\n}",
			want: Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1, MaxDeletionRatio: 0.5,
				MaxDeletionRatioSet: true, PlanTTL: time.Hour},
		},
		{
			name:   "code allowed, providers emptied",
			policy: "policy {\n allow_provisioners = true\n allow_external_data = true\n providers = []\n}",
			want: Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1, MaxDeletionRatio: 0.5, PlanTTL: time.Hour,
				AllowProvisioners: true, AllowExternalData: true, Providers: []ProviderPattern{}},
		},
		{
			name:   "null means unset",
			policy: "policy {\n approvals = null\n plan_ttl = null\n}",
			want:   Policy{Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1, MaxDeletionRatio: 0.5, PlanTTL: time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, fmt.Sprintf("stack \"web\" {\n  dir = \"infra/web\"\n  %s\n}\n", tt.policy))
			cfg, err := Load(path)
			require.NoError(t, err)
			if tt.want.Providers == nil {
				tt.want.Providers = DefaultProviders()
			}
			assert.Equal(t, tt.want, cfg.Stacks[0].Policy)
		})
	}
}

func TestRatioApplies(t *testing.T) {
	tests := []struct {
		name      string
		policy    Policy
		resources int
		want      bool
	}{
		{"default ratio, small stack", Policy{MaxDeletionRatio: 0.5}, 3, false},
		{"default ratio, empty stack", Policy{MaxDeletionRatio: 0.5}, 0, false},
		{"default ratio, four resources", Policy{MaxDeletionRatio: 0.5}, 4, true},
		{"default ratio, large stack", Policy{MaxDeletionRatio: 0.5}, 1000, true},
		{"explicit ratio, small stack", Policy{MaxDeletionRatio: 0.5, MaxDeletionRatioSet: true}, 1, true},
		{"explicit ratio, large stack", Policy{MaxDeletionRatio: 0.9, MaxDeletionRatioSet: true}, 50, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.RatioApplies(tt.resources))
		})
	}
}

// A valid key that the error cases reuse where the key is not the point.
var okKey = FormatPublicKey(oncallKey)

// errorCases are config files with one mistake each. The line holding
// "# ERR" is where the error must point; "# FIRST" marks the earlier
// definition that a duplicate's message must name.
var errorCases = []struct {
	name string
	src  string
	want []string // substrings of the error besides file:line
}{
	{
		name: "syntax error",
		src: `stack "web" { # ERR
  dir = "infra/web"
`,
		want: []string{"Unclosed configuration block"},
	},
	{
		name: "unknown top-level attribute",
		src: `state_dirs = ".plangate" # ERR
`,
		want: []string{"Unsupported argument", `"state_dirs"`, `Did you mean "state_dir"?`},
	},
	{
		name: "unknown top-level block",
		src: `stacks "web" { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Unsupported block type", `Did you mean "stack"?`},
	},
	{
		name: "unknown stack attribute",
		src: `stack "web" {
  dir   = "infra/web"
  mode  = "fast" # ERR
}
`,
		want: []string{"Unsupported argument", `"mode"`},
	},
	{
		name: "unknown policy attribute",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    approval = 2 # ERR
  }
}
`,
		want: []string{"Unsupported argument", `Did you mean "approvals"?`},
	},
	{
		name: "unknown aws attribute",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region = "us-east-1"
    role   = "x" # ERR
  }
}
`,
		want: []string{"Unsupported argument", `"role"`},
	},
	{
		name: "missing dir",
		src: `stack "web" { # ERR
  description = "no dir"
}
`,
		want: []string{"Missing required argument", `"dir" is required`},
	},
	{
		name: "two policy blocks",
		src: `stack "web" {
  dir = "infra/web"
  policy { # FIRST
    approvals = 1
  }
  policy { # ERR
    approvals = 2
  }
}
`,
		want: []string{"Duplicate policy block", "Only one policy block is allowed"},
	},
	{
		name: "stack without a name",
		src: `stack { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Missing name for stack"},
	},
	{
		name: "stack name with capitals",
		src: `stack "Web" { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Invalid stack name", `"Web"`, "lower-case letters"},
	},
	{
		name: "stack name too long",
		src: `stack "` + strings.Repeat("a", 64) + `" { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Invalid stack name", "1 to 63"},
	},
	{
		name: "duplicate stack",
		src: `stack "web" { # FIRST
  dir = "infra/web"
}

stack "web" { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Duplicate stack", `stack "web" is defined twice`, "rename or remove one"},
	},
	{
		name: "two stacks on one dir and workspace",
		src: `stack "web" { # FIRST
  dir = "infra/web"
}

stack "web2" { # ERR
  dir = "infra/web"
}
`,
		want: []string{"Duplicate stack directory", `stack "web2" uses the same dir and workspace as stack "web"`},
	},
	{
		name: "dir does not exist",
		src: `stack "web" {
  dir = "infra/api" # ERR
}
`,
		want: []string{"Missing stack directory", `dir "infra/api" resolves to `,
			filepath.Join("infra", "api") + ", which does not exist", "relative paths start at"},
	},
	{
		name: "dir is a file",
		src: `stack "web" {
  dir = "prod.tfvars" # ERR
}
`,
		want: []string{"Stack dir is not a directory", "prod.tfvars", "which is a file"},
	},
	{
		name: "empty dir",
		src: `stack "web" {
  dir = "" # ERR
}
`,
		want: []string{"dir is empty", `"." is the config file's own directory`},
	},
	{
		name: "var file does not exist",
		src: `stack "web" {
  dir       = "infra/web"
  var_files = [
    "prod.tfvars",
    "staging.tfvars", # ERR
  ]
}
`,
		want: []string{"Missing var file", `"staging.tfvars" resolves to `, "staging.tfvars, which does not exist"},
	},
	{
		name: "var file is a directory",
		src: `stack "web" {
  dir       = "infra/web"
  var_files = ["infra"] # ERR
}
`,
		want: []string{"Var file is a directory"},
	},
	{
		name: "variables not a list",
		src: `stack "web" {
  dir       = "infra/web"
  variables = "replicas" # ERR
}
`,
		want: []string{"Invalid value for variables", "list of string required", `variables takes a list of variable names such as ["replicas", "image_tag"]`},
	},
	{
		name: "list entry not a string",
		src: `stack "web" {
  dir       = "infra/web"
  var_files = [
    "prod.tfvars",
    ["nested.tfvars"], # ERR
  ]
}
`,
		want: []string{"Invalid value for var_files", "string required"},
	},
	{
		name: "variable not an identifier",
		src: `stack "web" {
  dir       = "infra/web"
  variables = [
    "replicas",
    "image tag", # ERR
  ]
}
`,
		want: []string{"Invalid variable name", `"image tag"`, "variable block"},
	},
	{
		name: "variable starting with a digit",
		src: `stack "web" {
  dir       = "infra/web"
  variables = ["9lives"] # ERR
}
`,
		want: []string{"Invalid variable name", `"9lives"`},
	},
	{
		name: "duplicate variable",
		src: `stack "web" {
  dir       = "infra/web"
  variables = [
    "replicas", # FIRST
    "image_tag",
    "replicas", # ERR
  ]
}
`,
		want: []string{"Duplicate variable", `"replicas" is listed twice`, "remove one"},
	},
	{
		name: "workspace with a slash",
		src: `stack "web" {
  dir       = "infra/web"
  workspace = "prod/eu" # ERR
}
`,
		want: []string{"Invalid workspace", `"prod/eu"`, `remove it to use "default"`},
	},
	{
		name: "empty workspace",
		src: `stack "web" {
  dir       = "infra/web"
  workspace = "" # ERR
}
`,
		want: []string{"Invalid workspace"},
	},
	{
		name: "zero approvals",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    approvals = 0 # ERR
  }
}
`,
		want: []string{"Invalid approvals", "at least 1 human approval", "set approvals to 1 or more"},
	},
	{
		name: "approvals not a number",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    approvals = "two" # ERR
  }
}
`,
		want: []string{"Invalid value for approvals", "a number is required", "approvals takes a whole number such as 1"},
	},
	{
		name: "fractional approvals",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    approvals = 1.5 # ERR
  }
}
`,
		want: []string{"Invalid value for approvals", "whole number"},
	},
	{
		name: "deletion approvals below approvals",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    approvals          = 2
    deletion_approvals = 1 # ERR
  }
}
`,
		want: []string{"Invalid deletion_approvals", "lower than approvals = 2", "defaults to approvals"},
	},
	{
		name: "negative max deletions",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    max_deletions = -1 # ERR
  }
}
`,
		want: []string{"Invalid max_deletions", "use 0 to forbid deletions", "remove it for no limit"},
	},
	{
		name: "zero deletion ratio",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    max_deletion_ratio = 0 # ERR
  }
}
`,
		want: []string{"Invalid max_deletion_ratio", "greater than 0 and at most 1"},
	},
	{
		name: "deletion ratio above one",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    max_deletion_ratio = 1.5 # ERR
  }
}
`,
		want: []string{"Invalid max_deletion_ratio", "= 1.5 is out of range"},
	},
	{
		name: "plan ttl in days",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    plan_ttl = "1d" # ERR
  }
}
`,
		want: []string{"Invalid plan_ttl", `"1d" is not a duration`, `"24h"`},
	},
	{
		name: "plan ttl zero",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    plan_ttl = "0s" # ERR
  }
}
`,
		want: []string{"Invalid plan_ttl", "out of range", "168h"},
	},
	{
		name: "plan ttl above a week",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    plan_ttl = "169h" # ERR
  }
}
`,
		want: []string{"Invalid plan_ttl", `"169h" is out of range`},
	},
	{
		name: "protected address with a space",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    protected = [
      "aws_db_instance.main",
      "module. data", # ERR
    ]
  }
}
`,
		want: []string{"Invalid protected address", `"module. data"`, "without spaces"},
	},
	{
		name: "empty protected address",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    protected = [""] # ERR
  }
}
`,
		want: []string{"Invalid protected address"},
	},
	{
		name: "aws session_duration too long",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region           = "us-east-1"
    session_duration = "24h" # ERR
  }
}
`,
		want: []string{"Invalid session_duration", "AssumeRole takes 15m to 12h"},
	},
	{
		name: "aws session_duration not a duration",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region           = "us-east-1"
    session_duration = "2 hours" # ERR
  }
}
`,
		want: []string{"Invalid session_duration", "not a duration"},
	},
	{
		name: "aws block without region",
		src: `stack "web" {
  dir = "infra/web"
  aws { # ERR
    account_id = "123456789012"
  }
}
`,
		want: []string{"Missing required argument", `"region" is required`},
	},
	{
		name: "aws region typo",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region = "us-east1" # ERR
  }
}
`,
		want: []string{"Invalid region", `"us-east1"`, `"us-east-1"`},
	},
	{
		name: "aws account id too short",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region     = "us-east-1"
    account_id = "12345" # ERR
  }
}
`,
		want: []string{"Invalid account_id", "12 digits"},
	},
	{
		name: "aws role arn malformed",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region        = "us-east-1"
    plan_role_arn = "plangate-plan" # ERR
  }
}
`,
		want: []string{"Invalid plan_role_arn", "arn:aws:iam::123456789012:role/NAME"},
	},
	{
		name: "aws endpoint without scheme",
		src: `stack "web" {
  dir = "infra/web"
  aws {
    region       = "us-east-1"
    endpoint_url = "127.0.0.1:5000" # ERR
  }
}
`,
		want: []string{"Invalid endpoint_url", "http://127.0.0.1:5000"},
	},
	{
		name: "approver name invalid",
		src: `approver "On Call" { # ERR
  public_key = "` + okKey + `"
}
`,
		want: []string{"Invalid approver name", `"On Call"`, `for example "oncall"`},
	},
	{
		name: "duplicate approver",
		src: `approver "oncall" { # FIRST
  public_key = "` + okKey + `"
}
approver "oncall" { # ERR
  public_key = "` + FormatPublicKey(leadKey) + `"
}
`,
		want: []string{"Duplicate approver", `approver "oncall" is defined twice`},
	},
	{
		name: "approver without key",
		src: `approver "oncall" { # ERR
}
`,
		want: []string{"Approver without a key", "neither public_key nor passkey", "plangate keygen --name oncall", "plangate passkey register --name oncall"},
	},
	{
		name: "approver key without prefix",
		src: `approver "oncall" {
  public_key = "` + strings.TrimPrefix(okKey, "ed25519:") + `" # ERR
}
`,
		want: []string{"Invalid public_key", `does not start with "ed25519:"`,
			`"ed25519:<standard base64 of the 32-byte Ed25519 public key>"`, "plangate keygen --name oncall"},
	},
	{
		name: "approver key not base64",
		src: `approver "oncall" {
  public_key = "ed25519:not base64!" # ERR
}
`,
		want: []string{"Invalid public_key", "not standard base64", "plangate keygen"},
	},
	{
		name: "approver key wrong length",
		src: `approver "oncall" {
  public_key = "ed25519:AAEC" # ERR
}
`,
		want: []string{"Invalid public_key", "3 bytes, not 32", "plangate keygen"},
	},
	{
		name: "approver key is a private key",
		src: `approver "oncall" {
  public_key = "` + FormatPublicKey(ed25519.PublicKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))) + `" # ERR
}
`,
		want: []string{"Invalid public_key", "never put a private key in the config"},
	},
	{
		name: "two approvers share a key",
		src: `approver "oncall" { # FIRST
  public_key = "` + okKey + `"
}
approver "lead" {
  public_key = "` + okKey + `" # ERR
}
`,
		want: []string{"Duplicate approver key", `same public key as approver "oncall"`, "plangate keygen --name lead"},
	},
	{
		name: "empty state dir",
		src: `state_dir = "" # ERR
`,
		want: []string{"Invalid state_dir", "remove it to use the default (the user's state directory"},
	},
	{
		name: "variables in expressions",
		src: `stack "web" {
  dir = var.dir # ERR
}
`,
		want: []string{"Variables not allowed", "literal values only"},
	},
	{
		name: "function call",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    plan_ttl = format("%dh", 2) # ERR
  }
}
`,
		want: []string{"Function calls not allowed", "literal values only"},
	},
	{
		name: "aws block without an apply role",
		src: `stack "web" {
  dir = "infra/web"
  aws { # ERR
    region        = "us-east-1"
    plan_role_arn = "arn:aws:iam::123456789012:role/plan"
  }
}
`,
		want: []string{"Missing apply_role_arn", "never holds plangate's own credentials", `set apply_role_arn = "arn:aws:iam::<account>:role/<name>"`},
	},
	{
		name: "aws block without a plan role",
		src: `stack "web" {
  dir = "infra/web"
  aws { # ERR
    region         = "us-east-1"
    apply_role_arn = "arn:aws:iam::123456789012:role/apply"
  }
}
`,
		want: []string{"Missing plan_role_arn", "a read-only role for plans"},
	},
	{
		name: "provider pattern with a wildcard namespace and a literal type",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    providers = ["hashicorp/*", "*/aws"] # ERR
  }
}
`,
		want: []string{"Invalid providers entry", `"*/aws"`, "only when the type is * too"},
	},
	{
		name: "provider pattern with four parts",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    providers = ["a/b/c/d"] # ERR
  }
}
`,
		want: []string{"Invalid providers entry", "HOST/NAMESPACE/TYPE or NAMESPACE/TYPE"},
	},
	{
		name: "allow_provisioners is not a bool",
		src: `stack "web" {
  dir = "infra/web"
  policy {
    allow_provisioners = "yes please" # ERR
  }
}
`,
		want: []string{"allow_provisioners", "true or false"},
	},
	{
		name: "provider mirror that does not exist",
		src: `provider_mirror = "no/such/mirror" # ERR
`,
		want: []string{"Invalid provider_mirror", "cannot be read", "terraform providers mirror"},
	},
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src)
			cfg, err := Load(path)
			require.Error(t, err)
			assert.Nil(t, cfg)

			msg := err.Error()
			assert.Contains(t, msg, fmt.Sprintf("plangate.hcl:%d,", markedLine(t, tt.src, "# ERR")))
			if strings.Contains(tt.src, "# FIRST") {
				assert.Contains(t, msg, fmt.Sprintf("plangate.hcl:%d,", markedLine(t, tt.src, "# FIRST")),
					"a duplicate's error names the first definition too")
			}
			for _, want := range tt.want {
				assert.Contains(t, msg, want)
			}

			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			assert.Equal(t, path, cerr.Path)
			assert.NotEmpty(t, cerr.Diagnostics)
			assert.Contains(t, cerr.Files, path, "the source is kept for rendering snippets")
		})
	}
}

func TestLoadReportsEveryProblemInFileOrder(t *testing.T) {
	src := `stack "web" {
  dir = "infra/missing"
  policy {
    approvals = 0
    plan_ttl  = "1d"
  }
}
approver "oncall" {
  public_key = "ssh-ed25519 AAAA"
}
`
	path := writeConfig(t, src)
	_, err := Load(path)
	require.Error(t, err)

	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 4, err.Error())
	for i, want := range []int{2, 4, 5, 9} {
		assert.Contains(t, lines[i], fmt.Sprintf("plangate.hcl:%d,", want))
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plangate.hcl")
	_, err := Load(path)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), path+" does not exist")
	assert.Contains(t, err.Error(), "plangate init")
	assert.Contains(t, err.Error(), "PLANGATE_CONFIG")
}

func TestLoadDirectoryAsFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir+" is a directory")
}

func TestLoadEmptyFile(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	path := writeConfig(t, "")
	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Empty(t, cfg.Stacks)
	assert.Empty(t, cfg.Approvers)
	want, err := DefaultStateDir(path)
	require.NoError(t, err)
	assert.Equal(t, want, cfg.StateDir)
	assert.Equal(t, filepath.Join(state, "plangate"), filepath.Dir(cfg.StateDir), "the default is in the user's state directory")
}

func TestLoadResolvesPathsAgainstConfigDir(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "modules", "net", "main.tf"), "")
	mustWrite(t, filepath.Join(root, "shared.tfvars"), "")
	abs := filepath.Join(root, "elsewhere")
	require.NoError(t, os.MkdirAll(abs, 0o755))
	mustWrite(t, filepath.Join(root, "repo", "infra", "main.tf"), "")
	mustWrite(t, filepath.Join(root, "repo", "local.tfvars"), "")
	mustWrite(t, filepath.Join(root, "repo", "plangate.hcl"), fmt.Sprintf(`
state_dir = "../state"

stack "net" {
  dir       = "../modules/net"
  var_files = ["../shared.tfvars", "./local.tfvars"]
}

stack "here" {
  dir = "."
}

stack "abs" {
  dir = %q
}

stack "infra" {
  dir = "infra/"
}
`, abs))

	// Load from another working directory, with a relative path: every
	// path must still resolve against the config file's directory.
	t.Chdir(filepath.Join(root, "modules"))
	cfg, err := Load(filepath.Join("..", "repo", "plangate.hcl"))
	require.NoError(t, err)

	repo := filepath.Join(root, "repo")
	assert.Equal(t, filepath.Join(repo, "plangate.hcl"), cfg.Path)
	assert.Equal(t, filepath.Join(root, "state"), cfg.StateDir)
	byName := map[string]*Stack{}
	for _, s := range cfg.Stacks {
		byName[s.Name] = s
		assert.True(t, filepath.IsAbs(s.Dir), s.Dir)
	}
	assert.Equal(t, filepath.Join(root, "modules", "net"), byName["net"].Dir)
	assert.Equal(t, []string{filepath.Join(root, "shared.tfvars"), filepath.Join(repo, "local.tfvars")}, byName["net"].VarFiles)
	assert.Equal(t, repo, byName["here"].Dir)
	assert.Equal(t, abs, byName["abs"].Dir)
	assert.Equal(t, filepath.Join(repo, "infra"), byName["infra"].Dir)
}

func TestLoadAbsoluteStateDir(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	path := writeConfig(t, fmt.Sprintf("state_dir = %q\n", stateDir))
	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, stateDir, cfg.StateDir)
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		flag string
		env  string
		want string
	}{
		{name: "flag wins over env", flag: "/etc/plangate/a.hcl", env: "/srv/b.hcl", want: "/etc/plangate/a.hcl"},
		{name: "relative flag made absolute", flag: "conf/a.hcl", env: "/srv/b.hcl", want: filepath.Join(dir, "conf", "a.hcl")},
		{name: "env when no flag", env: "/srv/b.hcl", want: "/srv/b.hcl"},
		{name: "relative env made absolute", env: "b.hcl", want: filepath.Join(dir, "b.hcl")},
		{name: "default in working directory", want: filepath.Join(dir, "plangate.hcl")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(dir)
			t.Setenv(EnvVar, tt.env)
			got, err := Find(tt.flag)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPublicKeyRoundTrip(t *testing.T) {
	s := FormatPublicKey(leadKey)
	assert.Equal(t, "ed25519:gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q=", s)
	got, err := ParsePublicKey(s)
	require.NoError(t, err)
	assert.Equal(t, leadKey, got)
}

func TestParsePublicKeyRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `does not start with "ed25519:"`},
		{"ssh format", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", `does not start with "ed25519:"`},
		{"url base64", "ed25519:gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q=", "not standard base64"},
		{"missing padding", "ed25519:gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q", "not standard base64"},
		{"all zeros", FormatPublicKey(make(ed25519.PublicKey, 32)), "all zeros"},
		{"too long", FormatPublicKey(make(ed25519.PublicKey, 33)), "33 bytes, not 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublicKey(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// writeConfig writes src as plangate.hcl in a fresh directory that also
// holds a Terraform root module at infra/web and a prod.tfvars file, so
// that only the mistake under test is wrong.
func writeConfig(t testing.TB, src string) string {
	t.Helper()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "infra", "web", "main.tf"), `resource "terraform_data" "web" {}`+"\n")
	mustWrite(t, filepath.Join(dir, "prod.tfvars"), "replicas = 2\n")
	path := filepath.Join(dir, "plangate.hcl")
	mustWrite(t, path, src)
	return path
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// markedLine returns the 1-based line of src that holds marker.
func markedLine(t *testing.T, src, marker string) int {
	t.Helper()
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, marker) {
			return i + 1
		}
	}
	t.Fatalf("no %q marker in test source", marker)
	return 0
}

// lineOf returns the 1-based line of the file at path that starts with prefix.
func lineOf(t *testing.T, path, prefix string) int {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starting with %q in %s", prefix, path)
	return 0
}

func TestErrorWithoutSubjectNamesFile(t *testing.T) {
	err := &Error{Path: "/x/plangate.hcl", Diagnostics: hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Broken", Detail: "details"},
	}}
	assert.Equal(t, "/x/plangate.hcl: Broken; details", err.Error())
	assert.True(t, errors.As(error(err), new(*Error)))
}
