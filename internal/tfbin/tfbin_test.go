package tfbin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name, out   string
		product     Product
		version     string
		errContains string
	}{
		{name: "terraform", out: "Terraform v1.11.0\non linux_amd64\n", product: Terraform, version: "1.11.0"},
		{name: "terraform outdated", out: "Terraform v1.5.7\non linux_amd64\n\nYour version of Terraform is out of date!\n", product: Terraform, version: "1.5.7"},
		{name: "opentofu", out: "OpenTofu v1.10.10\non linux_amd64\n+ provider registry.opentofu.org/hashicorp/null v3.2.0\n", product: OpenTofu, version: "1.10.10"},
		{name: "opentofu dev build", out: "OpenTofu v1.10.10-dev\non linux_amd64\n", product: OpenTofu, version: "1.10.10-dev"},
		{name: "leading blank line", out: "\nOpenTofu v1.9.0\n", product: OpenTofu, version: "1.9.0"},
		// The JSON form does not say which program it is: refused, never guessed.
		{name: "json", out: `{"terraform_version":"1.10.10","platform":"linux_amd64","provider_selections":{}}`, errContains: "neither Terraform nor OpenTofu"},
		{name: "another program", out: "Pulumi v3.0.0\n", errContains: "neither Terraform nor OpenTofu"},
		{name: "empty", out: "", errContains: "neither"},
		{name: "name alone", out: "OpenTofu\n", errContains: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, v, err := ParseVersion(tt.out)
			if tt.errContains != "" {
				require.ErrorContains(t, err, tt.errContains)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.product, p)
			assert.Equal(t, tt.version, v)
		})
	}
}

func TestProductNames(t *testing.T) {
	var zero Product
	assert.Equal(t, "Terraform", zero.String(), "records older than the product field were Terraform's")
	assert.Equal(t, "terraform", zero.Command())
	assert.Equal(t, "Terraform", Terraform.String())
	assert.Equal(t, "OpenTofu", OpenTofu.String())
	assert.Equal(t, "tofu", OpenTofu.Command())
}

// $PLANGATE_TERRAFORM wins over the config, the config over PATH; a
// configured name is looked up on PATH, never in the working directory.
func TestFindConfiguredOrder(t *testing.T) {
	pathDir := t.TempDir()
	exe := func(dir, name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
		return p
	}
	terraform := exe(pathDir, "terraform")
	tofu := exe(pathDir, "tofu")
	t.Setenv("PATH", pathDir)
	t.Setenv(EnvVar, "")

	got, err := FindConfigured("")
	require.NoError(t, err)
	assert.Equal(t, terraform, got)

	got, err = Finder("tofu")()
	require.NoError(t, err)
	assert.Equal(t, tofu, got)

	other := exe(t.TempDir(), "tofu-1.10")
	got, err = FindConfigured(other)
	require.NoError(t, err)
	assert.Equal(t, other, got, "an absolute terraform_binary is used as it is")

	env := exe(t.TempDir(), "terraform")
	t.Setenv(EnvVar, env)
	got, err = FindConfigured("tofu")
	require.NoError(t, err)
	assert.Equal(t, env, got, "PLANGATE_TERRAFORM overrides terraform_binary")

	t.Setenv(EnvVar, "")
	work := t.TempDir()
	exe(work, "opentofu")
	t.Chdir(work)
	_, err = FindConfigured("opentofu")
	require.Error(t, err, "a name is never found in the working directory")
	assert.Contains(t, err.Error(), `terraform_binary "opentofu"`)
	assert.Contains(t, err.Error(), "install it")

	_, err = FindConfigured(filepath.Join(work, "missing"))
	require.Error(t, err)
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"Terraform v1.11.0\non linux_amd64\n", "OpenTofu v1.10.10\n", "{}", "", "OpenTofu v\n", "Terraform v1.5.7-beta1+abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		p, v, err := ParseVersion(out)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes for %d bytes of output", len(err.Error()), len(out))
			}
			return
		}
		if p != Terraform && p != OpenTofu {
			t.Fatalf("product %q", p)
		}
		if v == "" || strings.ContainsAny(v, " \t\r\n") {
			t.Fatalf("version %q", v)
		}
	})
}
