package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProviderAllowed(t *testing.T) {
	pats := func(ss ...string) Policy {
		p := DefaultPolicy()
		p.Providers = nil
		for _, s := range ss {
			pat, err := ParseProviderPattern(s)
			require.NoError(t, err, s)
			p.Providers = append(p.Providers, pat)
		}
		return p
	}
	tests := []struct {
		policy Policy
		source string
		want   bool
	}{
		{DefaultPolicy(), "registry.terraform.io/hashicorp/aws", true},
		{DefaultPolicy(), "hashicorp/aws", true},
		{DefaultPolicy(), "Registry.Terraform.IO/HashiCorp/AWS", true},
		{DefaultPolicy(), "registry.terraform.io/evil/aws", false},
		{DefaultPolicy(), "example.com/hashicorp/aws", false},
		{DefaultPolicy(), "terraform.io/builtin/terraform", true},
		{pats(), "terraform.io/builtin/terraform", true},
		{pats(), "registry.terraform.io/hashicorp/aws", false},
		{pats("example.com/acme/widget"), "example.com/acme/widget", true},
		{pats("example.com/acme/widget"), "example.com/acme/gadget", false},
		{pats("example.com/*/*"), "example.com/acme/gadget", true},
		{pats("*/*/*"), "anything.example/x/y", true},
		{DefaultPolicy(), "not a source", false},
		// OpenTofu reads hashicorp/aws as its own registry's: one policy
		// allows the same providers under both.
		{DefaultPolicy(), "registry.opentofu.org/hashicorp/aws", true},
		{DefaultPolicy(), "registry.opentofu.org/evil/aws", false},
		{pats("registry.opentofu.org/acme/*"), "registry.terraform.io/acme/widget", true},
		{pats("registry.opentofu.org/acme/*"), "example.com/acme/widget", false},
		{pats("example.com/acme/*"), "registry.opentofu.org/acme/widget", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.policy.ProviderAllowed(tt.source), "%v allows %s", tt.policy.ProviderPatterns(), tt.source)
	}
}

func TestParseProviderPatternRefusals(t *testing.T) {
	for pat, want := range map[string]string{
		"aws":              "HOST/NAMESPACE/TYPE",
		"*/hashicorp/aws":  "the host can be * only in */*/*",
		"hashicorp/a*":     "neither * nor a provider type",
		"ex ample.com/a/b": "not a registry host name",
		"a/b/c/d":          "HOST/NAMESPACE/TYPE",
	} {
		_, err := ParseProviderPattern(pat)
		require.Error(t, err, pat)
		assert.Contains(t, err.Error(), want, pat)
	}
}

func TestInstallPatternsCoverBothPublicRegistries(t *testing.T) {
	for pat, want := range map[string][]string{
		"hashicorp/*":                  {"registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"},
		"registry.opentofu.org/acme/x": {"registry.opentofu.org/acme/x", "registry.terraform.io/acme/x"},
		"example.com/acme/*":           {"example.com/acme/*"},
		"*/*/*":                        {"*/*/*"},
	} {
		p, err := ParseProviderPattern(pat)
		require.NoError(t, err)
		assert.Equal(t, want, p.InstallPatterns(), pat)
	}
}
