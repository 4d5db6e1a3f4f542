package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testKey(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return FormatPublicKey(pub)
}

// baseline is a config with one approver and a stack with every safety
// setting at a middle value, so that each can move either way.
func baseline(key string) string {
	return `state_dir = "state"
stack "web" {
  dir       = "infra/web"
  variables = ["replicas", "image_tag"]
  policy {
    approvals          = 2
    deletion_approvals = 2
    max_deletions      = 5
    max_deletion_ratio = 0.5
    protected          = ["terraform_data.db"]
    plan_ttl           = "1h"
    allow_provisioners = true
  }
}
approver "alice" { public_key = "` + key + `" }
`
}

func loadSrc(t *testing.T, dir, src string) *Config {
	t.Helper()
	path := filepath.Join(dir, "plangate.hcl")
	mustWrite(t, path, src)
	cfg, err := Load(path)
	require.NoError(t, err)
	return cfg
}

func TestMergeAppliesStricterAtOnceAndKeepsLooserPending(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	key := testKey(t)
	accepted := loadSrc(t, dir, baseline(key))

	tests := []struct {
		name    string
		edit    func(string) string
		loosens bool
		setting string
		check   func(t *testing.T, eff *Config)
	}{
		{"more approvals", sub("approvals          = 2\n    deletion_approvals = 2", "approvals          = 3\n    deletion_approvals = 3"), false, `stack "web": approvals`,
			func(t *testing.T, eff *Config) { require.Equal(t, 3, eff.Stacks[0].Policy.Approvals) }},
		{"fewer approvals", sub("approvals          = 2\n    deletion_approvals = 2", "approvals          = 1\n    deletion_approvals = 1"), true, `stack "web": approvals`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, 2, eff.Stacks[0].Policy.Approvals)
				require.Equal(t, 2, eff.Stacks[0].Policy.DeletionApprovals)
			}},
		{"lower max_deletions", sub("max_deletions      = 5", "max_deletions      = 1"), false, `stack "web": max_deletions`,
			func(t *testing.T, eff *Config) { require.Equal(t, 1, eff.Stacks[0].Policy.MaxDeletions) }},
		{"max_deletions removed (no limit)", sub("    max_deletions      = 5\n", ""), true, `stack "web": max_deletions`,
			func(t *testing.T, eff *Config) { require.Equal(t, 5, eff.Stacks[0].Policy.MaxDeletions) }},
		{"higher ratio", sub("max_deletion_ratio = 0.5", "max_deletion_ratio = 0.9"), true, `stack "web": max_deletion_ratio`,
			func(t *testing.T, eff *Config) { require.Equal(t, 0.5, eff.Stacks[0].Policy.MaxDeletionRatio) }},
		{"protected added", sub(`["terraform_data.db"]`, `["terraform_data.db", "terraform_data.cache"]`), false, `stack "web": protected`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, []string{"terraform_data.db", "terraform_data.cache"}, eff.Stacks[0].Policy.Protected)
			}},
		{"protected removed", sub(`["terraform_data.db"]`, `[]`), true, `stack "web": protected`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, []string{"terraform_data.db"}, eff.Stacks[0].Policy.Protected)
			}},
		{"shorter ttl", sub(`plan_ttl           = "1h"`, `plan_ttl           = "10m"`), false, `stack "web": plan_ttl`,
			func(t *testing.T, eff *Config) { require.Equal(t, "10m0s", eff.Stacks[0].Policy.PlanTTL.String()) }},
		{"longer ttl", sub(`plan_ttl           = "1h"`, `plan_ttl           = "100h"`), true, `stack "web": plan_ttl`,
			func(t *testing.T, eff *Config) { require.Equal(t, "1h0m0s", eff.Stacks[0].Policy.PlanTTL.String()) }},
		{"provisioners disallowed", sub("allow_provisioners = true", "allow_provisioners = false"), false, `stack "web": allow_provisioners`,
			func(t *testing.T, eff *Config) { require.False(t, eff.Stacks[0].Policy.AllowProvisioners) }},
		{"external data allowed", sub("allow_provisioners = true", "allow_provisioners = true\n    allow_external_data = true"), true, `stack "web": allow_external_data`,
			func(t *testing.T, eff *Config) { require.False(t, eff.Stacks[0].Policy.AllowExternalData) }},
		{"provider added", sub("allow_provisioners = true", "allow_provisioners = true\n    providers = [\"hashicorp/*\", \"evil/*\"]"), true, `stack "web": providers`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, []string{"registry.terraform.io/hashicorp/*"}, eff.Stacks[0].Policy.ProviderPatterns())
			}},
		{"variable removed", sub(`["replicas", "image_tag"]`, `["replicas"]`), false, `stack "web": variables`,
			func(t *testing.T, eff *Config) { require.Equal(t, []string{"replicas"}, eff.Stacks[0].Variables) }},
		{"variable added", sub(`["replicas", "image_tag"]`, `["replicas", "image_tag", "admin_cidr"]`), true, `stack "web": variables`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, []string{"replicas", "image_tag"}, eff.Stacks[0].Variables)
			}},
		{"stack dir moved", sub(`dir       = "infra/web"`, `dir       = "."`), true, `stack "web": dir`,
			func(t *testing.T, eff *Config) {
				require.Equal(t, filepath.Join(dir, "infra", "web"), eff.Stacks[0].Dir)
			}},
		{"stack added", func(s string) string { return s + "stack \"evil\" {\n  dir = \".\"\n}\n" }, true, `stack "evil"`,
			func(t *testing.T, eff *Config) { require.Len(t, eff.Stacks, 1) }},
		{"stack removed", func(s string) string { return s[strings.Index(s, "approver"):] }, false, `stack "web"`,
			func(t *testing.T, eff *Config) { require.Empty(t, eff.Stacks) }},
		{"approver added", func(s string) string { return s + `approver "mallory" { public_key = "` + testKey(t) + `" }` + "\n" }, true, `approver "mallory"`,
			func(t *testing.T, eff *Config) { require.Len(t, eff.Approvers, 1) }},
		{"approver key changed", sub(key, testKey(t)), true, `approver "alice"`,
			func(t *testing.T, eff *Config) {
				require.Len(t, eff.Approvers, 1)
				require.Equal(t, key, FormatPublicKey(eff.Approvers[0].PublicKey), "the accepted key stays until the new one is accepted")
			}},
		{"approver removed", func(s string) string { return s[:strings.Index(s, "approver")] }, false, `approver "alice"`,
			func(t *testing.T, eff *Config) { require.Empty(t, eff.Approvers) }},
		{"state_dir moved", sub(`state_dir = "state"`, `state_dir = "elsewhere"`), true, "state_dir",
			func(t *testing.T, eff *Config) { require.Equal(t, filepath.Join(dir, "state"), eff.StateDir) }},
		{"provider_mirror set", func(s string) string { return "provider_mirror = \"infra\"\n" + s }, true, "provider_mirror",
			func(t *testing.T, eff *Config) { require.Empty(t, eff.ProviderMirror) }},
		// Another binary is another program running the stacks' code: it
		// waits for an approver, and terraform keeps running until then.
		{"terraform_binary set", func(s string) string { return "terraform_binary = \"tofu\"\n" + s }, true, "terraform_binary",
			func(t *testing.T, eff *Config) { require.Empty(t, eff.TerraformBinary) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := loadSrc(t, dir, tt.edit(baseline(key)))
			eff, changes := Merge(accepted, file)
			require.NotEmpty(t, changes)
			var found bool
			for _, c := range changes {
				if c.Setting == tt.setting {
					found = true
					require.Equal(t, tt.loosens, c.Loosens, "%s", c)
				}
			}
			require.True(t, found, "no change for %s in %v", tt.setting, changes)
			tt.check(t, eff)
		})
	}
}

func TestMergeOfTheSameConfigChangesNothing(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	src := baseline(testKey(t))
	a, b := loadSrc(t, dir, src), loadSrc(t, dir, strings.Replace(src, `dir       = "infra/web"`, "dir = \"infra/web\"\n  description = \"new words\"", 1))
	eff, changes := Merge(a, b)
	require.Empty(t, changes)
	require.Equal(t, "new words", eff.Stacks[0].Description, "descriptions are not safety settings")
	require.True(t, SettingsOf(eff).Equal(SettingsOf(a)))
}

func TestAcceptedRecordRoundTrips(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "full", "plangate.hcl"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "full"))))
	cfg := loadSrc(t, dir, string(full))
	a := &Accepted{Version: 1, ConfigSHA256: hashHex(full), AcceptedAt: fixedTime, How: AcceptedFirstUse, Settings: SettingsOf(cfg)}
	b, err := a.Marshal()
	require.NoError(t, err)
	back, backCfg, err := ParseAccepted(b, cfg.Path)
	require.NoError(t, err)
	require.True(t, back.Settings.Equal(a.Settings))
	eff, changes := Merge(backCfg, cfg)
	require.Empty(t, changes, "the record holds every safety setting of the full config")
	require.True(t, SettingsOf(eff).Equal(a.Settings))
}

func TestParseAcceptedRefusesNonsense(t *testing.T) {
	dir := filepath.Dir(writeConfig(t, ""))
	cfg := loadSrc(t, dir, baseline(testKey(t)))
	good := &Accepted{Version: 1, ConfigSHA256: strings.Repeat("ab", 32), AcceptedAt: fixedTime, How: AcceptedFirstUse, Settings: SettingsOf(cfg)}
	for name, edit := range map[string]func(a *Accepted){
		"version":       func(a *Accepted) { a.Version = 2 },
		"sha":           func(a *Accepted) { a.ConfigSHA256 = "zz" },
		"how":           func(a *Accepted) { a.How = "trust me" },
		"approvals":     func(a *Accepted) { a.Settings.Stacks[0].Policy.Approvals = 0 },
		"ratio":         func(a *Accepted) { a.Settings.Stacks[0].Policy.MaxDeletionRatio = 7 },
		"ttl":           func(a *Accepted) { a.Settings.Stacks[0].Policy.PlanTTL = "9999h" },
		"key":           func(a *Accepted) { a.Settings.Approvers[0].PublicKey = "ed25519:AAAA" },
		"relative dir":  func(a *Accepted) { a.Settings.Stacks[0].Dir = "infra" },
		"provider":      func(a *Accepted) { a.Settings.Stacks[0].Policy.Providers = []string{"*/x/y"} },
		"approver name": func(a *Accepted) { a.Settings.Approvers[0].Name = "Alice Smith" },
		"binary path":   func(a *Accepted) { a.Settings.TerraformBinary = "bin/tofu" },
		"binary space":  func(a *Accepted) { a.Settings.TerraformBinary = " tofu" },
	} {
		t.Run(name, func(t *testing.T) {
			a := *good
			a.Settings = SettingsOf(cfg)
			edit(&a)
			b, err := a.Marshal()
			require.NoError(t, err)
			_, _, err = ParseAccepted(b, cfg.Path)
			require.Error(t, err)
		})
	}
	b, _ := good.Marshal()
	_, _, err := ParseAccepted(append(b, []byte(`{}`)...), cfg.Path)
	require.ErrorContains(t, err, "data after")
	_, _, err = ParseAccepted([]byte(strings.Replace(string(b), `"version"`, `"extra": 1, "version"`, 1)), cfg.Path)
	require.ErrorContains(t, err, "unknown field")
}
