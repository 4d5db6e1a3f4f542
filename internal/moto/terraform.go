package moto

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"text/template"

	"github.com/plangate/plangate/internal/tftest"
)

// MirrorEnvVar overrides where ProviderMirror looks for the AWS provider.
const MirrorEnvVar = "PLANGATE_TF_PLUGIN_MIRROR"

// mirrorCandidates are the places a machine's image preinstalls Terraform
// providers in the filesystem-mirror layout.
var mirrorCandidates = []string{
	"/opt/tf-plugins",
	"/usr/local/share/terraform/plugins",
	"/usr/share/terraform/plugins",
}

// ProviderMirror returns the root of a Terraform filesystem mirror holding
// registry.terraform.io/hashicorp/aws for this platform: $PLANGATE_TF_PLUGIN_MIRROR,
// else the first of /opt/tf-plugins, /usr/local/share/terraform/plugins,
// /usr/share/terraform/plugins (and /opt/*/) that has it. None fails the
// test with what to do; the AWS tests never download a provider.
func ProviderMirror(t testing.TB) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv(MirrorEnvVar); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, mirrorCandidates...)
	if more, _ := filepath.Glob("/opt/*"); len(more) > 0 {
		candidates = append(candidates, more...)
	}
	for _, dir := range candidates {
		if hasAWSProvider(dir) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Fatalf("no Terraform filesystem mirror with the AWS provider (registry.terraform.io/hashicorp/aws/<version>/%s_%s/terraform-provider-aws_*) in %s: "+
		"find one with `find / -name 'terraform-provider-aws_*' -not -path '/proc/*'` and set %s to the directory above registry.terraform.io",
		runtime.GOOS, runtime.GOARCH, strings.Join(candidates, ", "), MirrorEnvVar)
	return ""
}

// BothRegistriesMirror is a filesystem mirror holding the AWS provider of
// ProviderMirror under both public registries' hosts (registry.terraform.io,
// and registry.opentofu.org, where OpenTofu looks for hashicorp/aws), in
// the test's temporary directory. Its files are links to the one package:
// Terraform and OpenTofu walk a mirror's directories, and do not follow
// links to them.
func BothRegistriesMirror(t testing.TB) string {
	t.Helper()
	src := filepath.Join(ProviderMirror(t), "registry.terraform.io", "hashicorp", "aws")
	mirror := t.TempDir()
	for _, host := range []string{"registry.terraform.io", "registry.opentofu.org"} {
		dst := filepath.Join(mirror, host, "hashicorp", "aws")
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			return os.Symlink(p, filepath.Join(dst, rel))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return mirror
}

func hasAWSProvider(dir string) bool {
	pattern := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "*", runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-aws_*")
	m, _ := filepath.Glob(pattern)
	return len(m) > 0
}

// TerraformCLIConfig renders fixtures/aws/terraformrc.tmpl with the mirror
// from ProviderMirror into the test's temporary directory and returns its
// path, for TF_CLI_CONFIG_FILE.
func TerraformCLIConfig(t testing.TB) string {
	t.Helper()
	src := filepath.Join(tftest.RepoRoot(t), "fixtures", "aws", "terraformrc.tmpl")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("terraformrc").Option("missingkey=error").Parse(string(b))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, map[string]string{"Mirror": ProviderMirror(t)}); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	path := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FixtureStack copies fixtures/aws/stack into a fresh temporary directory
// and returns it.
func FixtureStack(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "stack")
	tftest.CopyDir(t, filepath.Join(tftest.RepoRoot(t), "fixtures", "aws", "stack"), dst)
	return dst
}

// StateKey is the state object key the remote-state tests use; its lock is
// StateKey + ".tflock".
const StateKey = "fixture/terraform.tfstate"
