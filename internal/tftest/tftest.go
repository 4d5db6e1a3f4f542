// Package tftest holds helpers for tests that run real Terraform.
package tftest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/plangate/plangate/internal/tfbin"
)

// Setup finds terraform (failing the test with what to install when there
// is none: these tests never skip silently) and gives the test a Terraform
// CLI config of its own, so no developer's config or plugin cache leaks in.
func Setup(t testing.TB) string {
	t.Helper()
	path, err := tfbin.Find()
	if err != nil {
		// `go test` run by hand on a machine without terraform: use the one
		// `make terraform` built into the repository's bin/.
		p := filepath.Join(RepoRoot(t), "bin", "terraform")
		if _, statErr := os.Stat(p); statErr != nil {
			t.Fatalf("%v (run `make terraform`)", err)
		}
		t.Setenv(tfbin.EnvVar, p)
		path = p
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	return path
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
