package plan

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two StackLocks on one directory stand for two plangate processes: the
// flock, not the in-process channel, must keep them apart.
func TestStackLockExcludesAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	a, b := NewStackLocks(dir), NewStackLocks(dir)
	// overlaps counts entries that found another holder inside: the
	// increment's own result says so, with no read-then-store that could
	// miss one.
	var inside, overlaps atomic.Int32
	done := make(chan struct{})
	work := func(l *StackLocks) {
		defer func() { done <- struct{}{} }()
		for range 20 {
			unlock, err := l.Lock(context.Background(), "web")
			if !assert.NoError(t, err) {
				return
			}
			if inside.Add(1) > 1 {
				overlaps.Add(1)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		}
	}
	go work(a)
	go work(b)
	<-done
	<-done
	assert.Zero(t, overlaps.Load(), "two holders of one stack's lock at once")
}

func TestStackLockWaitEndsWithContext(t *testing.T) {
	dir := t.TempDir()
	a, b := NewStackLocks(dir), NewStackLocks(dir)
	unlock, err := a.Lock(context.Background(), "web")
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = b.Lock(ctx, "web")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "another plangate process")

	// Another stack is not blocked.
	u2, err := b.Lock(context.Background(), "db")
	require.NoError(t, err)
	u2()
}

func TestStackLockQueuesBoundedWaiters(t *testing.T) {
	l := NewStackLocks(t.TempDir())
	unlock, err := l.Lock(context.Background(), "web")
	require.NoError(t, err)
	waited := make(chan error, MaxWaiters)
	for range MaxWaiters {
		go func() {
			u, err := l.Lock(context.Background(), "web")
			if err == nil {
				u()
			}
			waited <- err
		}()
	}
	// Wait until every waiter is queued.
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.slots["web"].waiting == MaxWaiters
	}, 5*time.Second, time.Millisecond)
	_, err = l.Lock(context.Background(), "web")
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	assert.Equal(t, MaxWaiters+1, busy.Ahead)
	assert.Contains(t, err.Error(), "9 Terraform run(s) are ahead (one running, 8 waiting")
	assert.True(t, l.Busy("web"))
	unlock()
	for range MaxWaiters {
		require.NoError(t, <-waited, "every waiting caller runs once the stack is free")
	}
	assert.False(t, l.Busy("web"))
}

func TestStackLockWaitIsBoundedInTime(t *testing.T) {
	l := NewStackLocks(t.TempDir())
	unlock, err := l.Lock(context.Background(), "web")
	require.NoError(t, err)
	defer unlock()
	_, err = l.LockWithin(context.Background(), "web", 50*time.Millisecond)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	assert.Equal(t, 1, busy.Ahead)
	assert.Contains(t, err.Error(), "waited 50ms (its queue_timeout) behind 1 Terraform run(s)")
}
