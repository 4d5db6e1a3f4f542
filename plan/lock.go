package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/plangate/plangate/internal/flock"
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
	if err := flock.Wait(ctx, f); err != nil {
		f.Close()
		release()
		return nil, fmt.Errorf("waiting for another plangate process running Terraform on stack %q: %w", stack, err)
	}
	return func() {
		_ = flock.Unlock(f)
		f.Close()
		release()
	}, nil
}
