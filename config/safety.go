package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Safety only one way. plangate.hcl sits in the repository, where an agent
// edits files, so an edit that makes plangate less safe (an approver added,
// fewer approvals, a protected pattern removed, code allowed) must not take
// effect until an approver accepts it, while an edit that makes it safer
// takes effect at once. Merge computes, setting by setting, the stricter of
// the last accepted config and the file.

// Change is one safety setting on which the file differs from the
// accepted config.
type Change struct {
	// Setting names it: `approver "alice"`, `stack "web": approvals`.
	Setting string
	// Accepted and File are the two values, as a human reads them;
	// "(none)" when the setting is absent on that side.
	Accepted, File string
	// Loosens: the file's value is less safe, so it waits for an
	// approver's acceptance; otherwise it applies at once.
	Loosens bool
}

func (c Change) String() string {
	return c.Setting + ": " + c.Accepted + " -> " + c.File
}

const absent = "(none)"

// Merge returns the config plangate enforces — per setting the stricter of
// accepted and file — and every change on which they differ, in file
// order. Settings with no safe direction (a stack's dir, workspace, local_state,
// var_files or aws block, the state_dir, the provider_mirror, an
// approver's key or passkey) keep the accepted value until accepted. The file's own
// descriptions always apply.
func Merge(accepted, file *Config) (*Config, []Change) {
	m := &merger{}
	eff := &Config{
		Path:           file.Path,
		StateDir:       m.fixed("state_dir", accepted.StateDir, file.StateDir),
		ProviderMirror: m.fixed("provider_mirror", orNone(accepted.ProviderMirror), orNone(file.ProviderMirror)),
	}
	eff.Webhook = m.webhook("notify webhook", accepted.Webhook, file.Webhook)
	if eff.ProviderMirror == absent {
		eff.ProviderMirror = ""
	}

	for _, a := range file.Approvers {
		setting := fmt.Sprintf("approver %q", a.Name)
		old, ok := accepted.Approver(a.Name)
		switch {
		case !ok:
			m.loosen(setting, absent, KeyLabel(a))
		case !old.SameCredential(a):
			// No safe direction: the accepted key stays until the new
			// one is accepted (and may sign that acceptance).
			m.loosen(setting, KeyLabel(old), KeyLabel(a))
			eff.Approvers = append(eff.Approvers, old)
		default:
			eff.Approvers = append(eff.Approvers, a)
		}
	}
	for _, a := range accepted.Approvers {
		if _, ok := file.Approver(a.Name); !ok {
			m.tighten(fmt.Sprintf("approver %q", a.Name), KeyLabel(a), absent)
		}
	}

	for _, fs := range file.Stacks {
		as, ok := accepted.Stack(fs.Name)
		if !ok {
			m.loosen(fmt.Sprintf("stack %q", fs.Name), absent, stackLabel(fs))
			continue
		}
		st := m.stack(as, fs)
		st.ProviderMirror = eff.ProviderMirror
		eff.Stacks = append(eff.Stacks, st)
	}
	for _, as := range accepted.Stacks {
		if _, ok := file.Stack(as.Name); !ok {
			m.tighten(fmt.Sprintf("stack %q", as.Name), "dir "+as.Dir, absent)
		}
	}
	return eff, m.changes
}

type merger struct{ changes []Change }

func (m *merger) loosen(setting, accepted, file string) {
	m.changes = append(m.changes, Change{Setting: setting, Accepted: accepted, File: file, Loosens: true})
}

func (m *merger) tighten(setting, accepted, file string) {
	m.changes = append(m.changes, Change{Setting: setting, Accepted: accepted, File: file})
}

// fixed keeps the accepted value of a setting with no safe direction.
func (m *merger) fixed(setting, accepted, file string) string {
	if accepted != file {
		m.loosen(setting, accepted, file)
	}
	return accepted
}

func (m *merger) stack(a, f *Stack) *Stack {
	in := func(s string) string { return fmt.Sprintf("stack %q: %s", f.Name, s) }
	st := *f
	st.Dir = m.fixed(in("dir"), a.Dir, f.Dir)
	st.Workspace = m.fixed(in("workspace"), a.Workspace, f.Workspace)
	st.LocalState = m.fixed(in("local_state"), a.LocalState, f.LocalState)
	if !slices.Equal(a.VarFiles, f.VarFiles) {
		m.loosen(in("var_files"), list(a.VarFiles), list(f.VarFiles))
		st.VarFiles = slices.Clone(a.VarFiles)
	}
	if awsLabel(a.AWS) != awsLabel(f.AWS) {
		m.loosen(in("aws"), awsLabel(a.AWS), awsLabel(f.AWS))
	}
	st.AWS = a.AWS
	st.Webhook = m.webhook(in("notify webhook"), a.Webhook, f.Webhook)
	st.Variables = m.intersect(in("variables"), a.Variables, f.Variables)
	st.Policy = m.policy(in, a.Policy, f.Policy)
	return &st
}

// intersect keeps the items in both lists, in the file's order: an item
// added loosens, one removed tightens.
func (m *merger) intersect(setting string, accepted, file []string) []string {
	out := []string{}
	for _, v := range file {
		if slices.Contains(accepted, v) {
			out = append(out, v)
		} else {
			m.loosen(setting, absent, "+ "+strconv.Quote(v))
		}
	}
	for _, v := range accepted {
		if !slices.Contains(file, v) {
			m.tighten(setting, strconv.Quote(v), "- (removed)")
		}
	}
	return out
}

// union keeps the items of either list: an item removed loosens.
func (m *merger) union(setting string, accepted, file []string) []string {
	out := slices.Clone(file)
	for _, v := range file {
		if !slices.Contains(accepted, v) {
			m.tighten(setting, absent, "+ "+strconv.Quote(v))
		}
	}
	for _, v := range accepted {
		if !slices.Contains(file, v) {
			m.loosen(setting, strconv.Quote(v), "- (removed)")
			out = append(out, v)
		}
	}
	return out
}

// atLeast keeps the larger of two counts where more is safer.
func (m *merger) atLeast(setting string, accepted, file int) int {
	switch {
	case file < accepted:
		m.loosen(setting, strconv.Itoa(accepted), strconv.Itoa(file))
		return accepted
	case file > accepted:
		m.tighten(setting, strconv.Itoa(accepted), strconv.Itoa(file))
	}
	return file
}

// allowed keeps a permission only if both sides grant it.
func (m *merger) allowed(setting string, accepted, file bool) bool {
	switch {
	case file && !accepted:
		m.loosen(setting, "false", "true")
	case accepted && !file:
		m.tighten(setting, "true", "false")
	}
	return accepted && file
}

func (m *merger) policy(in func(string) string, a, f Policy) Policy {
	p := f
	p.Approvals = m.atLeast(in("approvals"), a.Approvals, f.Approvals)
	p.DeletionApprovals = m.atLeast(in("deletion_approvals"), a.DeletionApprovals, f.DeletionApprovals)

	// max_deletions: -1 is no limit, the loosest.
	limit := func(n int) int {
		if n < 0 {
			return int(^uint(0) >> 1)
		}
		return n
	}
	switch {
	case limit(f.MaxDeletions) > limit(a.MaxDeletions):
		m.loosen(in("max_deletions"), deletionsLabel(a.MaxDeletions), deletionsLabel(f.MaxDeletions))
		p.MaxDeletions = a.MaxDeletions
	case limit(f.MaxDeletions) < limit(a.MaxDeletions):
		m.tighten(in("max_deletions"), deletionsLabel(a.MaxDeletions), deletionsLabel(f.MaxDeletions))
	}

	switch {
	case f.MaxDeletionRatio > a.MaxDeletionRatio:
		m.loosen(in("max_deletion_ratio"), ratioLabel(a.MaxDeletionRatio), ratioLabel(f.MaxDeletionRatio))
		p.MaxDeletionRatio = a.MaxDeletionRatio
	case f.MaxDeletionRatio < a.MaxDeletionRatio:
		m.tighten(in("max_deletion_ratio"), ratioLabel(a.MaxDeletionRatio), ratioLabel(f.MaxDeletionRatio))
	}
	// A ratio set explicitly applies to stacks of any size: stricter.
	switch {
	case a.MaxDeletionRatioSet && !f.MaxDeletionRatioSet:
		m.loosen(in("max_deletion_ratio"), "set (applies to stacks of any size)",
			fmt.Sprintf("unset (applies from %d resources)", DefaultRatioMinResources))
	case f.MaxDeletionRatioSet && !a.MaxDeletionRatioSet:
		m.tighten(in("max_deletion_ratio"), fmt.Sprintf("unset (applies from %d resources)", DefaultRatioMinResources),
			"set (applies to stacks of any size)")
	}
	p.MaxDeletionRatioSet = a.MaxDeletionRatioSet || f.MaxDeletionRatioSet

	p.Protected = m.union(in("protected"), a.Protected, f.Protected)

	switch {
	case f.PlanTTL > a.PlanTTL:
		m.loosen(in("plan_ttl"), a.PlanTTL.String(), f.PlanTTL.String())
		p.PlanTTL = a.PlanTTL
	case f.PlanTTL < a.PlanTTL:
		m.tighten(in("plan_ttl"), a.PlanTTL.String(), f.PlanTTL.String())
	}

	p.AllowProvisioners = m.allowed(in("allow_provisioners"), a.AllowProvisioners, f.AllowProvisioners)
	p.AllowExternalData = m.allowed(in("allow_external_data"), a.AllowExternalData, f.AllowExternalData)

	kept := m.intersect(in("providers"), a.ProviderPatterns(), f.ProviderPatterns())
	p.Providers = make([]ProviderPattern, 0, len(kept))
	for _, s := range kept {
		pat, err := ParseProviderPattern(s)
		if err == nil {
			p.Providers = append(p.Providers, pat)
		}
	}
	return p
}

// stackLabel is every safety setting of a stack, for the review of a
// stack that acceptance adds.
func stackLabel(st *Stack) string {
	p := st.Policy
	parts := []string{
		"dir " + st.Dir, "workspace " + st.Workspace, "local_state " + st.LocalState, "variables " + list(st.Variables), "var_files " + list(st.VarFiles),
		fmt.Sprintf("approvals %d", p.Approvals), fmt.Sprintf("deletion_approvals %d", p.DeletionApprovals),
		"max_deletions " + deletionsLabel(p.MaxDeletions), "max_deletion_ratio " + ratioLabel(p.MaxDeletionRatio),
		"protected " + list(p.Protected), "plan_ttl " + p.PlanTTL.String(),
		fmt.Sprintf("allow_provisioners %t", p.AllowProvisioners), fmt.Sprintf("allow_external_data %t", p.AllowExternalData),
		"providers " + list(p.ProviderPatterns()), "aws " + awsLabel(st.AWS),
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return absent
	}
	return s
}

func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func deletionsLabel(n int) string {
	if n < 0 {
		return "no limit"
	}
	return strconv.Itoa(n)
}

func ratioLabel(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

func awsLabel(a *AWS) string {
	if a == nil {
		return absent
	}
	parts := []string{"account " + a.AccountID, "region " + a.Region, "plan role " + a.PlanRoleARN, "apply role " + a.ApplyRoleARN}
	if a.Profile != "" {
		parts = append(parts, "profile "+a.Profile)
	}
	if a.EndpointURL != "" {
		parts = append(parts, "endpoint "+a.EndpointURL)
	}
	if a.SessionDuration != 0 {
		parts = append(parts, "session "+a.SessionDuration.String())
	}
	return strings.Join(parts, ", ")
}
