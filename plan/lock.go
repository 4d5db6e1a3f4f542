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
//
// At most one caller waits per stack in a process; further callers are
// refused at once with a *BusyError. Waiting calls hold one of the MCP
// server's workers each, so an unbounded queue behind one slow plan would
// starve every other tool call.
type StackLocks struct {
	dir string

	mu    sync.Mutex
	slots map[string]*stackSlot
}

type stackSlot struct {
	ch      chan struct{}
	waiting int
}

// MaxWaiters is how many callers may wait for a busy stack in one process.
const MaxWaiters = 1

// BusyError reports a stack with a Terraform run in progress and the
// waiting line full.
type BusyError struct{ Stack string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("stack %q is busy: a Terraform run is in progress and another request is already waiting for it; try again once they finish (list_plans shows the plans they make)", e.Stack)
}

// NewStackLocks returns locks whose lock files live in dir.
func NewStackLocks(dir string) *StackLocks {
	return &StackLocks{dir: dir, slots: map[string]*stackSlot{}}
}

// Lock waits until this caller holds the stack, or ctx ends. The returned
// function releases it.
func (l *StackLocks) Lock(ctx context.Context, stack string) (unlock func(), err error) {
	l.mu.Lock()
	slot, ok := l.slots[stack]
	if !ok {
		slot = &stackSlot{ch: make(chan struct{}, 1)}
		l.slots[stack] = slot
	}
	select {
	case slot.ch <- struct{}{}:
		l.mu.Unlock()
	default:
		if slot.waiting >= MaxWaiters {
			l.mu.Unlock()
			return nil, &BusyError{Stack: stack}
		}
		slot.waiting++
		l.mu.Unlock()
		var waitErr error
		select {
		case slot.ch <- struct{}{}:
		case <-ctx.Done():
			waitErr = fmt.Errorf("waiting for another Terraform run on stack %q: %w", stack, ctx.Err())
		}
		l.mu.Lock()
		slot.waiting--
		l.mu.Unlock()
		if waitErr != nil {
			return nil, waitErr
		}
	}
	release := func() { <-slot.ch }

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
