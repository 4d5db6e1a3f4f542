package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

type fileBlock struct {
	StateDir      *string          `hcl:"state_dir,optional"`
	StateDirRange hcl.Range        `hcl:"state_dir,attr_value_range"`
	Mirror        *string          `hcl:"provider_mirror,optional"`
	MirrorRange   hcl.Range        `hcl:"provider_mirror,attr_value_range"`
	Binary        *string          `hcl:"terraform_binary,optional"`
	BinaryRange   hcl.Range        `hcl:"terraform_binary,attr_value_range"`
	Stacks        []*stackBlock    `hcl:"stack,block"`
	Approvers     []*approverBlock `hcl:"approver,block"`
	Notify        *notifyBlock     `hcl:"notify,block"`
}

type stackBlock struct {
	Name           string         `hcl:"name,label"`
	NameRange      hcl.Range      `hcl:"name,label_range"`
	DefRange       hcl.Range      `hcl:",def_range"`
	Dir            string         `hcl:"dir"`
	DirRange       hcl.Range      `hcl:"dir,attr_value_range"`
	Description    *string        `hcl:"description,optional"`
	Variables      *hcl.Attribute `hcl:"variables,optional"`
	VarFiles       *hcl.Attribute `hcl:"var_files,optional"`
	Workspace      *string        `hcl:"workspace,optional"`
	WorkspaceRange hcl.Range      `hcl:"workspace,attr_value_range"`
	LocalState     *string        `hcl:"local_state,optional"`
	LocalRange     hcl.Range      `hcl:"local_state,attr_value_range"`
	QueueTimeout   *string        `hcl:"queue_timeout,optional"`
	QueueRange     hcl.Range      `hcl:"queue_timeout,attr_value_range"`
	Policy         *policyBlock   `hcl:"policy,block"`
	AWS            *awsBlock      `hcl:"aws,block"`
	Notify         *notifyBlock   `hcl:"notify,block"`
}

type policyBlock struct {
	Approvals              *int           `hcl:"approvals,optional"`
	ApprovalsRange         hcl.Range      `hcl:"approvals,attr_value_range"`
	DeletionApprovals      *int           `hcl:"deletion_approvals,optional"`
	DeletionApprovalsRange hcl.Range      `hcl:"deletion_approvals,attr_value_range"`
	MaxDeletions           *int           `hcl:"max_deletions,optional"`
	MaxDeletionsRange      hcl.Range      `hcl:"max_deletions,attr_value_range"`
	MaxDeletionRatio       *float64       `hcl:"max_deletion_ratio,optional"`
	MaxDeletionRatioRange  hcl.Range      `hcl:"max_deletion_ratio,attr_value_range"`
	Protected              *hcl.Attribute `hcl:"protected,optional"`
	PlanTTL                *string        `hcl:"plan_ttl,optional"`
	PlanTTLRange           hcl.Range      `hcl:"plan_ttl,attr_value_range"`
	AllowProvisioners      *bool          `hcl:"allow_provisioners,optional"`
	AllowExternalData      *bool          `hcl:"allow_external_data,optional"`
	Providers              *hcl.Attribute `hcl:"providers,optional"`
}

type awsBlock struct {
	DefRange          hcl.Range `hcl:",def_range"`
	Region            string    `hcl:"region"`
	RegionRange       hcl.Range `hcl:"region,attr_value_range"`
	AccountID         *string   `hcl:"account_id,optional"`
	AccountIDRange    hcl.Range `hcl:"account_id,attr_value_range"`
	Profile           *string   `hcl:"profile,optional"`
	ProfileRange      hcl.Range `hcl:"profile,attr_value_range"`
	PlanRoleARN       *string   `hcl:"plan_role_arn,optional"`
	PlanRoleARNRange  hcl.Range `hcl:"plan_role_arn,attr_value_range"`
	ApplyRoleARN      *string   `hcl:"apply_role_arn,optional"`
	ApplyRoleARNRange hcl.Range `hcl:"apply_role_arn,attr_value_range"`
	EndpointURL       *string   `hcl:"endpoint_url,optional"`
	EndpointURLRange  hcl.Range `hcl:"endpoint_url,attr_value_range"`
	SessionDuration   *string   `hcl:"session_duration,optional"`
	SessionDurRange   hcl.Range `hcl:"session_duration,attr_value_range"`
}

type approverBlock struct {
	Name           string    `hcl:"name,label"`
	NameRange      hcl.Range `hcl:"name,label_range"`
	DefRange       hcl.Range `hcl:",def_range"`
	PublicKey      *string   `hcl:"public_key,optional"`
	PublicKeyRange hcl.Range `hcl:"public_key,attr_value_range"`
	Passkey        *string   `hcl:"passkey,optional"`
	PasskeyRange   hcl.Range `hcl:"passkey,attr_value_range"`
}

// expectedValue says what each attribute takes, for type errors.
var expectedValue = map[string]string{
	"state_dir":           `a quoted path such as "/var/lib/plangate"`,
	"dir":                 `a quoted path such as "infra/web"`,
	"description":         `a quoted string`,
	"variables":           `a list of variable names such as ["replicas", "image_tag"]`,
	"var_files":           `a list of paths such as ["prod.tfvars"]`,
	"workspace":           `a quoted workspace name such as "default"`,
	"local_state":         `"state_dir" or "stack_dir"`,
	"approvals":           `a whole number such as 1`,
	"deletion_approvals":  `a whole number such as 2`,
	"max_deletions":       `a whole number such as 10`,
	"max_deletion_ratio":  `a number such as 0.5`,
	"protected":           `a list of addresses such as ["aws_db_instance.main"]`,
	"plan_ttl":            `a quoted duration such as "1h"`,
	"allow_provisioners":  `true or false`,
	"allow_external_data": `true or false`,
	"providers":           `a list of provider source patterns such as ["registry.terraform.io/hashicorp/*"]`,
	"provider_mirror":     `a quoted path such as "/opt/terraform/providers"`,
	"terraform_binary":    `a quoted command name such as "tofu", or a path`,
	"region":              `a quoted region such as "us-east-1"`,
	"account_id":          `12 quoted digits such as "123456789012"`,
	"profile":             `a quoted profile name`,
	"plan_role_arn":       `a quoted role ARN`,
	"apply_role_arn":      `a quoted role ARN`,
	"endpoint_url":        `a quoted URL such as "http://127.0.0.1:5000"`,
	"session_duration":    `a quoted duration such as "2h"`,
	"webhook":             `a quoted URL such as "https://hooks.slack.com/services/…"`,
	"public_key":          `a quoted key such as "ed25519:<base64>" (plangate keygen prints it)`,
	"passkey":             `a quoted passkey credential such as "webauthn:localhost:7473:<id>:<key>" (plangate passkey register prints it)`,
}

// explainValueErrors names the attribute in gohcl's type errors, which
// otherwise only say "Unsuitable value", and drops the "value must be known"
// echo of an expression that already failed for using a variable or function.
func explainValueErrors(body hcl.Body, diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Summary != "Unsuitable value type" || d.Subject == nil {
			if d.Summary == "Variables not allowed" || d.Summary == "Function calls not allowed" {
				d.Detail += " plangate.hcl takes literal values only: write the value itself."
			}
			out = append(out, d)
			continue
		}
		if strings.HasSuffix(d.Detail, "value must be known") && len(diags) > 1 {
			continue
		}
		name := attributeAt(body, d.Subject.Start)
		if name == "" {
			out = append(out, d)
			continue
		}
		detail := strings.TrimPrefix(d.Detail, "Unsuitable value: ")
		if want, ok := expectedValue[name]; ok {
			detail += "; " + name + " takes " + want
		}
		out = append(out, &hcl.Diagnostic{
			Severity: d.Severity,
			Summary:  "Invalid value for " + name,
			Detail:   detail,
			Subject:  d.Subject,
			Context:  d.Context,
		})
	}
	return out
}

// attributeAt returns the name of the attribute whose value holds pos.
func attributeAt(body hcl.Body, pos hcl.Pos) string {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return ""
	}
	for name, attr := range b.Attributes {
		if attr.Expr.Range().ContainsPos(pos) {
			return name
		}
	}
	for _, block := range b.Blocks {
		if block.Body.Range().ContainsPos(pos) {
			return attributeAt(block.Body, pos)
		}
	}
	return ""
}

func (l *loader) errorf(r hcl.Range, summary, detailFormat string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  r.Ptr(),
	})
}

func (l *loader) build(path string, raw *fileBlock) *Config {
	cfg := &Config{Path: path}
	switch {
	case raw.StateDir == nil:
		dir, err := DefaultStateDir(path)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No state directory", Detail: err.Error()})
		}
		cfg.StateDir = dir
	case strings.TrimSpace(*raw.StateDir) == "":
		l.errorf(raw.StateDirRange, "Invalid state_dir",
			"state_dir is empty: remove it to use the default (the user's state directory, outside the repository), or name a directory relative to the config file")
	default:
		cfg.StateDir = l.resolve(*raw.StateDir)
	}
	if raw.Mirror != nil {
		cfg.ProviderMirror = l.mirror(*raw.Mirror, raw.MirrorRange)
	}
	if raw.Binary != nil {
		cfg.TerraformBinary = l.binary(*raw.Binary, raw.BinaryRange)
	}
	cfg.Webhook = l.webhook("", raw.Notify)

	stackAt := map[string]hcl.Range{}
	dirAt := map[string]*Stack{}
	for _, rs := range raw.Stacks {
		if first, dup := stackAt[rs.Name]; dup {
			l.errorf(rs.NameRange, "Duplicate stack",
				"stack %q is defined twice, here and at %s: rename or remove one of them", rs.Name, first)
			continue
		}
		stackAt[rs.Name] = rs.DefRange
		st := l.stack(rs)
		// Two stacks on one directory and workspace would be one state
		// under two locks: two Terraform runs at once, two policies.
		key := st.Dir + "\x00" + st.Workspace
		if other, dup := dirAt[key]; dup && st.Dir != "" {
			l.errorf(rs.NameRange, "Duplicate stack directory",
				"stack %q uses the same dir and workspace as stack %q at %s: one Terraform state must be one stack (use another workspace, or merge them)",
				rs.Name, other.Name, other.DeclRange)
			continue
		}
		dirAt[key] = st
		st.ProviderMirror = cfg.ProviderMirror
		cfg.Stacks = append(cfg.Stacks, st)
	}

	l.approvers(cfg, raw.Approvers)
	return cfg
}

func (l *loader) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.baseDir, p)
}

func (l *loader) checkName(kind, name, example string, r hcl.Range) {
	if !namePattern.MatchString(name) {
		l.errorf(r, "Invalid "+kind+" name",
			"%s name %q is not valid: use 1 to 63 lower-case letters, digits, '_' or '-', starting with a letter (for example %q)",
			kind, name, example)
	}
}

func (l *loader) stack(rs *stackBlock) *Stack {
	l.checkName("stack", rs.Name, "web-prod", rs.NameRange)
	s := &Stack{
		Name:         rs.Name,
		Workspace:    DefaultWorkspace,
		LocalState:   LocalStateStackDir,
		QueueTimeout: DefaultQueueTimeout,
		DeclRange:    rs.DefRange,
	}
	if rs.Description != nil {
		s.Description = *rs.Description
	}

	if strings.TrimSpace(rs.Dir) == "" {
		l.errorf(rs.DirRange, "Invalid dir",
			"stack %q: dir is empty: set it to the Terraform root module's directory, relative to the config file (\".\" is the config file's own directory)",
			rs.Name)
	} else {
		s.Dir = l.resolve(rs.Dir)
		info, err := os.Stat(s.Dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			l.errorf(rs.DirRange, "Missing stack directory",
				"stack %q: dir %q resolves to %s, which does not exist: fix the path (relative paths start at %s) or create the Terraform root module there",
				rs.Name, rs.Dir, s.Dir, l.baseDir)
		case err != nil:
			l.errorf(rs.DirRange, "Unreadable stack directory",
				"stack %q: dir %q resolves to %s, which cannot be read: %v", rs.Name, rs.Dir, s.Dir, err)
		case !info.IsDir():
			l.errorf(rs.DirRange, "Stack dir is not a directory",
				"stack %q: dir %q resolves to %s, which is a file: point dir at the Terraform root module's directory",
				rs.Name, rs.Dir, s.Dir)
		}
	}

	vars, ranges := l.stringList(rs.Variables)
	seen := map[string]hcl.Range{}
	for i, v := range vars {
		switch first, dup := seen[v]; {
		case !identifierPattern.MatchString(v):
			l.errorf(ranges[i], "Invalid variable name",
				"stack %q: %q is not a Terraform variable name: use the name from the variable block (letters, digits, '_' or '-', not starting with a digit)",
				rs.Name, v)
		case dup:
			l.errorf(ranges[i], "Duplicate variable",
				"stack %q: variable %q is listed twice, here and at %s: remove one", rs.Name, v, first)
		default:
			seen[v] = ranges[i]
			s.Variables = append(s.Variables, v)
		}
	}

	files, ranges := l.stringList(rs.VarFiles)
	for i, f := range files {
		if strings.TrimSpace(f) == "" {
			l.errorf(ranges[i], "Invalid var_files entry",
				"stack %q: a var_files entry is empty: name a .tfvars file relative to the config file", rs.Name)
			continue
		}
		p := l.resolve(f)
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			l.errorf(ranges[i], "Missing var file",
				"stack %q: var file %q resolves to %s, which does not exist: fix the path (relative paths start at %s) or create the file",
				rs.Name, f, p, l.baseDir)
		case err != nil:
			l.errorf(ranges[i], "Unreadable var file",
				"stack %q: var file %q resolves to %s, which cannot be read: %v", rs.Name, f, p, err)
		case info.IsDir():
			l.errorf(ranges[i], "Var file is a directory",
				"stack %q: var file %q resolves to %s, which is a directory: name a .tfvars file", rs.Name, f, p)
		default:
			s.VarFiles = append(s.VarFiles, p)
		}
	}

	if rs.Workspace != nil {
		if workspacePattern.MatchString(*rs.Workspace) {
			s.Workspace = *rs.Workspace
		} else {
			l.errorf(rs.WorkspaceRange, "Invalid workspace",
				"stack %q: workspace %q is not a valid Terraform workspace name: use letters, digits, '_', '-' or '.', or remove it to use %q",
				rs.Name, *rs.Workspace, DefaultWorkspace)
		}
	}

	if rs.LocalState != nil {
		switch *rs.LocalState {
		case LocalStateStackDir, LocalStateStateDir:
			s.LocalState = *rs.LocalState
			if s.LocalState == LocalStateStateDir && s.Workspace != DefaultWorkspace {
				l.errorf(rs.LocalRange, "local_state needs the default workspace",
					"stack %q: local_state = %q keeps one state per stack under state_dir, and workspace %q would share it: remove the workspace (each stack already has a state of its own; declare another stack for another state) or local_state",
					rs.Name, LocalStateStateDir, s.Workspace)
			}
		default:
			l.errorf(rs.LocalRange, "Invalid local_state",
				"stack %q: local_state %q is not one of %q (Terraform's local state under state_dir, out of reach of whoever can write the stack directory) or %q (terraform.tfstate in the stack directory, the default)",
				rs.Name, *rs.LocalState, LocalStateStateDir, LocalStateStackDir)
		}
	}

	if rs.QueueTimeout != nil {
		if d, ok := l.duration(rs.Name, "queue_timeout", *rs.QueueTimeout, rs.QueueRange, `"30s", "2m" or "10m"`,
			func(d time.Duration) bool { return d > 0 && d <= MaxQueueTimeout },
			"a run may wait for the stack more than 0s and at most 1h"); ok {
			s.QueueTimeout = d
		}
	}

	s.Policy = l.policy(rs.Name, rs.Policy)
	s.Webhook = l.webhook(fmt.Sprintf("stack %q: ", rs.Name), rs.Notify)
	if rs.AWS != nil {
		s.AWS = l.aws(rs.Name, rs.AWS)
	}
	return s
}

// stringList decodes a list of strings, keeping each element's range so
// that an error points at the entry itself rather than at the attribute.
func (l *loader) stringList(attr *hcl.Attribute) ([]string, []hcl.Range) {
	if attr == nil {
		return nil, nil
	}
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		// Not a literal list (a for expression, null...): decode it whole.
		var vals []string
		if diags := gohcl.DecodeExpression(attr.Expr, nil, &vals); diags.HasErrors() {
			l.diags = append(l.diags, diags...)
			return nil, nil
		}
		ranges := make([]hcl.Range, len(vals))
		for i := range ranges {
			ranges[i] = attr.Expr.Range()
		}
		return vals, ranges
	}
	vals := make([]string, 0, len(exprs))
	ranges := make([]hcl.Range, 0, len(exprs))
	for _, e := range exprs {
		var v string
		if diags := gohcl.DecodeExpression(e, nil, &v); diags.HasErrors() {
			l.diags = append(l.diags, diags...)
			continue
		}
		vals = append(vals, v)
		ranges = append(ranges, e.Range())
	}
	return vals, ranges
}

func (l *loader) policy(stack string, rp *policyBlock) Policy {
	p := DefaultPolicy()
	if rp == nil {
		return p
	}

	approvalsOK := true
	if rp.Approvals != nil {
		if *rp.Approvals < 1 {
			approvalsOK = false
			l.errorf(rp.ApprovalsRange, "Invalid approvals",
				"stack %q: approvals = %d, but every change needs at least 1 human approval: set approvals to 1 or more",
				stack, *rp.Approvals)
		} else {
			p.Approvals = *rp.Approvals
		}
	}
	p.DeletionApprovals = p.Approvals
	if rp.DeletionApprovals != nil {
		if approvalsOK && *rp.DeletionApprovals < p.Approvals {
			l.errorf(rp.DeletionApprovalsRange, "Invalid deletion_approvals",
				"stack %q: deletion_approvals = %d is lower than approvals = %d: a plan that deletes needs at least as many approvers as any other; raise it or remove it (it defaults to approvals)",
				stack, *rp.DeletionApprovals, p.Approvals)
		} else {
			p.DeletionApprovals = *rp.DeletionApprovals
		}
	}

	if rp.MaxDeletions != nil {
		if *rp.MaxDeletions < 0 {
			l.errorf(rp.MaxDeletionsRange, "Invalid max_deletions",
				"stack %q: max_deletions = %d is negative: use 0 to forbid deletions, a positive limit, or remove it for no limit",
				stack, *rp.MaxDeletions)
		} else {
			p.MaxDeletions = *rp.MaxDeletions
		}
	}

	if rp.MaxDeletionRatio != nil {
		r := *rp.MaxDeletionRatio
		if r > 0 && r <= 1 {
			p.MaxDeletionRatio = r
			p.MaxDeletionRatioSet = true
		} else {
			l.errorf(rp.MaxDeletionRatioRange, "Invalid max_deletion_ratio",
				"stack %q: max_deletion_ratio = %g is out of range: it is the share of the stack's resources a plan may destroy, greater than 0 and at most 1 (for example 0.5)",
				stack, r)
		}
	}

	patterns, ranges := l.stringList(rp.Protected)
	for i, pat := range patterns {
		if pat == "" || strings.ContainsFunc(pat, unicode.IsSpace) {
			l.errorf(ranges[i], "Invalid protected address",
				"stack %q: protected entry %q is not a resource address pattern: use an address such as %q or %q, without spaces",
				stack, pat, "aws_db_instance.main", "module.data.*")
			continue
		}
		p.Protected = append(p.Protected, pat)
	}

	if rp.AllowProvisioners != nil {
		p.AllowProvisioners = *rp.AllowProvisioners
	}
	if rp.AllowExternalData != nil {
		p.AllowExternalData = *rp.AllowExternalData
	}
	if rp.Providers != nil {
		p.Providers = []ProviderPattern{}
		sources, ranges := l.stringList(rp.Providers)
		for i, src := range sources {
			pat, err := ParseProviderPattern(src)
			if err != nil {
				l.errorf(ranges[i], "Invalid providers entry", "stack %q: %v", stack, err)
				continue
			}
			p.Providers = append(p.Providers, pat)
		}
	}

	if rp.PlanTTL != nil {
		if d, ok := l.duration(stack, "plan_ttl", *rp.PlanTTL, rp.PlanTTLRange, `"30m", "1h" or "24h" (there is no day unit)`,
			func(d time.Duration) bool { return d > 0 && d <= MaxPlanTTL },
			"a plan must expire after more than 0s and at most 168h (7 days)"); ok {
			p.PlanTTL = d
		}
	}
	return p
}

func (l *loader) aws(stack string, ra *awsBlock) *AWS {
	a := &AWS{Region: ra.Region, DeclRange: ra.DefRange}
	if !regionPattern.MatchString(ra.Region) {
		l.errorf(ra.RegionRange, "Invalid region",
			"stack %q: region %q is not an AWS region name such as \"us-east-1\"", stack, ra.Region)
	}
	if ra.AccountID != nil {
		a.AccountID = *ra.AccountID
		if !accountIDPattern.MatchString(a.AccountID) {
			l.errorf(ra.AccountIDRange, "Invalid account_id",
				"stack %q: account_id %q is not an AWS account id: use the 12 digits, quoted (for example \"123456789012\")",
				stack, a.AccountID)
		}
	}
	if ra.Profile != nil {
		a.Profile = *ra.Profile
		if strings.TrimSpace(a.Profile) == "" {
			l.errorf(ra.ProfileRange, "Invalid profile",
				"stack %q: profile is empty: name an AWS shared-config profile, or remove it", stack)
		}
	}
	for _, arn := range []struct {
		name  string
		value *string
		r     hcl.Range
		dst   *string
	}{
		{"plan_role_arn", ra.PlanRoleARN, ra.PlanRoleARNRange, &a.PlanRoleARN},
		{"apply_role_arn", ra.ApplyRoleARN, ra.ApplyRoleARNRange, &a.ApplyRoleARN},
	} {
		if arn.value == nil {
			// Without both roles, Terraform would run with plangate's own
			// credentials: plan-time code (a provider, a data source)
			// could then do whatever those credentials allow.
			l.errorf(ra.DefRange, "Missing "+arn.name,
				"stack %q: the aws block has no %s: plangate runs every plan with the plan role and every apply with the apply role, "+
					"so that Terraform never holds plangate's own credentials; set %s = \"arn:aws:iam::<account>:role/<name>\" "+
					"(a read-only role for plans, the deploy role for applies), or remove the aws block", stack, arn.name, arn.name)
			continue
		}
		*arn.dst = *arn.value
		if !roleARNPattern.MatchString(*arn.value) {
			l.errorf(arn.r, "Invalid "+arn.name,
				"stack %q: %s %q is not an IAM role ARN: use the form \"arn:aws:iam::123456789012:role/NAME\"",
				stack, arn.name, *arn.value)
		}
	}
	if ra.SessionDuration != nil {
		if d, ok := l.duration(stack, "session_duration", *ra.SessionDuration, ra.SessionDurRange, `"2h" or "90m"`,
			func(d time.Duration) bool { return d >= MinSessionDuration && d <= MaxSessionDuration },
			"AssumeRole takes 15m to 12h (and at most the role's MaxSessionDuration)"); ok {
			a.SessionDuration = d
		}
	}
	if ra.EndpointURL != nil {
		a.EndpointURL = *ra.EndpointURL
		u, err := url.Parse(a.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.errorf(ra.EndpointURLRange, "Invalid endpoint_url",
				"stack %q: endpoint_url %q is not an http(s) URL: use the emulator's address, such as \"http://127.0.0.1:5000\"",
				stack, a.EndpointURL)
		}
	}
	return a
}

// mirror checks provider_mirror: an existing directory, made absolute.
func (l *loader) mirror(p string, r hcl.Range) string {
	if strings.TrimSpace(p) == "" {
		l.errorf(r, "Invalid provider_mirror", "provider_mirror is empty: name the filesystem mirror's directory, or remove it to install providers from the registry")
		return ""
	}
	dir := l.resolve(p)
	info, err := os.Stat(dir)
	switch {
	case err != nil:
		l.errorf(r, "Invalid provider_mirror", "provider_mirror %q resolves to %s, which cannot be read (%v): name an existing filesystem mirror (terraform providers mirror <dir> makes one)", p, dir, err)
	case !info.IsDir():
		l.errorf(r, "Invalid provider_mirror", "provider_mirror %q resolves to %s, which is not a directory: name the filesystem mirror's directory", p, dir)
	default:
		return dir
	}
	return ""
}

// binary checks terraform_binary: a command name, looked up on PATH when
// plangate runs it, or a path, made absolute. It is not looked for here: a
// config is read by commands that never run Terraform (approve, audit), on
// machines that may not have it.
func (l *loader) binary(p string, r hcl.Range) string {
	switch {
	case strings.TrimSpace(p) == "":
		l.errorf(r, "Invalid terraform_binary", "terraform_binary is empty: name the command (\"tofu\" for OpenTofu, found on PATH) or its path, or remove it to run terraform")
		return ""
	case strings.TrimSpace(p) != p || strings.ContainsFunc(p, unicode.IsControl):
		l.errorf(r, "Invalid terraform_binary", "terraform_binary %q has spaces around it or control characters: write the command name (such as \"tofu\") or its path alone", p)
		return ""
	case !strings.ContainsRune(p, filepath.Separator):
		return p
	}
	return l.resolve(p)
}

// duration parses a duration attribute, reporting a value that is not one
// (with examples) or that inRange refuses (with why).
func (l *loader) duration(stack, name, value string, rng hcl.Range, examples string, inRange func(time.Duration) bool, why string) (time.Duration, bool) {
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		l.errorf(rng, "Invalid "+name, "stack %q: %s %q is not a duration: use a Go duration such as %s", stack, name, value, examples)
	case !inRange(d):
		l.errorf(rng, "Invalid "+name, "stack %q: %s %q is out of range: %s", stack, name, value, why)
	default:
		return d, true
	}
	return 0, false
}
