// Package config owns plangate.hcl: where it is found, how it is parsed, and
// the validation that turns it into the stacks, policies and approver keys the
// rest of plangate trusts. Every mistake in the file is reported with the
// file name and line, and says how to fix it.
package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const (
	// DefaultFileName is the config file looked for in the working directory.
	DefaultFileName = "plangate.hcl"
	// EnvVar names the environment variable that points at the config file.
	EnvVar = "PLANGATE_CONFIG"
	// PublicKeyPrefix starts every approver public key in the config file.
	PublicKeyPrefix = "ed25519:"

	// DefaultStateDir is the state directory, relative to the config file.
	DefaultStateDir = ".plangate"
	// DefaultWorkspace is the Terraform workspace of a stack that names none.
	DefaultWorkspace = "default"
	// DefaultMaxDeletionRatio is the mass-deletion share used when a policy sets none.
	DefaultMaxDeletionRatio = 0.5
	// DefaultRatioMinResources is the stack size from which the default
	// mass-deletion ratio applies: deleting 1 of 2 resources is not a mass deletion.
	DefaultRatioMinResources = 4
	// DefaultPlanTTL is how long a plan and its tokens live when a policy sets no plan_ttl.
	DefaultPlanTTL = time.Hour
	// MaxPlanTTL bounds plan_ttl: an approval should not outlive a week.
	MaxPlanTTL = 168 * time.Hour
)

var (
	namePattern       = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	workspacePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountIDPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	roleARNPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$`)
)

// Config is a loaded and validated plangate.hcl.
type Config struct {
	Path      string   // absolute path of the file
	StateDir  string   // absolute; default "<config dir>/.plangate"
	Stacks    []*Stack // in file order
	Approvers []*Approver
}

// Stack returns the stack with the given name.
func (c *Config) Stack(name string) (*Stack, bool) {
	for _, s := range c.Stacks {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// StackNames returns the stack names in file order.
func (c *Config) StackNames() []string {
	names := make([]string, 0, len(c.Stacks))
	for _, s := range c.Stacks {
		names = append(names, s.Name)
	}
	return names
}

// Approver returns the approver with the given name.
func (c *Config) Approver(name string) (*Approver, bool) {
	for _, a := range c.Approvers {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// Stack is one Terraform root module that agents may plan against.
type Stack struct {
	Name        string
	Dir         string // absolute
	Description string
	Variables   []string // the only variables an agent may set
	VarFiles    []string // absolute
	Workspace   string   // default "default"
	Policy      Policy
	AWS         *AWS      // nil when absent
	DeclRange   hcl.Range // for error messages
}

// Policy is what a plan of a stack must satisfy before it can be applied.
type Policy struct {
	Approvals         int     // distinct approvers for any change; default 1, >= 1
	DeletionApprovals int     // distinct approvers when the plan deletes; default Approvals, >= Approvals
	MaxDeletions      int     // -1 = no limit (default); 0 = no deletions at all
	MaxDeletionRatio  float64 // share of managed resources a plan may destroy; default 0.5, in (0,1]
	// MaxDeletionRatioSet records that the config set max_deletion_ratio
	// explicitly, which makes the ratio apply to stacks of any size.
	MaxDeletionRatioSet bool
	Protected           []string      // address patterns never deleted or replaced
	PlanTTL             time.Duration // default 1h; in (0, 168h]
}

// RatioApplies reports whether the mass-deletion ratio rule applies for a
// stack with n managed resources: an explicitly set ratio always applies; the
// default applies to stacks of DefaultRatioMinResources resources or more.
func (p Policy) RatioApplies(n int) bool {
	return p.MaxDeletionRatioSet || n >= DefaultRatioMinResources
}

// AWS is a stack's optional identity guard.
type AWS struct {
	Region, AccountID, Profile, PlanRoleARN, ApplyRoleARN, EndpointURL string
	// SessionDuration is how long assumed-role credentials last; 0 means
	// AWS's default (1h). An apply that outlives them fails part-way.
	SessionDuration time.Duration
	DeclRange       hcl.Range
}

// Bounds of session_duration: what AssumeRole accepts (the role's
// MaxSessionDuration may be lower; AWS then refuses the AssumeRole).
const (
	MinSessionDuration = 15 * time.Minute
	MaxSessionDuration = 12 * time.Hour
)

// Approver is a human whose signature counts as an approval.
type Approver struct {
	Name      string
	PublicKey ed25519.PublicKey
	DeclRange hcl.Range
}

// Error lists every problem found in a config file. Each line of Error()
// reads "file:line,col: summary; detail".
type Error struct {
	Path        string
	Diagnostics hcl.Diagnostics
	// Files holds the parsed source, for rendering the diagnostics with
	// hcl.NewDiagnosticTextWriter (source snippets under each message).
	Files map[string]*hcl.File
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			b.WriteString(d.Subject.String())
		} else {
			b.WriteString(e.Path)
		}
		b.WriteString(": ")
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString("; ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}

// Option changes how Load treats a config file.
type Option func(*loader)

type loader struct {
	baseDir string
	diags   hcl.Diagnostics
}

// Find returns the config path to use: flagValue if non-empty, else
// $PLANGATE_CONFIG, else ./plangate.hcl, made absolute. It does not check
// that the file exists; Load does.
func Find(flagValue string) (string, error) {
	p := flagValue
	if p == "" {
		p = os.Getenv(EnvVar)
	}
	if p == "" {
		p = DefaultFileName
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("locate config file %s: %w", p, err)
	}
	return abs, nil
}

// Load reads the config file at path. Paths inside are relative to the
// config file's directory. A config that is not valid returns an *Error
// listing every problem with its file and line.
func Load(path string, opts ...Option) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("locate config file %s: %w", path, err)
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist: run plangate init to create one, "+
			"or point --config or $%s at your plangate.hcl: %w", abs, EnvVar, err)
	case err != nil:
		return nil, fmt.Errorf("read config file: %w", err)
	case info.IsDir():
		return nil, fmt.Errorf("config file %s is a directory: pass the path of the plangate.hcl file itself", abs)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}

	l := &loader{baseDir: filepath.Dir(abs)}
	for _, opt := range opts {
		opt(l)
	}

	parser := hclparse.NewParser()
	file, diags := parser.ParseHCL(src, abs)
	if diags.HasErrors() {
		return nil, newError(abs, diags, parser)
	}
	var raw fileBlock
	if diags := gohcl.DecodeBody(file.Body, nil, &raw); diags.HasErrors() {
		// Semantic checks on a half-decoded file would only add noise.
		return nil, newError(abs, explainValueErrors(file.Body, diags), parser)
	}

	cfg := l.build(abs, &raw)
	if l.diags.HasErrors() {
		return nil, newError(abs, explainValueErrors(file.Body, l.diags), parser)
	}
	return cfg, nil
}

func newError(path string, diags hcl.Diagnostics, parser *hclparse.Parser) *Error {
	// gohcl walks struct fields through maps: sort for a stable, top-to-bottom report.
	sorted := slices.Clone(diags)
	slices.SortStableFunc(sorted, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return 1
		case b.Subject == nil:
			return -1
		}
		if c := a.Subject.Start.Line - b.Subject.Start.Line; c != 0 {
			return c
		}
		return a.Subject.Start.Column - b.Subject.Start.Column
	})
	return &Error{Path: path, Diagnostics: sorted, Files: parser.Files()}
}

// The raw shapes of the file, as gohcl decodes them. Pointers tell "absent"
// from "set to the zero value"; ranges let each check point at its line.

type fileBlock struct {
	StateDir      *string          `hcl:"state_dir,optional"`
	StateDirRange hcl.Range        `hcl:"state_dir,attr_value_range"`
	Stacks        []*stackBlock    `hcl:"stack,block"`
	Approvers     []*approverBlock `hcl:"approver,block"`
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
	Policy         *policyBlock   `hcl:"policy,block"`
	AWS            *awsBlock      `hcl:"aws,block"`
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
	PublicKey      string    `hcl:"public_key"`
	PublicKeyRange hcl.Range `hcl:"public_key,attr_value_range"`
}

// expectedValue says what each attribute takes, for type errors.
var expectedValue = map[string]string{
	"state_dir":          `a quoted path such as ".plangate"`,
	"dir":                `a quoted path such as "infra/web"`,
	"description":        `a quoted string`,
	"variables":          `a list of variable names such as ["replicas", "image_tag"]`,
	"var_files":          `a list of paths such as ["prod.tfvars"]`,
	"workspace":          `a quoted workspace name such as "default"`,
	"approvals":          `a whole number such as 1`,
	"deletion_approvals": `a whole number such as 2`,
	"max_deletions":      `a whole number such as 10`,
	"max_deletion_ratio": `a number such as 0.5`,
	"protected":          `a list of addresses such as ["aws_db_instance.main"]`,
	"plan_ttl":           `a quoted duration such as "1h"`,
	"region":             `a quoted region such as "us-east-1"`,
	"account_id":         `12 quoted digits such as "123456789012"`,
	"profile":            `a quoted profile name`,
	"plan_role_arn":      `a quoted role ARN`,
	"apply_role_arn":     `a quoted role ARN`,
	"endpoint_url":       `a quoted URL such as "http://127.0.0.1:5000"`,
	"session_duration":   `a quoted duration such as "2h"`,
	"public_key":         `a quoted key such as "ed25519:<base64>" (plangate keygen prints it)`,
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
	cfg := &Config{
		Path:     path,
		StateDir: filepath.Join(l.baseDir, DefaultStateDir),
	}
	if raw.StateDir != nil {
		if strings.TrimSpace(*raw.StateDir) == "" {
			l.errorf(raw.StateDirRange, "Invalid state_dir",
				"state_dir is empty: remove it to use %q, or name a directory relative to the config file", DefaultStateDir)
		} else {
			cfg.StateDir = l.resolve(*raw.StateDir)
		}
	}

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
		cfg.Stacks = append(cfg.Stacks, st)
	}

	approverAt := map[string]hcl.Range{}
	keyAt := map[string]*approverBlock{}
	for _, ra := range raw.Approvers {
		if first, dup := approverAt[ra.Name]; dup {
			l.errorf(ra.NameRange, "Duplicate approver",
				"approver %q is defined twice, here and at %s: rename or remove one of them", ra.Name, first)
			continue
		}
		approverAt[ra.Name] = ra.DefRange
		a := l.approver(ra)
		if a.PublicKey == nil {
			continue
		}
		// One key under two names would let one person count as two
		// distinct approvers and so defeat every quorum.
		if other, dup := keyAt[string(a.PublicKey)]; dup {
			l.errorf(ra.PublicKeyRange, "Duplicate approver key",
				"approver %q has the same public key as approver %q at %s: each approver needs their own key "+
					"(run plangate keygen --name %s), otherwise one person counts as two approvals",
				ra.Name, other.Name, other.DefRange, ra.Name)
			continue
		}
		keyAt[string(a.PublicKey)] = ra
		cfg.Approvers = append(cfg.Approvers, a)
	}
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
		Name:      rs.Name,
		Workspace: DefaultWorkspace,
		DeclRange: rs.DefRange,
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

	s.Policy = l.policy(rs.Name, rs.Policy)
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
	p := Policy{
		Approvals:        1,
		MaxDeletions:     -1,
		MaxDeletionRatio: DefaultMaxDeletionRatio,
		PlanTTL:          DefaultPlanTTL,
	}
	if rp == nil {
		p.DeletionApprovals = p.Approvals
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

func (l *loader) approver(ra *approverBlock) *Approver {
	l.checkName("approver", ra.Name, "oncall", ra.NameRange)
	a := &Approver{Name: ra.Name, DeclRange: ra.DefRange}
	key, err := ParsePublicKey(ra.PublicKey)
	if err != nil {
		l.errorf(ra.PublicKeyRange, "Invalid public_key",
			"approver %q: %v: the expected form is \"%s<standard base64 of the 32-byte Ed25519 public key>\"; "+
				"run plangate keygen --name %s, which prints the whole approver block to paste here",
			ra.Name, err, PublicKeyPrefix, ra.Name)
		return a
	}
	a.PublicKey = key
	return a
}

// ParsePublicKey parses an approver key as written in the config file:
// "ed25519:" followed by the standard base64 encoding of the 32-byte key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("public key %q does not start with %q", abbreviate(s), PublicKeyPrefix)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("public key is not standard base64 (%v)", err)
	}
	if len(raw) == ed25519.PrivateKeySize {
		return nil, fmt.Errorf("public key is %d bytes, the size of an Ed25519 private key: "+
			"never put a private key in the config, and paste the public key instead", len(raw))
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, not %d", len(raw), ed25519.PublicKeySize)
	}
	if bytes.Equal(raw, make([]byte, ed25519.PublicKeySize)) {
		return nil, errors.New("public key is all zeros")
	}
	return ed25519.PublicKey(raw), nil
}

// FormatPublicKey renders a key the way ParsePublicKey reads it.
func FormatPublicKey(key ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(key)
}

// abbreviate keeps a pasted secret-sized value from filling an error message.
func abbreviate(s string) string {
	const limit = 24
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
