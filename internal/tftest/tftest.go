// Package tftest holds helpers for tests that run real Terraform.
package tftest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plangate/plangate/internal/tfbin"
)

// Setup finds terraform (failing the test with what to install when there
// is none: these tests never skip silently) and gives the test a Terraform
// CLI config of its own, so no developer's config or plugin cache leaks in,
// and a user state directory of its own ($XDG_STATE_HOME), so that a
// config without state_dir keeps its records there, never in the home.
func Setup(t testing.TB) string {
	t.Helper()
	path := Find(t)
	if _, err := tfbin.Find(); err != nil {
		t.Setenv(tfbin.EnvVar, path) // the bin/ fallback, for the code under test
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	return path
}

// Find is Setup's search for terraform without touching the environment
// (for parallel tests that pass Terraform an environment of their own):
// tfbin.Find, else, for `go test` run by hand on a machine without
// terraform, the one `make terraform` built into the repository's bin/.
func Find(t testing.TB) string {
	t.Helper()
	path, err := tfbin.Find()
	if err == nil {
		return path
	}
	p := filepath.Join(RepoRoot(t), "bin", "terraform")
	if _, statErr := os.Stat(p); statErr != nil {
		t.Fatalf("%v (run `make terraform`)", err)
	}
	return p
}

// Product is which program Find's terraform is (Terraform or OpenTofu),
// from its version output as plangate reads it: tests that check a text
// naming the program expect the one that runs (`make test-opentofu`).
func Product(t testing.TB) tfbin.Product {
	t.Helper()
	cmd := exec.Command(Find(t), "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s version: %v", Find(t), err)
	}
	p, _, err := tfbin.ParseVersion(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CopyDir copies the directory tree src into dst (created if needed).
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == ".terraform" || d.Name() == ".plangate" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// RepoRoot returns the module root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("go.mod not found above " + dir)
		}
	}
}
