// Package tfbin finds the terraform executable plangate runs, and tells
// which program it is: Terraform or OpenTofu.
//
// The order is: $PLANGATE_TERRAFORM, then plangate.hcl's terraform_binary
// (a path, or a name looked up on PATH), then terraform on PATH. Nothing
// else: the server often runs inside a repository an agent can write to, so
// it never runs a terraform it happens to find in a working directory.
// (`make` puts the terraform it builds, ./bin, on PATH.)
package tfbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// EnvVar names the environment variable that overrides the search.
const EnvVar = "PLANGATE_TERRAFORM"

// ErrNotFound is returned when no terraform executable can be found.
var ErrNotFound = errors.New("terraform not found: install Terraform >= 1.5 (or OpenTofu, with terraform_binary = \"tofu\" in plangate.hcl) and put it on PATH, or set " + EnvVar + " to its path (`make terraform` builds one into ./bin)")

// Find returns the absolute path of the terraform executable to use when
// the config names none.
func Find() (string, error) { return FindConfigured("") }

// Finder returns Find for a config's terraform_binary ("" for none).
func Finder(configured string) func() (string, error) {
	return func() (string, error) { return FindConfigured(configured) }
}

// FindConfigured returns the absolute path of the executable to use:
// $PLANGATE_TERRAFORM, else configured (terraform_binary: a path, already
// absolute, or a name looked up on PATH), else terraform on PATH.
func FindConfigured(configured string) (string, error) {
	if p := os.Getenv(EnvVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvVar, p, err)
		}
		return filepath.Abs(p)
	}
	if configured != "" {
		p, err := exec.LookPath(configured)
		if err != nil {
			return "", fmt.Errorf("terraform_binary %q in plangate.hcl: %w (install it where plangate runs, or name its path)", configured, err)
		}
		return filepath.Abs(p)
	}
	if p, err := exec.LookPath("terraform"); err == nil {
		return filepath.Abs(p)
	}
	return "", ErrNotFound
}

// Product is the program a terraform executable is. The zero value is
// Terraform: records written before plangate told them apart were all made
// by Terraform.
type Product string

// The programs plangate runs.
const (
	Terraform Product = "Terraform"
	OpenTofu  Product = "OpenTofu"
)

// String is the product's name, as its own output spells it.
func (p Product) String() string {
	if p == OpenTofu {
		return string(OpenTofu)
	}
	return string(Terraform)
}

// Command is the product's command name, as its users type it.
func (p Product) Command() string {
	if p == OpenTofu {
		return "tofu"
	}
	return "terraform"
}

// versionLine is the first line of `terraform version` / `tofu version`:
// "Terraform v1.11.0" or "OpenTofu v1.10.10". The JSON form does not say
// which program it is (OpenTofu keeps the terraform_version key), the text
// does.
var versionLine = regexp.MustCompile(`^(Terraform|OpenTofu) v(\S+)`)

// ParseVersion reads the output of `<binary> version`: which program it
// is and its version.
func ParseVersion(out string) (Product, string, error) {
	first, _, _ := strings.Cut(strings.TrimLeft(out, "\r\n\t "), "\n")
	m := versionLine.FindStringSubmatch(strings.TrimSpace(first))
	if m == nil {
		return "", "", fmt.Errorf("its version output does not start with \"Terraform v…\" or \"OpenTofu v…\" (it starts %s): it is neither Terraform nor OpenTofu", truncate(strconv.Quote(first), 100))
	}
	return Product(m[1]), m[2], nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
