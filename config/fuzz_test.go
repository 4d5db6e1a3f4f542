package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	})
}

func checkInvariants(t *testing.T, cfg *Config) {
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
		if info, err := os.Stat(s.Dir); !filepath.IsAbs(s.Dir) || err != nil || !info.IsDir() {
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
		if !namePattern.MatchString(a.Name) || len(a.PublicKey) != 32 || keys[string(a.PublicKey)] {
			t.Fatalf("bad approver %q", a.Name)
		}
		keys[string(a.PublicKey)] = true
	}
}
