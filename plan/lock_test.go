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
	var inside, maxInside atomic.Int32
	done := make(chan struct{})
	work := func(l *StackLocks) {
		defer func() { done <- struct{}{} }()
		for range 20 {
			unlock, err := l.Lock(context.Background(), "web")
			if !assert.NoError(t, err) {
				return
			}
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		}
	}
	go work(a)
	go work(b)
	go work(a)
	<-done
	<-done
	<-done
	assert.Equal(t, int32(1), maxInside.Load())
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
