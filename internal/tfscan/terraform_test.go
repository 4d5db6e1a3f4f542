package tfscan

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

// TestScanAgreesWithTerraform scans testdata/agree — every way of naming a
// provider, local modules two deep, a test file's module, and a remote
// module that `terraform get` downloads from a git repository on disk (a
// module source that needs no network) — and checks that the providers
// found are exactly those `terraform providers` lists, with the default
// data dir and with TF_DATA_DIR elsewhere.
func TestScanAgreesWithTerraform(t *testing.T) {
	tf := tftest.Setup(t)
	tmp := t.TempDir()
	tftest.CopyDir(t, "testdata/agree", tmp)
	stack := filepath.Join(tmp, "stack")

	repo := filepath.Join(tmp, "repo")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "main.tf"),
		[]byte("resource \"azurerm_resource_group\" \"g\" {}\n\nmodule \"inner\" {\n  source = \"./sub\"\n}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "sub", "main.tf"),
		[]byte("data \"external\" \"z\" {\n  program = [\"x\"]\n}\n"), 0o644))
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "module")
	source := "git::file://" + filepath.ToSlash(repo)
	require.NoError(t, os.WriteFile(filepath.Join(stack, "remote.tf"),
		[]byte("module \"remote\" {\n  source = \""+source+"\"\n}\n"), 0o644))

	before, err := Scan(stack, ".terraform")
	require.NoError(t, err)
	assert.Equal(t, []Module{{Address: "module.remote", Source: source, Pos: Pos{"remote.tf", 1}}}, before.RemoteModules)

	for _, tt := range []struct{ name, dataDir string }{
		{"default data dir", ".terraform"},
		{"TF_DATA_DIR elsewhere", filepath.Join(tmp, "data")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			terraform := func(args ...string) string {
				cmd := exec.Command(tf, args...)
				cmd.Dir = stack
				cmd.Env = append(os.Environ(), "TF_DATA_DIR="+tt.dataDir, "TF_IN_AUTOMATION=1")
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "terraform %v: %s", args, out)
				return string(out)
			}
			terraform("get", "-no-color")
			listed := providerLines.FindAllStringSubmatch(terraform("providers", "-no-color"), -1)
			want := map[string]bool{}
			for _, m := range listed {
				want[m[1]] = true
			}
			wantList := make([]string, 0, len(want))
			for s := range want {
				wantList = append(wantList, s)
			}
			sort.Strings(wantList)

			t.Logf("terraform providers: %v", wantList)
			r, err := Scan(stack, tt.dataDir)
			require.NoError(t, err)
			assert.Equal(t, wantList, sources(r), "terraform providers lists exactly what Scan finds")
			assert.Contains(t, wantList, "registry.terraform.io/hashicorp/azurerm", "the downloaded module was read")
			assert.Empty(t, r.RemoteModules)
			assert.Equal(t, []string{
				"data.external.e", "data.run_anything.a",
				"module.net.module.sub.data.external.ip", "module.remote.module.inner.data.external.z",
			}, addresses(r))
		})
	}
}

var providerLines = regexp.MustCompile(`provider\[([^\]]+)\]`)
