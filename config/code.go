package config

import (
	"fmt"
	"regexp"
	"strings"
)

// The code a plan may run besides the providers' own CRUD: the policy
// settings allow_provisioners, allow_external_data and providers.

const (
	// DefaultProviderHost is the registry a two-part provider source names.
	DefaultProviderHost = "registry.terraform.io"
	// OpenTofuProviderHost is OpenTofu's public registry, which it reads a
	// two-part source as naming (hashicorp/aws is
	// registry.opentofu.org/hashicorp/aws there). The policy takes it for
	// the same registry as DefaultProviderHost: a pattern on either host
	// allows the same namespace and type on the other, so one policy reads
	// the same under Terraform and OpenTofu.
	OpenTofuProviderHost = "registry.opentofu.org"
	// BuiltinProvider is the source of Terraform's builtin provider
	// (terraform_data, terraform_remote_state): part of Terraform itself,
	// always allowed.
	BuiltinProvider = "terraform.io/builtin/terraform"
)

// DefaultProviders is the allowed provider sources of a policy that names
// none: HashiCorp's providers from the public registry.
func DefaultProviders() []ProviderPattern {
	return []ProviderPattern{{Host: DefaultProviderHost, Namespace: "hashicorp", Type: "*"}}
}

// ProviderPattern is an allowed provider source, in the syntax of
// Terraform's provider_installation include patterns: HOST/NAMESPACE/TYPE
// or NAMESPACE/TYPE (on the public registry), where NAMESPACE and TYPE may
// be "*" (a wildcard namespace needs a wildcard type) and HOST may be "*"
// only as "*/*/*".
type ProviderPattern struct {
	Host, Namespace, Type string
}

var providerPart = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
var providerHost = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?$`)

// ParseProviderPattern reads a provider source pattern, lower-cased as
// Terraform compares them.
func ParseProviderPattern(s string) (ProviderPattern, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) == 2 {
		parts = append([]string{DefaultProviderHost}, parts...)
	}
	if len(parts) != 3 {
		return ProviderPattern{}, fmt.Errorf("%q is not a provider source pattern: use HOST/NAMESPACE/TYPE or NAMESPACE/TYPE, such as %q", s, "registry.terraform.io/hashicorp/*")
	}
	p := ProviderPattern{Host: parts[0], Namespace: parts[1], Type: parts[2]}
	switch {
	case p.Host != "*" && !providerHost.MatchString(p.Host):
		return p, fmt.Errorf("%q: %q is not a registry host name", s, p.Host)
	case p.Namespace != "*" && !providerPart.MatchString(p.Namespace):
		return p, fmt.Errorf("%q: %q is neither * nor a registry namespace", s, p.Namespace)
	case p.Type != "*" && !providerPart.MatchString(p.Type):
		return p, fmt.Errorf("%q: %q is neither * nor a provider type", s, p.Type)
	case p.Host == "*" && (p.Namespace != "*" || p.Type != "*"):
		return p, fmt.Errorf("%q: the host can be * only in */*/* (Terraform's rule for include patterns)", s)
	case p.Namespace == "*" && p.Type != "*":
		return p, fmt.Errorf("%q: the namespace can be * only when the type is * too (Terraform's rule for include patterns)", s)
	}
	return p, nil
}

// String is the pattern in its three-part form.
func (p ProviderPattern) String() string { return p.Host + "/" + p.Namespace + "/" + p.Type }

// Match reports whether the provider source (such as
// "registry.terraform.io/hashicorp/aws", compared case-insensitively) is
// one the pattern allows.
func (p ProviderPattern) Match(source string) bool {
	parts := strings.Split(strings.ToLower(source), "/")
	if len(parts) == 2 {
		parts = append([]string{DefaultProviderHost}, parts...)
	}
	if len(parts) != 3 {
		return false
	}
	m := func(pat, v string) bool { return pat == "*" || pat == v }
	host := m(p.Host, parts[0]) || (publicRegistry(p.Host) && publicRegistry(parts[0]))
	return host && m(p.Namespace, parts[1]) && m(p.Type, parts[2])
}

func publicRegistry(host string) bool {
	return host == DefaultProviderHost || host == OpenTofuProviderHost
}

// InstallPatterns are the patterns of Terraform's provider_installation
// include lists that install what the pattern allows: a pattern on a
// public registry, on both (see OpenTofuProviderHost).
func (p ProviderPattern) InstallPatterns() []string {
	if !publicRegistry(p.Host) {
		return []string{p.String()}
	}
	other := p
	other.Host = OpenTofuProviderHost
	if p.Host == OpenTofuProviderHost {
		other.Host = DefaultProviderHost
	}
	return []string{p.String(), other.String()}
}

// ProviderAllowed reports whether the policy lets a plan use the provider
// source: the builtin provider always; any other when a pattern matches.
func (p Policy) ProviderAllowed(source string) bool {
	if strings.EqualFold(source, BuiltinProvider) {
		return true
	}
	for _, pat := range p.Providers {
		if pat.Match(source) {
			return true
		}
	}
	return false
}

// ProviderPatterns are the allowed sources as written in Terraform's
// include syntax, for messages and the CLI configuration.
func (p Policy) ProviderPatterns() []string {
	out := make([]string, len(p.Providers))
	for i, pat := range p.Providers {
		out[i] = pat.String()
	}
	return out
}

// Restrictions says, in one line, what the policy allows besides its
// approval counts: the deletion limit, code, and providers, as plangate
// approve and the review page show it.
func (p Policy) Restrictions() string {
	limit := "no deletion limit"
	if p.MaxDeletions >= 0 {
		limit = fmt.Sprintf("max_deletions %d", p.MaxDeletions)
	}
	code := "no provisioners, no external data"
	switch {
	case p.AllowProvisioners && p.AllowExternalData:
		code = "provisioners and external data allowed"
	case p.AllowProvisioners:
		code = "provisioners allowed, no external data"
	case p.AllowExternalData:
		code = "external data allowed, no provisioners"
	}
	return fmt.Sprintf("%s; %s; providers %s", limit, code, strings.Join(p.ProviderPatterns(), ", "))
}
