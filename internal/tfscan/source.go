package tfscan

import (
	"fmt"
	"strings"
)

const (
	// DefaultRegistry is the host of provider sources written without one.
	DefaultRegistry = "registry.terraform.io"
	// BuiltinTerraform is the provider built into Terraform
	// (terraform_data, terraform_remote_state): nothing is installed for it.
	BuiltinTerraform = "terraform.io/builtin/terraform"
)

// parseProviderSource normalizes a required_providers source the way
// Terraform does: [HOST/]NAMESPACE/TYPE, the host registry.terraform.io
// when absent, a lone TYPE in the hashicorp namespace, all in lower case.
// Anything Terraform's own parser might read differently (non-ASCII
// names, which it maps through IDNA) is refused rather than guessed.
func parseProviderSource(s string) (string, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	switch len(parts) {
	case 1:
		parts = []string{DefaultRegistry, "hashicorp", parts[0]}
	case 2:
		parts = []string{DefaultRegistry, parts[0], parts[1]}
	case 3:
	default:
		return "", fmt.Errorf("provider source %q must be [HOSTNAME/]NAMESPACE/TYPE", s)
	}
	host, err := normalizeHost(parts[0])
	if err != nil {
		return "", fmt.Errorf("provider source %q: %w", s, err)
	}
	for _, p := range parts[1:] {
		if !validProviderPart(p) {
			return "", fmt.Errorf("provider source %q: %q must be ASCII letters, digits and dashes, not starting or ending with a dash", s, p)
		}
	}
	return host + "/" + parts[1] + "/" + parts[2], nil
}

// normalizeHost accepts an ASCII host name with an optional port; the
// HTTPS default port is dropped, as Terraform's svchost drops it.
func normalizeHost(h string) (string, error) {
	name, port, hasPort := strings.Cut(h, ":")
	if hasPort {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return "", fmt.Errorf("invalid port in host %q", h)
		}
		if port == "443" {
			hasPort = false
		}
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if !validProviderPart(l) {
			return "", fmt.Errorf("host %q must be an ASCII host name", h)
		}
	}
	if hasPort {
		return name + ":" + port, nil
	}
	return name, nil
}

func validProviderPart(p string) bool {
	if p == "" || p[0] == '-' || p[len(p)-1] == '-' {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// impliedProvider is the provider Terraform assumes for a local name that
// no required_providers entry gives a source: terraform is the builtin
// one, any other name is hashicorp's provider of that name.
func impliedProvider(local string) string {
	local = strings.ToLower(local)
	if local == "terraform" {
		return BuiltinTerraform
	}
	return DefaultRegistry + "/hashicorp/" + local
}

// providerType is the last part of a provider address ("external" in
// registry.terraform.io/hashicorp/external).
func providerType(source string) string {
	return source[strings.LastIndexByte(source, '/')+1:]
}

// isLocalSource reports whether a module source is a path Terraform reads
// in place. Other sources (registry, git, absolute paths...) are
// downloaded by terraform init into the data directory.
func isLocalSource(s string) bool {
	for _, p := range []string{"./", "../", ".\\", "..\\"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
