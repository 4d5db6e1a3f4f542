// Package tfbin finds the terraform executable plangate runs.
//
// The order is: $PLANGATE_TERRAFORM, then terraform on PATH, then
// bin/terraform in the repository (where `make` builds one when the machine
// has none). Tests and the server find terraform the same way.
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
var ErrNotFound = errors.New("terraform not found: install Terraform >= 1.5 and put it on PATH, or set " + EnvVar + " to its path (`make build` installs one into ./bin)")

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
	// bin/terraform next to the module root, for checkouts where make built it.
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, "bin", "terraform")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", ErrNotFound
}
