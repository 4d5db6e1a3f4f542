package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run builds testprogress, runs `go test -json` over a throwaway module
// holding tests, and pipes one into the other, as make test does.
func run(t *testing.T, tests string, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "testprogress")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	mod := filepath.Join(dir, "mod")
	require.NoError(t, os.MkdirAll(filepath.Join(mod, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/mod\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "sub", "sub_test.go"), []byte(tests), 0o644))

	goTest := exec.Command("go", "test", "-json", "-count=1", "./...")
	goTest.Dir = mod
	goTest.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	filter := exec.Command(bin, append([]string{"-module", "example.com/mod/"}, args...)...)
	pipe, err := goTest.StdoutPipe()
	require.NoError(t, err)
	filter.Stdin = pipe
	var b strings.Builder
	filter.Stdout = &b
	require.NoError(t, goTest.Start())
	require.NoError(t, filter.Start())
	_ = goTest.Wait()
	err = filter.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return b.String(), code
}

func TestFailuresAndSkipsAreShown(t *testing.T) {
	out, code := run(t, `package sub

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when passing") }
func TestFails(t *testing.T) {
	t.Run("inner", func(t *testing.T) { t.Fatal("boom: the reason") })
}
func TestSkips(t *testing.T) { t.Skip("needs chromium") }
`)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "--- FAIL sub TestFails")
	assert.Contains(t, out, "boom: the reason", "a failing test's output is printed")
	assert.NotContains(t, out, "quiet when passing", "a passing test's output is not")
	assert.Contains(t, out, "FAIL sub")
	assert.Contains(t, out, "1 passed, 1 failed, 1 skipped")
	assert.Contains(t, out, "sub TestSkips: ")
	assert.Contains(t, out, "needs chromium", "a skip names its reason")
	assert.Contains(t, out, "FAILED (1):\n  sub TestFails")
}

func TestAllPassingExitsZero(t *testing.T) {
	out, code := run(t, `package sub

import "testing"

func TestA(t *testing.T) {}
func TestB(t *testing.T) {}
`)
	assert.Equal(t, 0, code, out)
	assert.Regexp(t, `ok   sub +\d+\.\ds  2 passed`, out)
}

func TestLongPackageSaysWhatRuns(t *testing.T) {
	out, code := run(t, `package sub

import (
	"testing"
	"time"
)

func TestSlow(t *testing.T) { time.Sleep(3 * time.Second) }
`, "-every", "1s")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "0 passed, 0 failed so far; running TestSlow")
}

func TestBuildFailureFails(t *testing.T) {
	out, code := run(t, `package sub

import "testing"

func TestA(t *testing.T) { undefined() }
`)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "undefined")
	assert.Contains(t, out, "FAILED")
}
