// Package awsguard checks which AWS identity Terraform will act as before a
// plan or an apply, and hands Terraform the credentials of the stack's plan
// or apply role, never more.
//
// Before every plan and every apply the guard loads plangate's own
// credentials the standard way (aws-sdk-go-v2/config: environment, shared
// config and credentials files with the stack's profile, SSO, credential
// processes, container and instance roles), asks STS GetCallerIdentity who
// they are, assumes the plan or apply role when the stack's aws block names
// one (session "plangate-plan-<plan id prefix>" or "plangate-apply-<...>"),
// asks GetCallerIdentity again with the role's temporary credentials, and
// refuses when that identity is not in the stack's account_id. The result is
// a Session: the identity (for the plan summary, plan record and audit log)
// and the environment variables Terraform's process needs.
//
// Credentials live only in memory and in Session.Env, which goes to
// Terraform's process environment: never to a log, a file or an error.
// Session prints, logs and marshals as its identity only.
package awsguard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	plconfig "github.com/plangate/plangate/config"
)

// DefaultTimeout bounds each AWS call the guard makes (credential lookup,
// GetCallerIdentity, AssumeRole).
const DefaultTimeout = 10 * time.Second

// Identity is who AWS says the credentials belong to (STS GetCallerIdentity).
type Identity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
}

// Guard checks identities and assumes roles for one stack's aws block.
// It is safe for concurrent use.
type Guard struct {
	region, accountID, profile string
	planRole, applyRole        string
	endpointURL                string

	timeout  time.Duration
	duration time.Duration
	baseEnv  map[string]string
}

// Option configures a Guard.
type Option func(*Guard)

// WithTimeout bounds each AWS call (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(g *Guard) {
		if d > 0 {
			g.timeout = d
		}
	}
}

// WithSessionDuration sets how long assumed-role credentials last (AWS's
// default, one hour, when unset). An apply that outlives its credentials
// fails: set this above the longest apply, within the role's
// MaxSessionDuration.
func WithSessionDuration(d time.Duration) Option {
	return func(g *Guard) { g.duration = d }
}

// WithBaseEnv makes the guard find its own credentials in env instead of
// the process environment, for tests that run guards of different
// identities side by side. The standard order applies to env: the aws
// block's profile if set; else static keys (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); else the profile AWS_PROFILE
// (or "default") of AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE
// (default $HOME/.aws/config and $HOME/.aws/credentials of env), with SSO,
// credential_process and role profiles; else the instance role, unless env
// sets AWS_EC2_METADATA_DISABLED=true. The SDK still takes a few settings
// from the process environment whatever this says (container credentials
// for a profile without any, AWS_ENDPOINT_URL*, AWS_CA_BUNDLE): tests keep
// those unset.
func WithBaseEnv(env map[string]string) Option {
	return func(g *Guard) {
		g.baseEnv = make(map[string]string, len(env))
		for k, v := range env {
			g.baseEnv[k] = v
		}
	}
}

// New returns a guard for a stack's aws block.
func New(cfg *plconfig.AWS, opts ...Option) *Guard {
	g := &Guard{timeout: DefaultTimeout}
	if cfg != nil {
		g.region, g.accountID, g.profile = cfg.Region, cfg.AccountID, cfg.Profile
		g.planRole, g.applyRole = cfg.PlanRoleARN, cfg.ApplyRoleARN
		g.endpointURL = cfg.EndpointURL
		g.duration = cfg.SessionDuration
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Plan returns the credentials for a plan: plangate's own identity is
// checked with GetCallerIdentity; with plan_role_arn the role is assumed
// (session "plangate-plan-<first 8 characters of planID>") and its identity
// checked again. Refused, with nothing run, when the identity Terraform
// would act as is not in account_id.
func (g *Guard) Plan(ctx context.Context, planID string) (*Session, error) {
	return g.session(ctx, OpPlan, g.planRole, planID)
}

// Apply is Plan for an apply, with apply_role_arn and session
// "plangate-apply-<prefix>". Call it only after the approvals verified, and
// compare the result with the plan's identity (CheckApplyAccount).
func (g *Guard) Apply(ctx context.Context, planID string) (*Session, error) {
	return g.session(ctx, OpApply, g.applyRole, planID)
}

// CheckApplyAccount refuses an apply whose credentials are in another
// account than the plan was made in.
func CheckApplyAccount(plan Identity, apply *Session) error {
	if apply == nil || plan.Account == "" || plan.Account == apply.Identity.Account {
		return nil
	}
	return &AccountMismatchError{Op: OpApply, Expected: plan.Account, Actual: apply.Identity.Account, ARN: apply.Identity.ARN, PlanAccount: true}
}

// SessionName is the role session name for op and planID:
// "plangate-<op>-<first 8 characters of planID>"; for OpRead, planID is the
// stack's name, kept whole up to the 64 characters a session name may have.
func SessionName(op Op, planID string) string {
	prefix := invalidSessionChars.ReplaceAllString(planID, "-")
	head := "plangate-" + string(op) + "-"
	limit := 8
	if op == OpRead {
		limit = 64 - len(head)
	}
	if len(prefix) > limit {
		prefix = prefix[:limit]
	}
	return head + prefix
}

// invalidSessionChars are the characters a role session name cannot hold.
var invalidSessionChars = regexp.MustCompile(`[^\w+=,.@-]`)

func (g *Guard) session(ctx context.Context, op Op, role, planID string) (*Session, error) {
	if planID == "" {
		return nil, fmt.Errorf("refusing to %s: nothing ran: no plan id to name the AWS role session after", op)
	}
	cfg, err := g.load(ctx, op)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("refusing to %s: nothing ran: no AWS region: set region in the stack's aws block", op)
	}

	// plangate's own credentials.
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	creds, err := cfg.Credentials.Retrieve(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("refusing to %s: nothing ran: cancelled while loading AWS credentials: %w", op, ctx.Err())
		}
		return nil, classifyRetrieve(op, g.profileInUse(), err)
	}
	if creds.CanExpire && creds.Expired() {
		return nil, &ExpiredCredentialsError{Op: op, Source: creds.Source, Expires: creds.Expires, Err: errors.New("the SDK returned credentials past their expiry time")}
	}
	base, err := g.callerIdentity(ctx, op, cfg, creds, "")
	if err != nil {
		return nil, err
	}

	s := &Session{Base: base, Identity: base, RoleARN: role}
	final := creds
	if role != "" {
		assumed, err := g.assumeRole(ctx, op, cfg, creds, base, role, SessionName(op, planID))
		if err != nil {
			return nil, err
		}
		final = assumed
		s.Identity, err = g.callerIdentity(ctx, op, cfg, assumed, role)
		if err != nil {
			return nil, err
		}
	}
	if g.accountID != "" && s.Identity.Account != g.accountID {
		return nil, &AccountMismatchError{Op: op, Expected: g.accountID, Actual: s.Identity.Account, ARN: s.Identity.ARN}
	}
	if final.CanExpire {
		s.Expires = final.Expires
	}
	s.Env = sessionEnv(final, cfg.Region)
	return s, nil
}

// load resolves plangate's own credentials chain (lazily: nothing is
// fetched yet).
func (g *Guard) load(ctx context.Context, op Op) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{}
	if g.region != "" {
		opts = append(opts, config.WithRegion(g.region))
	}
	if g.baseEnv == nil {
		if g.profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(g.profile))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return aws.Config{}, g.loadError(op, err)
		}
		return cfg, nil
	}

	env := g.baseEnv
	home := env["HOME"]
	configFile, credsFile := env["AWS_CONFIG_FILE"], env["AWS_SHARED_CREDENTIALS_FILE"]
	if configFile == "" && home != "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	if credsFile == "" && home != "" {
		credsFile = filepath.Join(home, ".aws", "credentials")
	}
	if configFile == "" {
		configFile = os.DevNull
	}
	if credsFile == "" {
		credsFile = os.DevNull
	}
	imdsOff := env["AWS_EC2_METADATA_DISABLED"] == "true"
	opts = append(opts, config.WithSharedConfigFiles([]string{configFile}), config.WithSharedCredentialsFiles([]string{credsFile}))
	if imdsOff {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	switch {
	case g.profile != "":
		opts = append(opts, config.WithSharedConfigProfile(g.profile))
	case env["AWS_ACCESS_KEY_ID"] != "" && env["AWS_SECRET_ACCESS_KEY"] != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])))
	default:
		profile := env["AWS_PROFILE"]
		implicit := profile == ""
		if implicit {
			profile = "default"
		}
		cfg, err := config.LoadDefaultConfig(ctx, append(opts, config.WithSharedConfigProfile(profile))...)
		var notExist config.SharedConfigProfileNotExistError
		if err != nil && implicit && errors.As(err, &notExist) {
			// No default profile: the instance role is next.
			var provider aws.CredentialsProvider = noCredentials{}
			if !imdsOff {
				provider = ec2rolecreds.New()
			}
			cfg, err = config.LoadDefaultConfig(ctx, append(opts, config.WithCredentialsProvider(provider))...)
		}
		if err != nil {
			return aws.Config{}, g.loadError(op, err)
		}
		return cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, g.loadError(op, err)
	}
	return cfg, nil
}

// noCredentials is the end of the chain in base-env mode.
type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no static keys, no profile with credentials, instance role disabled (AWS_EC2_METADATA_DISABLED=true)")
}

func (g *Guard) loadError(op Op, err error) error {
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		return &NoCredentialsError{Op: op, Profile: notExist.Profile, Err: err}
	}
	return fmt.Errorf("refusing to %s: nothing ran: loading AWS configuration: %w. Fix the shared config file (~/.aws/config or AWS_CONFIG_FILE) and try again", op, err)
}

// profileInUse names the profile the chain used, for error messages.
func (g *Guard) profileInUse() string {
	if g.profile != "" {
		return g.profile
	}
	if g.baseEnv != nil {
		return g.baseEnv["AWS_PROFILE"]
	}
	return os.Getenv("AWS_PROFILE")
}

// stsClient is an STS client signing with creds, sent to endpoint_url when
// the aws block sets one.
func (g *Guard) stsClient(cfg aws.Config, creds aws.Credentials) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = credentials.StaticCredentialsProvider{Value: creds}
		if g.endpointURL != "" {
			o.BaseEndpoint = aws.String(g.endpointURL)
			o.APIOptions = append(o.APIOptions, fixEmulatorErrors)
		}
	})
}

func (g *Guard) callerIdentity(ctx context.Context, op Op, cfg aws.Config, creds aws.Credentials, role string) (Identity, error) {
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	out, err := g.stsClient(cfg, creds).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		cerr := g.classifySTS(cctx, op, "GetCallerIdentity", "", "", err)
		if role != "" {
			cerr = fmt.Errorf("%w (GetCallerIdentity with the temporary credentials of role %s)", cerr, role)
		}
		return Identity{}, cerr
	}
	return Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}

func (g *Guard) assumeRole(ctx context.Context, op Op, cfg aws.Config, creds aws.Credentials, base Identity, role, sessionName string) (aws.Credentials, error) {
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(sessionName)}
	if g.duration > 0 {
		in.DurationSeconds = aws.Int32(int32(g.duration / time.Second))
	}
	out, err := g.stsClient(cfg, creds).AssumeRole(cctx, in)
	if err != nil {
		return aws.Credentials{}, g.classifySTS(cctx, op, "AssumeRole", role, base.ARN, err)
	}
	c := out.Credentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" {
		return aws.Credentials{}, fmt.Errorf("refusing to %s: nothing ran: AWS STS AssumeRole of %s returned no credentials", op, role)
	}
	res := aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          "AssumeRole " + role,
	}
	if c.Expiration != nil {
		res.CanExpire, res.Expires = true, *c.Expiration
	}
	return res, nil
}

// stsEndpoint is where the guard's STS calls go.
func (g *Guard) stsEndpoint(ctx context.Context) string {
	if g.endpointURL != "" {
		return g.endpointURL
	}
	ep, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sts.EndpointParameters{Region: aws.String(g.region)})
	if err != nil {
		return "https://sts." + g.region + ".amazonaws.com"
	}
	return ep.URI.String()
}

// fixEmulatorErrors (endpoint_url only) makes moto's authorization errors
// readable: moto wraps them in <ErrorResponse><Errors><Error>, where STS's
// query protocol has <ErrorResponse><Error>, and the SDK would report
// "UnknownError" instead of AccessDenied.
var fixEmulatorErrors = func(stack *middleware.Stack) error {
	return stack.Deserialize.Insert(emulatorErrors{}, "OperationDeserializer", middleware.After)
}

// Read returns the credentials for reading the stack's state (show_stack,
// outputs): the plan role's, with session "plangate-read-<name>", checked
// like a plan's.
func (g *Guard) Read(ctx context.Context, name string) (*Session, error) {
	return g.session(ctx, OpRead, g.planRole, name)
}

// Guards makes the guard of every stack that has an aws block, all with the
// same options. A nil *Guards makes guards with the default options.
type Guards struct {
	opts []Option
}

// NewGuards returns Guards whose guards take opts.
func NewGuards(opts ...Option) *Guards {
	return &Guards{opts: opts}
}

// For returns the guard of st, nil when st has no aws block (plangate then
// leaves Terraform's AWS credentials, if any, to Terraform).
func (gs *Guards) For(st *plconfig.Stack) *Guard {
	if st == nil || st.AWS == nil {
		return nil
	}
	var opts []Option
	if gs != nil {
		opts = gs.opts
	}
	return New(st.AWS, opts...)
}
