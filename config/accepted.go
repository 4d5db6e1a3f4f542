package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/plangate/plangate/passkey"
)

// The accepted config is kept as its safety settings, not as HCL: what
// plangate enforces may be a merge of two files (Merge), and a record
// that plangate reads back must say exactly what it enforced.

// AcceptedFileName is the accepted-config record, kept in the config's
// default state directory (DefaultStateDir of the config path), whatever
// state_dir the file names: pointing state_dir at a fresh directory must
// not bring a fresh acceptance.
const AcceptedFileName = "accepted-config.json"

// MaxAcceptedSize bounds the record plangate reads back.
const MaxAcceptedSize = 4 << 20

// How a config came to be accepted.
const (
	// AcceptedFirstUse: the first config a state directory saw.
	AcceptedFirstUse = "first_use"
	// AcceptedByApprover: an approver signed it (plangate config accept).
	AcceptedByApprover = "approver"
	// AcceptedStricter: an edit made settings stricter, which apply at once.
	AcceptedStricter = "stricter"
)

// Accepted is the record of the config plangate last accepted.
type Accepted struct {
	Version int `json:"version"`
	// ConfigSHA256 is the SHA-256 of the plangate.hcl bytes last accepted
	// whole (first use, or an approver's acceptance).
	ConfigSHA256 string    `json:"config_sha256"`
	AcceptedAt   time.Time `json:"accepted_at"`
	How          string    `json:"how"`
	// Approver signed the acceptance (How is "approver").
	Approver string `json:"approver,omitempty"`
	// Request is the fingerprint of the signed request (never the request).
	Request string `json:"request_fingerprint,omitempty"`
	// HadApprovers: some accepted config had an approver. From then on
	// only an accepted approver can accept, even if the file removes
	// them all.
	HadApprovers bool     `json:"had_approvers,omitempty"`
	Settings     Settings `json:"settings"`
}

// Settings are a config's safety settings: everything Merge compares.
type Settings struct {
	StateDir       string            `json:"state_dir"`
	ProviderMirror string            `json:"provider_mirror,omitempty"`
	Approvers      []ApproverSetting `json:"approvers"`
	Stacks         []StackSetting    `json:"stacks"`
	// Webhook is the accepted top-level webhook; omitted when none
	// (records written before notifications existed).
	Webhook string `json:"webhook,omitempty"`
}

// ApproverSetting is an accepted approver and its key or passkey
// credential (exactly one), as written in the config.
type ApproverSetting struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key,omitempty"`
	Passkey   string `json:"passkey,omitempty"`
}

// StackSetting is an accepted stack.
type StackSetting struct {
	Name      string   `json:"name"`
	Dir       string   `json:"dir"`
	Variables []string `json:"variables"`
	VarFiles  []string `json:"var_files"`
	Workspace string   `json:"workspace"`
	// LocalState is omitted for the default, stack_dir (records written
	// before the setting existed).
	LocalState string        `json:"local_state,omitempty"`
	Policy     PolicySetting `json:"policy"`
	AWS        *AWSSetting   `json:"aws,omitempty"`
	Webhook    string        `json:"webhook,omitempty"`
}

// PolicySetting is an accepted stack policy.
type PolicySetting struct {
	Approvals           int      `json:"approvals"`
	DeletionApprovals   int      `json:"deletion_approvals"`
	MaxDeletions        int      `json:"max_deletions"`
	MaxDeletionRatio    float64  `json:"max_deletion_ratio"`
	MaxDeletionRatioSet bool     `json:"max_deletion_ratio_set"`
	Protected           []string `json:"protected"`
	PlanTTL             string   `json:"plan_ttl"`
	AllowProvisioners   bool     `json:"allow_provisioners"`
	AllowExternalData   bool     `json:"allow_external_data"`
	Providers           []string `json:"providers"`
}

// AWSSetting is an accepted aws block.
type AWSSetting struct {
	Region          string `json:"region"`
	AccountID       string `json:"account_id"`
	Profile         string `json:"profile,omitempty"`
	PlanRoleARN     string `json:"plan_role_arn"`
	ApplyRoleARN    string `json:"apply_role_arn"`
	EndpointURL     string `json:"endpoint_url,omitempty"`
	SessionDuration string `json:"session_duration,omitempty"`
}

// SettingsOf returns a config's safety settings.
func SettingsOf(c *Config) Settings {
	s := Settings{StateDir: c.StateDir, ProviderMirror: c.ProviderMirror, Webhook: c.Webhook, Approvers: []ApproverSetting{}, Stacks: []StackSetting{}}
	for _, a := range c.Approvers {
		as := ApproverSetting{Name: a.Name}
		if a.Passkey != nil {
			as.Passkey = a.Passkey.String()
		} else {
			as.PublicKey = FormatPublicKey(a.PublicKey)
		}
		s.Approvers = append(s.Approvers, as)
	}
	for _, st := range c.Stacks {
		p := st.Policy
		ss := StackSetting{
			Name: st.Name, Dir: st.Dir, Workspace: st.Workspace,
			LocalState: localStateSetting(st.LocalState),
			Variables:  nonNil(st.Variables), VarFiles: nonNil(st.VarFiles),
			Webhook: st.Webhook,
			Policy: PolicySetting{
				Approvals: p.Approvals, DeletionApprovals: p.DeletionApprovals, MaxDeletions: p.MaxDeletions,
				MaxDeletionRatio: p.MaxDeletionRatio, MaxDeletionRatioSet: p.MaxDeletionRatioSet,
				Protected: nonNil(p.Protected), PlanTTL: p.PlanTTL.String(),
				AllowProvisioners: p.AllowProvisioners, AllowExternalData: p.AllowExternalData,
				Providers: nonNil(p.ProviderPatterns()),
			},
		}
		if a := st.AWS; a != nil {
			ss.AWS = &AWSSetting{Region: a.Region, AccountID: a.AccountID, Profile: a.Profile,
				PlanRoleARN: a.PlanRoleARN, ApplyRoleARN: a.ApplyRoleARN, EndpointURL: a.EndpointURL}
			if a.SessionDuration != 0 {
				ss.AWS.SessionDuration = a.SessionDuration.String()
			}
		}
		s.Stacks = append(s.Stacks, ss)
	}
	return s
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return slices.Clone(v)
}

// Equal reports whether two settings are the same.
func (s Settings) Equal(o Settings) bool {
	a, err1 := json.Marshal(s)
	b, err2 := json.Marshal(o)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// Config rebuilds the config the settings describe, as the file at path,
// checking every value as Load would: a record edited into nonsense is an
// error, never a looser config.
func (s Settings) Config(path string) (*Config, error) {
	bad := func(format string, args ...any) error { return fmt.Errorf(format, args...) }
	c := &Config{Path: path}
	if !filepath.IsAbs(s.StateDir) {
		return nil, bad("state_dir %q is not an absolute path", s.StateDir)
	}
	c.StateDir = s.StateDir
	if s.ProviderMirror != "" && !filepath.IsAbs(s.ProviderMirror) {
		return nil, bad("provider_mirror %q is not an absolute path", s.ProviderMirror)
	}
	c.ProviderMirror = s.ProviderMirror
	if s.Webhook != "" {
		if err := CheckWebhook(s.Webhook); err != nil {
			return nil, err
		}
	}
	c.Webhook = s.Webhook
	keys := map[string]bool{}
	for _, a := range s.Approvers {
		if !namePattern.MatchString(a.Name) {
			return nil, bad("approver name %q is not valid", a.Name)
		}
		if _, dup := c.Approver(a.Name); dup {
			return nil, bad("approver %q is listed twice", a.Name)
		}
		ap, err := a.approver()
		if err != nil {
			return nil, bad("approver %q: %v", a.Name, err)
		}
		id := "key:" + string(ap.PublicKey)
		if ap.Passkey != nil {
			id = "passkey:" + ap.Passkey.RPID + ":" + string(ap.Passkey.ID)
		}
		if keys[id] {
			return nil, bad("approver %q has another approver's key or passkey", a.Name)
		}
		keys[id] = true
		c.Approvers = append(c.Approvers, ap)
	}
	for _, ss := range s.Stacks {
		st, err := ss.stack(c.ProviderMirror)
		if err != nil {
			return nil, bad("stack %q: %v", ss.Name, err)
		}
		if _, dup := c.Stack(st.Name); dup {
			return nil, bad("stack %q is listed twice", st.Name)
		}
		c.Stacks = append(c.Stacks, st)
	}
	return c, nil
}

// approver checks the setting's key or passkey (exactly one).
func (as ApproverSetting) approver() (*Approver, error) {
	switch {
	case as.PublicKey != "" && as.Passkey != "":
		return nil, errors.New("it has both public_key and passkey")
	case as.Passkey != "":
		cred, err := passkey.ParseCredential(as.Passkey)
		if err != nil {
			return nil, err
		}
		return &Approver{Name: as.Name, Passkey: cred}, nil
	}
	key, err := ParsePublicKey(as.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Approver{Name: as.Name, PublicKey: key}, nil
}

func (ss StackSetting) stack(mirror string) (*Stack, error) {
	if !namePattern.MatchString(ss.Name) {
		return nil, errors.New("the name is not valid")
	}
	if !filepath.IsAbs(ss.Dir) {
		return nil, fmt.Errorf("dir %q is not an absolute path", ss.Dir)
	}
	if !workspacePattern.MatchString(ss.Workspace) {
		return nil, fmt.Errorf("workspace %q is not valid", ss.Workspace)
	}
	localState := LocalStateStackDir
	switch ss.LocalState {
	case "", LocalStateStackDir:
	case LocalStateStateDir:
		localState = LocalStateStateDir
	default:
		return nil, fmt.Errorf("local_state %q is not valid", ss.LocalState)
	}
	for _, v := range ss.Variables {
		if !identifierPattern.MatchString(v) {
			return nil, fmt.Errorf("variable %q is not a Terraform identifier", v)
		}
	}
	for _, f := range ss.VarFiles {
		if !filepath.IsAbs(f) {
			return nil, fmt.Errorf("var file %q is not an absolute path", f)
		}
	}
	p, err := ss.Policy.policy()
	if err != nil {
		return nil, err
	}
	st := &Stack{Name: ss.Name, Dir: ss.Dir, Workspace: ss.Workspace, LocalState: localState, Variables: nonNil(ss.Variables),
		VarFiles: nonNil(ss.VarFiles), Policy: p, ProviderMirror: mirror, QueueTimeout: DefaultQueueTimeout}
	if ss.Webhook != "" {
		if err := CheckWebhook(ss.Webhook); err != nil {
			return nil, err
		}
		st.Webhook = ss.Webhook
	}
	if ss.AWS != nil {
		if st.AWS, err = ss.AWS.aws(); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (ps PolicySetting) policy() (Policy, error) {
	p := Policy{
		Approvals: ps.Approvals, DeletionApprovals: ps.DeletionApprovals, MaxDeletions: ps.MaxDeletions,
		MaxDeletionRatio: ps.MaxDeletionRatio, MaxDeletionRatioSet: ps.MaxDeletionRatioSet,
		Protected: nonNil(ps.Protected), AllowProvisioners: ps.AllowProvisioners, AllowExternalData: ps.AllowExternalData,
		Providers: []ProviderPattern{},
	}
	switch {
	case p.Approvals < 1:
		return p, fmt.Errorf("approvals %d is below 1", p.Approvals)
	case p.DeletionApprovals < p.Approvals:
		return p, fmt.Errorf("deletion_approvals %d is below approvals %d", p.DeletionApprovals, p.Approvals)
	case p.MaxDeletions < -1:
		return p, fmt.Errorf("max_deletions %d is below -1 (no limit)", p.MaxDeletions)
	case !(p.MaxDeletionRatio > 0 && p.MaxDeletionRatio <= 1):
		return p, fmt.Errorf("max_deletion_ratio %v is not in (0, 1]", p.MaxDeletionRatio)
	}
	ttl, err := time.ParseDuration(ps.PlanTTL)
	if err != nil || ttl <= 0 || ttl > MaxPlanTTL {
		return p, fmt.Errorf("plan_ttl %q is not a duration in (0, %s]", ps.PlanTTL, MaxPlanTTL)
	}
	p.PlanTTL = ttl
	for _, pat := range ps.Protected {
		if pat == "" || strings.ContainsAny(pat, " \t\r\n") {
			return p, fmt.Errorf("protected pattern %q is empty or has spaces", pat)
		}
	}
	for _, s := range ps.Providers {
		pat, err := ParseProviderPattern(s)
		if err != nil {
			return p, err
		}
		p.Providers = append(p.Providers, pat)
	}
	return p, nil
}

func (as *AWSSetting) aws() (*AWS, error) {
	a := &AWS{Region: as.Region, AccountID: as.AccountID, Profile: as.Profile,
		PlanRoleARN: as.PlanRoleARN, ApplyRoleARN: as.ApplyRoleARN, EndpointURL: as.EndpointURL}
	switch {
	case !regionPattern.MatchString(a.Region):
		return nil, fmt.Errorf("aws region %q is not valid", a.Region)
	case a.AccountID != "" && !accountIDPattern.MatchString(a.AccountID):
		return nil, fmt.Errorf("aws account_id %q is not 12 digits", a.AccountID)
	case !roleARNPattern.MatchString(a.PlanRoleARN) || !roleARNPattern.MatchString(a.ApplyRoleARN):
		return nil, errors.New("aws role ARNs are not IAM role ARNs")
	}
	if as.SessionDuration != "" {
		d, err := time.ParseDuration(as.SessionDuration)
		if err != nil || d < MinSessionDuration || d > MaxSessionDuration {
			return nil, fmt.Errorf("aws session_duration %q is not in [%s, %s]", as.SessionDuration, MinSessionDuration, MaxSessionDuration)
		}
		a.SessionDuration = d
	}
	return a, nil
}

// ParseAccepted reads an accepted-config record strictly: one JSON
// object of the known fields, version 1, every setting valid. path is the
// config file the record belongs to; the returned config is the accepted one.
func ParseAccepted(b []byte, path string) (*Accepted, *Config, error) {
	if len(b) > MaxAcceptedSize {
		return nil, nil, fmt.Errorf("the record is %d bytes, more than %d", len(b), MaxAcceptedSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Accepted
	if err := dec.Decode(&a); err != nil {
		return nil, nil, fmt.Errorf("not an accepted-config record: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, errors.New("not an accepted-config record: data after the JSON object")
	}
	switch {
	case a.Version != 1:
		return nil, nil, fmt.Errorf("record version %d: this plangate reads version 1", a.Version)
	case !isSHA256Hex(a.ConfigSHA256):
		return nil, nil, fmt.Errorf("config_sha256 %q is not a SHA-256 in hex", a.ConfigSHA256)
	case a.AcceptedAt.IsZero():
		return nil, nil, errors.New("accepted_at is missing")
	}
	switch a.How {
	case AcceptedFirstUse, AcceptedStricter:
	case AcceptedByApprover:
		if !namePattern.MatchString(a.Approver) {
			return nil, nil, fmt.Errorf("approver %q is not valid", a.Approver)
		}
	default:
		return nil, nil, fmt.Errorf("how %q is not first_use, approver or stricter", a.How)
	}
	cfg, err := a.Settings.Config(path)
	if err != nil {
		return nil, nil, err
	}
	// What was checked is what the record says, spelled one way.
	a.Settings = SettingsOf(cfg)
	return &a, cfg, nil
}

// Marshal renders the record as plangate writes it.
func (a *Accepted) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// localStateSetting is how a record keeps local_state: the default as
// absent, as records written before the setting existed have it.
func localStateSetting(v string) string {
	if v == LocalStateStackDir {
		return ""
	}
	return v
}
