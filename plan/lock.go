package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plangate/plangate/internal/flock"
)

// StackLocks serialises Terraform runs per stack: at most one terraform
// process works on a stack at a time, within this process (a channel per
// stack) and across processes (an flock on a file under the state dir).
//
// Callers queue for a busy stack, up to MaxWaiters per stack and for at
// most the stack's queue_timeout; beyond either they are refused with a
// *BusyError saying how many runs are ahead. Waiting calls hold one of
// the MCP server's workers each, which bounds the queue: reads never take
// the lock (Runner.State reads a busy stack without it).
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
const MaxWaiters = 8

// BusyError reports a stack with a Terraform run in progress and the
// queue full, or a wait that ran out.
type BusyError struct {
	Stack string
	// Ahead is how many runs were ahead: the one running and those waiting.
	Ahead int
	// Waited is how long this caller waited (0: refused at once).
	Waited time.Duration
	// Elsewhere: the run ahead is another plangate process's.
	Elsewhere bool
}

func (e *BusyError) Error() string {
	if e.Elsewhere {
		return fmt.Sprintf("stack %q is busy: waited %s (its queue_timeout) for another plangate process's Terraform run on it; try again once it finishes (list_plans shows the plans runs make)",
			e.Stack, roundWait(e.Waited))
	}
	if e.Waited > 0 {
		return fmt.Sprintf("stack %q is busy: waited %s (its queue_timeout) behind %d Terraform run(s); try again once they finish (list_plans shows the plans they make)",
			e.Stack, roundWait(e.Waited), e.Ahead)
	}
	return fmt.Sprintf("stack %q is busy: %d Terraform run(s) are ahead (one running, %d waiting, the most that may wait); try again once they finish (list_plans shows the plans they make)",
		e.Stack, e.Ahead, e.Ahead-1)
}

// NewStackLocks returns locks whose lock files live in dir.
func NewStackLocks(dir string) *StackLocks {
	return &StackLocks{dir: dir, slots: map[string]*stackSlot{}}
}

// Lock waits until this caller holds the stack, or ctx ends. The returned
// function releases it.
func (l *StackLocks) Lock(ctx context.Context, stack string) (unlock func(), err error) {
	return l.LockWithin(ctx, stack, 0)
}

// Busy reports whether a run holds the stack in this process.
func (l *StackLocks) Busy(stack string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	slot, ok := l.slots[stack]
	return ok && len(slot.ch) > 0
}

// LockWithin is Lock waiting at most timeout (0: as long as ctx lasts)
// for the stack to be free in this process.
func (l *StackLocks) LockWithin(ctx context.Context, stack string, timeout time.Duration) (unlock func(), err error) {
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
			ahead := slot.waiting + 1
			l.mu.Unlock()
			return nil, &BusyError{Stack: stack, Ahead: ahead}
		}
		ahead := slot.waiting + 1
		slot.waiting++
		l.mu.Unlock()
		var expired <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		var waitErr error
		select {
		case slot.ch <- struct{}{}:
		case <-ctx.Done():
			waitErr = fmt.Errorf("waiting for another Terraform run on stack %q: %w", stack, ctx.Err())
		case <-expired:
			waitErr = &BusyError{Stack: stack, Ahead: ahead, Waited: timeout}
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
	// Another plangate process may hold the stack: wait for it within
	// the same bound.
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, timeout)
	}
	err = flock.Wait(wctx, f)
	cancel()
	if err != nil {
		f.Close()
		release()
		if ctx.Err() == nil && timeout > 0 {
			return nil, &BusyError{Stack: stack, Ahead: 1, Waited: timeout, Elsewhere: true}
		}
		return nil, fmt.Errorf("waiting for another plangate process running Terraform on stack %q: %w", stack, err)
	}
	return func() {
		_ = flock.Unlock(f)
		f.Close()
		release()
	}, nil
}

// TryLock takes the stack if nobody holds it, in this process or another;
// ok is false (and unlock nil) when someone does.
func (l *StackLocks) TryLock(stack string) (unlock func(), ok bool, err error) {
	l.mu.Lock()
	slot, found := l.slots[stack]
	if !found {
		slot = &stackSlot{ch: make(chan struct{}, 1)}
		l.slots[stack] = slot
	}
	select {
	case slot.ch <- struct{}{}:
		l.mu.Unlock()
	default:
		l.mu.Unlock()
		return nil, false, nil
	}
	release := func() { <-slot.ch }
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		release()
		return nil, false, fmt.Errorf("lock dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, stack+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		release()
		return nil, false, fmt.Errorf("lock file: %w", err)
	}
	got, err := flock.TryLock(f)
	if err != nil || !got {
		f.Close()
		release()
		return nil, false, err
	}
	return func() {
		_ = flock.Unlock(f)
		f.Close()
		release()
	}, true, nil
}

func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d
}
