// Package tfbin finds the terraform executable plangate runs.
//
// The order is: $PLANGATE_TERRAFORM, then terraform on PATH. Nothing else:
// the server often runs inside a repository an agent can write to, so it
// never runs a terraform it happens to find in a working directory.
// (`make` puts the terraform it builds, ./bin, on PATH.)
package tfbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvVar names the environment variable that overrides the search.
const EnvVar = "PLANGATE_TERRAFORM"

// ErrNotFound is returned when no terraform executable can be found.
var ErrNotFound = errors.New("terraform not found: install Terraform >= 1.5 and put it on PATH, or set " + EnvVar + " to its path (`make terraform` builds one into ./bin)")

// Find returns the absolute path of the terraform executable to use.
func Find() (string, error) {
	if p := os.Getenv(EnvVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvVar, p, err)
		}
		return filepath.Abs(p)
	}
	if p, err := exec.LookPath("terraform"); err == nil {
		return filepath.Abs(p)
	}
	return "", ErrNotFound
}
