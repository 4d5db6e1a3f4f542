package flock

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two opens of one file are two lock owners, as two processes would be.
func TestTryLockAndWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := os.Create(path)
	require.NoError(t, err)
	defer a.Close()
	b, err := os.Open(path)
	require.NoError(t, err)
	defer b.Close()

	ok, err := TryLock(a)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = TryLock(b)
	require.NoError(t, err)
	assert.False(t, ok, "a second owner cannot take a held lock")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, Wait(ctx, b), context.DeadlineExceeded, "Wait ends with its context")

	require.NoError(t, Unlock(a))
	require.NoError(t, Wait(context.Background(), b), "a released lock can be taken")
}

// WithFile serializes: no two callers are ever inside fn at once, counted
// with an atomic increment whose result is the overlap itself (no
// read-then-store that could lose one).
func TestWithFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, WithFile(path, func() error {
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				return nil
			}))
		}()
	}
	wg.Wait()
	assert.Zero(t, overlaps.Load())
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
