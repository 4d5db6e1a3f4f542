//go:build !linux

package sandbox

import "errors"

// Main returns at once: sandboxes are made on Linux only.
func Main() {}

func probe(string) error {
	return &UnavailableError{Err: errors.New("sandboxes are made on Linux only")}
}
