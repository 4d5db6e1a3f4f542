package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plangate/plangate/passkey"
)

// FuzzLoad feeds arbitrary files to Load. Whatever the input, Load must not
// panic, every error must name the config file, and every config it accepts
// must hold the invariants the rest of plangate relies on.
//
//	go test ./config -run '^$' -fuzz FuzzLoad -fuzztime 1m
func FuzzLoad(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full", "plangate.hcl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(full))
	for _, tt := range errorCases {
		f.Add(tt.src)
	}
	f.Add("")
	f.Add("stack \"web\" {\n  dir = \"infra/web\"\n  policy {\n    max_deletion_ratio = 1e999999\n  }\n}\n")
	f.Add("stack \"web\" {\n  dir = \"infra/web\"\n  variables = [for v in [\"a\", \"b\"] : v]\n}\n")
	f.Add("stack \"web\" {\n  dir = \"infra/web\"\n  policy {\n    approvals = 1 / 0\n  }\n}\n")
	f.Add("stack \"web\" {\n  dir = \"infra/web\"\n  var_files = null\n  variables = [null]\n}\n")
	f.Add("stack \"web\" {\n  dir = <<EOT\ninfra/web\nEOT\n}\n")
	f.Add("{\"stack\": {\"web\": {\"dir\": \"infra/web\"}}}")
	f.Add("notify { webhook = \"https://hooks.example.com/x\" }\nstack \"web\" {\n  dir = \"infra/web\"\n  notify { webhook = \"http://[::1]:1/h\" }\n}\n")
	f.Add("notify { webhook = \"http://u:p@hooks.example.com/x\" }\nnotify { webhook = 1 }\n")
	for _, src := range passkeyConfigSeeds {
		f.Add(src)
	}
	f.Add("stack \"web\" \"extra\" {\n  dir = \"infra/web\"\n}\napprover \"a\" { public_key = \"ed25519:${1}\" }\n")

	f.Fuzz(func(t *testing.T, src string) {
		path := writeConfig(t, src)
		cfg, err := Load(path)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Load returned both a config and an error: %v", err)
			}
			if !strings.Contains(err.Error(), "plangate.hcl") {
				t.Fatalf("error does not name the file: %v", err)
			}
			var cerr *Error
			if errors.As(err, &cerr) && len(cerr.Diagnostics) == 0 {
				t.Fatalf("config error without diagnostics")
			}
			return
		}
		checkInvariants(t, cfg)
		for _, w := range append([]string{cfg.Webhook}, webhooksOf(cfg)...) {
			if w != "" && CheckWebhook(w) != nil {
				t.Fatalf("Load took a webhook CheckWebhook refuses")
			}
		}
	})
}

func webhooksOf(cfg *Config) []string {
	var out []string
	for _, st := range cfg.Stacks {
		out = append(out, st.Webhook)
	}
	return out
}

func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	checkShape(t, cfg, true)
}

// checkShape checks what every config plangate enforces holds; a loaded
// file's stack dirs exist too (dirsExist), an accepted record's may not
// any more.
func checkShape(t *testing.T, cfg *Config, dirsExist bool) {
	t.Helper()
	if !filepath.IsAbs(cfg.Path) || !filepath.IsAbs(cfg.StateDir) {
		t.Fatalf("relative path in config: %q, %q", cfg.Path, cfg.StateDir)
	}
	names := map[string]bool{}
	for _, s := range cfg.Stacks {
		if !namePattern.MatchString(s.Name) || names[s.Name] {
			t.Fatalf("bad or duplicate stack name %q", s.Name)
		}
		names[s.Name] = true
		if got, ok := cfg.Stack(s.Name); !ok || got != s {
			t.Fatalf("Stack(%q) does not find it", s.Name)
		}
		if info, err := os.Stat(s.Dir); !filepath.IsAbs(s.Dir) || dirsExist && (err != nil || !info.IsDir()) {
			t.Fatalf("stack %q dir %q is not an existing absolute directory", s.Name, s.Dir)
		}
		for _, f := range s.VarFiles {
			if !filepath.IsAbs(f) {
				t.Fatalf("stack %q var file %q is relative", s.Name, f)
			}
		}
		for _, v := range s.Variables {
			if !identifierPattern.MatchString(v) {
				t.Fatalf("stack %q variable %q is not an identifier", s.Name, v)
			}
		}
		if !workspacePattern.MatchString(s.Workspace) {
			t.Fatalf("stack %q workspace %q", s.Name, s.Workspace)
		}
		p := s.Policy
		if p.Approvals < 1 || p.DeletionApprovals < p.Approvals || p.MaxDeletions < -1 ||
			!(p.MaxDeletionRatio > 0 && p.MaxDeletionRatio <= 1) || p.PlanTTL <= 0 || p.PlanTTL > MaxPlanTTL {
			t.Fatalf("stack %q policy out of range: %+v", s.Name, p)
		}
		for _, pat := range p.Protected {
			if pat == "" || strings.ContainsAny(pat, " \t\r\n") {
				t.Fatalf("stack %q protected pattern %q", s.Name, pat)
			}
		}
		if a := s.AWS; a != nil && (a.Region == "" || a.AccountID != "" && len(a.AccountID) != 12 ||
			a.SessionDuration != 0 && (a.SessionDuration < MinSessionDuration || a.SessionDuration > MaxSessionDuration)) {
			t.Fatalf("stack %q aws block accepted with region %q, account_id %q", s.Name, a.Region, a.AccountID)
		}
	}
	if len(cfg.StackNames()) != len(cfg.Stacks) {
		t.Fatalf("StackNames and Stacks disagree")
	}
	keys := map[string]bool{}
	for _, a := range cfg.Approvers {
		id := "key:" + string(a.PublicKey)
		if a.Passkey != nil {
			id = "passkey:" + a.Passkey.RPID + ":" + string(a.Passkey.ID)
			if back, err := passkey.ParseCredential(a.Passkey.String()); err != nil || !back.Equal(a.Passkey) || a.PublicKey != nil {
				t.Fatalf("approver %q: passkey does not round-trip, or comes with a key", a.Name)
			}
		} else if len(a.PublicKey) != 32 {
			t.Fatalf("approver %q without a key or passkey", a.Name)
		}
		if !namePattern.MatchString(a.Name) || keys[id] {
			t.Fatalf("bad approver %q", a.Name)
		}
		keys[id] = true
	}
}

// FuzzParseAccepted feeds arbitrary bytes as the accepted-config record,
// which plangate reads back from disk on every call. It must never panic;
// a record it takes must round-trip, and must merge with itself to no
// change (what it enforces is exactly what it read).
//
//	go test ./config -run '^$' -fuzz FuzzParseAccepted -fuzztime 1m
func FuzzParseAccepted(f *testing.F) {
	dir := f.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "full"))); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "plangate.hcl")
	cfg, err := Load(path)
	if err != nil {
		f.Fatal(err)
	}
	a := &Accepted{Version: 1, ConfigSHA256: strings.Repeat("0f", 32), AcceptedAt: fixedTime, How: AcceptedByApprover, Approver: "oncall", Settings: SettingsOf(cfg)}
	b, err := a.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	withPasskey := *a
	withPasskey.Settings = SettingsOf(cfg)
	withPasskey.Settings.Approvers = append(withPasskey.Settings.Approvers, ApproverSetting{Name: "bob", Passkey: testCredA})
	if b, err = withPasskey.Marshal(); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(strings.Replace(string(b), `"passkey":"webauthn:`, `"public_key":"ed25519:AAAA","passkey":"webauthn:`, 1)))
	f.Add([]byte(`{"version":1,"config_sha256":"` + strings.Repeat("a", 64) + `","accepted_at":"2026-01-01T00:00:00Z","how":"first_use","settings":{"state_dir":"/s","approvers":[],"stacks":[{"name":"web","dir":"/w","workspace":"default","policy":{"approvals":1,"deletion_approvals":1,"max_deletions":-1,"max_deletion_ratio":0.5,"plan_ttl":"1h"}}]}}`))
	f.Add([]byte(`{"version":1,"config_sha256":"` + strings.Repeat("a", 64) + `","accepted_at":"2026-01-01T00:00:00Z","how":"first_use","settings":{"state_dir":"/s","webhook":"https://hooks.example.com/x","approvers":[],"stacks":[{"name":"web","dir":"/w","workspace":"default","webhook":"http://127.0.0.1:1/h","policy":{"approvals":1,"deletion_approvals":1,"max_deletions":-1,"max_deletion_ratio":0.5,"plan_ttl":"1h"}}]}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"settings":{"stacks":[{"policy":{"max_deletion_ratio":1e400}}]}}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		acc, accCfg, err := ParseAccepted(b, path)
		if err != nil {
			if acc != nil || accCfg != nil {
				t.Fatalf("ParseAccepted returned a record and an error: %v", err)
			}
			return
		}
		checkShape(t, accCfg, false)
		again, err := acc.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		acc2, cfg2, err := ParseAccepted(again, path)
		if err != nil {
			t.Fatalf("a record ParseAccepted took does not read back: %v", err)
		}
		if !acc2.Settings.Equal(SettingsOf(accCfg)) || !SettingsOf(cfg2).Equal(SettingsOf(accCfg)) {
			t.Fatalf("the record does not round-trip")
		}
		if eff, changes := Merge(accCfg, cfg2); len(changes) != 0 || !SettingsOf(eff).Equal(SettingsOf(accCfg)) {
			t.Fatalf("a config merged with itself changed: %v", changes)
		}
	})
}
