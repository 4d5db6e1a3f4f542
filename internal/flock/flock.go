// Package flock takes advisory file locks (flock(2)): the one mechanism
// plangate's stores, its audit log, its approval ledger and its per-stack
// Terraform lock use to keep goroutines and processes out of each other's
// way. A lock belongs to the open file: closing the file releases it.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Mode is a lock's kind.
type Mode int

// Lock modes.
const (
	Shared    Mode = unix.LOCK_SH
	Exclusive Mode = unix.LOCK_EX
)

// Lock waits for a lock on f, retrying when a signal interrupts the wait.
func Lock(f *os.File, m Mode) error {
	for {
		err := unix.Flock(int(f.Fd()), int(m))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// TryLock takes an exclusive lock on f if no one holds one, and reports
// whether it did.
func TryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, unix.EINTR):
			return false, err
		}
	}
}

// Wait takes an exclusive lock on f, polling so that ctx can end the wait.
func Wait(ctx context.Context, f *os.File) error {
	delay := 10 * time.Millisecond
	for {
		ok, err := TryLock(f)
		if ok || err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

// Unlock releases f's lock.
func Unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// WithFile runs fn while holding an exclusive lock on the file at path,
// created (mode 0600) if it does not exist.
func WithFile(path string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Lock(f, Exclusive); err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer Unlock(f) //nolint:errcheck // Close releases it anyway
	return fn()
}
