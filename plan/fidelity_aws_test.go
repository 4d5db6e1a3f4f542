package plan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// TestFidelityAWS is TestFidelity for the AWS stack (fixtures/aws/stack,
// the real AWS provider against moto_server), rendered with the provider's
// schemas as plangate keeps them: the plan that creates it, then, once
// applied, the plan that retags everything, replaces the instance (a new
// AMI) and deletes the IAM role. Maps (tags), nested blocks (single, list
// and set, some unknown, some replaced), sets and the legacy SDK's "" are
// all in it.
func TestFidelityAWS(t *testing.T) {
	t.Parallel() // mostly waiting on the provider and moto: overlap it
	bin := tftest.Find(t)
	srv := moto.Start(t)
	dir := moto.FixtureStack(t)
	tftest.CopyDir(t, filepath.Join("testdata", "aws-fidelity"), dir)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TF_CLI_CONFIG_FILE=" + dualRegistryCLIConfig(t),
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		// moto takes any key while it does not enforce IAM.
		"AWS_ACCESS_KEY_ID=AKIAFIDELITYTEST0000", "AWS_SECRET_ACCESS_KEY=fidelity-test-secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
	tf := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "terraform %v\n%s%s", args, stdout.String(), stderr.String())
		return stdout.Bytes()
	}
	var total fidelityStats
	var schemas []byte
	t.Cleanup(func() { t.Logf("aws stack: %s", total) })
	compare := func(name string, pending map[string]string, vars ...string) {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"plan", "-no-color", "-input=false", "-out=plan.tfplan", "-var", "endpoint_url=" + srv.URL}, vars...)
			tf(args...)
			total.add(assertFidelity(t, tf("show", "-json", "plan.tfplan"), string(tf("show", "-no-color", "plan.tfplan")), pending,
				SchemasFrom(func() ([]byte, error) { return schemas, nil })))
		})
	}

	tf("init", "-no-color", "-input=false")
	// What plangate's runner asks (Runner.ProviderSchemas).
	schemas = tf("providers", "schema", "-json")
	compare("create", nil)
	tf("apply", "-no-color", "-input=false", "plan.tfplan")
	require.NoError(t, os.Remove(filepath.Join(dir, "iam.tf")))
	compare("retag, replace and delete", nil, "-var", "environment=prod", "-var", "ami=ami-0fd2d1dc5b1a7a46f")
}

// TestFidelityRegistryOffline is TestFidelityAWS for resources whose
// creation plans without asking AWS anything (no emulator), with
// whichever program the tests run (make test-opentofu: OpenTofu, which
// reads hashicorp/aws as registry.opentofu.org's): a sensitive value, map
// keys that need quoting, and, with Terraform 1.11 on, a write-only
// attribute ("(write-only attribute)").
func TestFidelityRegistryOffline(t *testing.T) {
	t.Parallel()
	bin := tftest.Find(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TF_CLI_CONFIG_FILE=" + dualRegistryCLIConfig(t),
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
	dir := t.TempDir()
	tftest.CopyDir(t, filepath.Join("testdata", "aws-offline"), dir)
	writeOnly := tftest.Product(t) != tfbin.OpenTofu && versionAtLeast(terraformVersion(t, bin, env), "1.11")
	if !writeOnly {
		require.NoError(t, os.Remove(filepath.Join(dir, "writeonly.tf")))
	}
	tf := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "%s %v\n%s%s", bin, args, stdout.String(), stderr.String())
		return stdout.Bytes()
	}
	tf("init", "-no-color", "-input=false")
	schemas := tf("providers", "schema", "-json")
	tf("plan", "-no-color", "-input=false", "-out=plan.tfplan")
	text := string(tf("show", "-no-color", "plan.tfplan"))
	if writeOnly {
		require.Contains(t, text, "(write-only attribute)", "the fixture plans a write-only attribute")
	}
	st := assertFidelity(t, tf("show", "-json", "plan.tfplan"), text, nil, SchemasFrom(func() ([]byte, error) { return schemas, nil }))
	t.Logf("registry offline: %s", st)
}

// dualRegistryCLIConfig is a CLI configuration that installs the AWS
// provider from moto.BothRegistriesMirror, whichever registry the program reads
// hashicorp/aws as.
func dualRegistryCLIConfig(t *testing.T) string {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "terraformrc")
	require.NoError(t, os.WriteFile(rc, []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+moto.BothRegistriesMirror(t)+`"
    include = ["registry.terraform.io/hashicorp/aws", "registry.opentofu.org/hashicorp/aws"]
  }
}
`), 0o600))
	return rc
}
