package agenttoken

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the store file's parser: anyone
// who can write the state directory controls them. It must not panic, and
// what it accepts must obey the rules as an independent reading sees
// them: valid names and hashes, at most one live token per name, no hash
// twice. Whatever it accepts, a Store over that file authenticates no
// bearer that is not a token, and never returns an agent it did not list.
//
//	go test ./internal/agenttoken -run '^$' -fuzz FuzzParseFile -fuzztime 1m
func FuzzParseFile(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Add("ci", []string{"db", "web"}, t0); err != nil {
		f.Fatal(err)
	}
	if _, err := s.Add("dev", nil, t0); err != nil {
		f.Fatal(err)
	}
	if err := s.Revoke("dev"); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(s.Path())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"version":1,"tokens":null}`))
	f.Add([]byte(`{"version":1,"tokens":[{}]}`))
	f.Add(bytes.Replace(good, []byte(`"dev"`), []byte(`"ci"`), 1))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := parseFile(data)
		if err != nil {
			if tokens != nil {
				t.Fatalf("a refusal returned tokens")
			}
			return
		}
		// An independent reading of what was accepted.
		var raw struct {
			Tokens []map[string]any `json:"tokens"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("accepted, but encoding/json cannot read it: %v", err)
		}
		if len(raw.Tokens) != len(tokens) {
			t.Fatalf("accepted %d tokens, the file has %d", len(tokens), len(raw.Tokens))
		}
		live, hashes := map[string]bool{}, map[string]bool{}
		for _, r := range tokens {
			if !namePattern.MatchString(r.Name) || !hashPattern.MatchString(r.SHA256) || r.CreatedAt.IsZero() {
				t.Fatalf("accepted a token with name %q, sha256 %q, created_at %v", r.Name, r.SHA256, r.CreatedAt)
			}
			if hashes[r.SHA256] {
				t.Fatalf("accepted a hash twice")
			}
			hashes[r.SHA256] = true
			if r.live() {
				if live[r.Name] {
					t.Fatalf("accepted two live tokens of %q", r.Name)
				}
				live[r.Name] = true
			}
			for _, st := range r.Stacks {
				if !namePattern.MatchString(st) {
					t.Fatalf("accepted stack %q", st)
				}
			}
		}

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("parseFile accepted what Open refuses: %v", err)
		}
		for _, bearer := range []string{"", newSecret(), strings.Repeat("A", tokenLen)} {
			if a, err := s.Authenticate(bearer); err == nil || a != nil {
				t.Fatalf("authenticated a bearer that is no token of the file as %v", a)
			}
		}
		list, err := s.List()
		if err != nil || len(list) != len(tokens) {
			t.Fatalf("List: %d, %v; want %d", len(list), err, len(tokens))
		}
	})
}
