package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// StackLocks serialises Terraform runs per stack: at most one terraform
// process works on a stack at a time, within this process (a channel per
// stack) and across processes (an flock on a file under the state dir).
type StackLocks struct {
	dir string

	mu    sync.Mutex
	slots map[string]chan struct{}
}

// NewStackLocks returns locks whose lock files live in dir.
func NewStackLocks(dir string) *StackLocks {
	return &StackLocks{dir: dir, slots: map[string]chan struct{}{}}
}

func (l *StackLocks) slot(stack string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.slots[stack]
	if !ok {
		s = make(chan struct{}, 1)
		l.slots[stack] = s
	}
	return s
}

// Lock waits until this caller holds the stack, or ctx ends. The returned
// function releases it.
func (l *StackLocks) Lock(ctx context.Context, stack string) (unlock func(), err error) {
	slot := l.slot(stack)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another Terraform run on stack %q: %w", stack, ctx.Err())
	}
	release := func() { <-slot }

	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		release()
		return nil, fmt.Errorf("lock dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, stack+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := flockWait(ctx, f); err != nil {
		f.Close()
		release()
		return nil, fmt.Errorf("waiting for another plangate process running Terraform on stack %q: %w", stack, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
		release()
	}, nil
}

// flockWait takes an exclusive flock, polling so that ctx can end the wait.
func flockWait(ctx context.Context, f *os.File) error {
	delay := 10 * time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
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

// withFileLock runs fn while holding an exclusive flock on path.
func withFileLock(path string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN) //nolint:errcheck
	return fn()
}
