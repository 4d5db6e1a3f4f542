package startgc

import (
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// gcPercent reads GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestDeferRestoresTheSettingItFound(t *testing.T) {
	time.Sleep(Window + 100*time.Millisecond) // the init's own window is over
	t.Cleanup(func() { debug.SetGCPercent(100) })
	for _, start := range []int{100, 50, 250} {
		debug.SetGCPercent(start)
		Defer(50 * time.Millisecond)
		assert.Equal(t, percent, gcPercent(), "raised while the window lasts")
		assert.Eventually(t, func() bool { return gcPercent() == start }, 2*time.Second, 10*time.Millisecond,
			"GOGC=%d is restored after the window", start)
	}
}

func TestDeferLeavesOffAndHigherSettings(t *testing.T) {
	time.Sleep(Window + 100*time.Millisecond)
	t.Cleanup(func() { debug.SetGCPercent(100) })
	for _, start := range []int{-1, 400, 1000} {
		debug.SetGCPercent(start)
		Defer(time.Hour)
		assert.Equal(t, start, gcPercent(), "GOGC=%d is left as it is", start)
	}
}
