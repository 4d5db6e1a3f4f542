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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/plangate/plangate/internal/lazyre"
	"github.com/plangate/plangate/passkey"
)

const (
	// DefaultFileName is the config file looked for in the working directory.
	DefaultFileName = "plangate.hcl"
	// EnvVar names the environment variable that points at the config file.
	EnvVar = "PLANGATE_CONFIG"
	// PublicKeyPrefix starts every approver public key in the config file.
	PublicKeyPrefix = "ed25519:"

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
	// DefaultQueueTimeout is how long a Terraform run waits for a busy
	// stack when the stack sets no queue_timeout.
	DefaultQueueTimeout = 2 * time.Minute
	// MaxQueueTimeout bounds queue_timeout.
	MaxQueueTimeout = time.Hour
)

var (
	namePattern       = lazyre.New(`^[a-z][a-z0-9_-]{0,62}$`)
	identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	workspacePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	regionPattern     = lazyre.New(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountIDPattern  = lazyre.New(`^[0-9]{12}$`)
	roleARNPattern    = lazyre.New(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$`)
)

// Config is a loaded and validated plangate.hcl.
type Config struct {
	Path     string // absolute path of the file
	StateDir string // absolute; default DefaultStateDir(Path), outside the repository
	// ProviderMirror is the filesystem mirror Terraform installs providers
	// from (top-level provider_mirror); "" means the registry.
	ProviderMirror string
	// TerraformBinary is the program plangate runs (top-level
	// terraform_binary): a command name looked up on PATH, such as "tofu",
	// or an absolute path; "" means terraform. $PLANGATE_TERRAFORM, where
	// set, overrides it (internal/tfbin).
	TerraformBinary string
	Stacks          []*Stack // in file order
	Approvers       []*Approver
	// Webhook is the top-level notify block's webhook; "" means none.
	// WebhookFor picks a stack's.
	Webhook string
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

// Where a stack's local Terraform state lives.
const (
	LocalStateStackDir = "stack_dir"
	LocalStateStateDir = "state_dir"
)

// LocalStatePath is the state file of a stack with local_state =
// "state_dir": under stateDir, one per stack and workspace.
func LocalStatePath(stateDir string, st *Stack) string {
	ws := st.Workspace
	if ws == "" {
		ws = DefaultWorkspace
	}
	return filepath.Join(stateDir, "tfstate", st.Name, ws, "terraform.tfstate")
}

// Stack is one Terraform root module that agents may plan against.
type Stack struct {
	Name        string
	Dir         string // absolute
	Description string
	Variables   []string // the only variables an agent may set
	VarFiles    []string // absolute
	Workspace   string   // default "default"
	// LocalState is where Terraform's local backend keeps the stack's
	// state: LocalStateStackDir (the default, as Terraform does) or
	// LocalStateStateDir (LocalStatePath).
	LocalState string
	// QueueTimeout is how long a run waits for the stack while another
	// runs (default DefaultQueueTimeout).
	QueueTimeout time.Duration
	Policy       Policy
	AWS          *AWS // nil when absent
	// ProviderMirror is the config's provider_mirror, for this stack's
	// Terraform runs; "" means the registry.
	ProviderMirror string
	// Webhook is the stack's own notify block's webhook, which replaces
	// the top-level one for the stack's events; "" means none.
	Webhook   string
	DeclRange hcl.Range // for error messages
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
	// AllowProvisioners lets a plan create or destroy instances that have
	// provisioners (local-exec, remote-exec, file); default false.
	AllowProvisioners bool
	// AllowExternalData lets the configuration use data "external", whose
	// program runs while Terraform plans; default false.
	AllowExternalData bool
	// Providers are the provider sources a stack may use besides the
	// builtin one; default DefaultProviders().
	Providers []ProviderPattern
}

// DefaultPolicy is the policy of a stack whose policy block sets nothing:
// one approval, for deletions too; no deletion limit; the default
// mass-deletion ratio and plan_ttl; no provisioners, no external data
// sources, HashiCorp's providers only.
func DefaultPolicy() Policy {
	return Policy{
		Approvals: 1, DeletionApprovals: 1, MaxDeletions: -1,
		MaxDeletionRatio: DefaultMaxDeletionRatio, PlanTTL: DefaultPlanTTL,
		Providers: DefaultProviders(),
	}
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

// Approver is a human whose signature counts as an approval: with an
// Ed25519 key (PublicKey, pgt1 tokens from plangate approve) or a WebAuthn
// passkey (Passkey, pgt2 tokens from the review page); exactly one is set.
type Approver struct {
	Name      string
	PublicKey ed25519.PublicKey
	Passkey   *passkey.Credential
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
	src, err := readConfigFile(abs)
	if err != nil {
		return nil, err
	}
	return Parse(abs, src, opts...)
}

// Parse reads a config file's contents, src, as the file at path (paths
// inside are relative to its directory): callers that hash the bytes they
// trust parse exactly those bytes.
func Parse(path string, src []byte, opts ...Option) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("locate config file %s: %w", path, err)
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
