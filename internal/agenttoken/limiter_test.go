package agenttoken

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a time that only the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func limiterAt(perMinute, burst int) (*Limiter, *clock) {
	c := &clock{t: t0}
	l := NewLimiter(perMinute, burst)
	l.now = c.now
	return l, c
}

func TestLimiterBurstThenRate(t *testing.T) {
	l, c := limiterAt(60, 3) // one a second, three at once
	for i := range 3 {
		ok, _ := l.Allow("ci")
		assert.True(t, ok, "request %d of the burst", i+1)
	}
	ok, retry := l.Allow("ci")
	assert.False(t, ok, "the burst is spent")
	assert.Equal(t, time.Second, retry)

	c.advance(400 * time.Millisecond)
	ok, retry = l.Allow("ci")
	assert.False(t, ok)
	assert.Equal(t, 600*time.Millisecond, retry, "retryAfter counts down")

	c.advance(600 * time.Millisecond)
	ok, _ = l.Allow("ci")
	assert.True(t, ok, "one more after a second")
	ok, _ = l.Allow("ci")
	assert.False(t, ok)

	c.advance(time.Hour)
	for range 3 {
		ok, _ := l.Allow("ci")
		assert.True(t, ok)
	}
	ok, _ = l.Allow("ci")
	assert.False(t, ok, "an idle hour refills the burst, no more")
}

func TestLimiterIsPerAgent(t *testing.T) {
	l, _ := limiterAt(6, 1)
	ok, _ := l.Allow("ci")
	require.True(t, ok)
	ok, retry := l.Allow("ci")
	assert.False(t, ok)
	assert.Equal(t, 10*time.Second, retry)
	ok, _ = l.Allow("dev")
	assert.True(t, ok, "one agent's spent bucket does not limit another")
}

func TestLimiterDisabled(t *testing.T) {
	for _, l := range []*Limiter{nil, NewLimiter(0, 5), NewLimiter(-1, 0)} {
		for range 1000 {
			ok, retry := l.Allow("ci")
			require.True(t, ok)
			require.Zero(t, retry)
		}
	}
}

func TestLimiterBurstAtLeastOne(t *testing.T) {
	l, _ := limiterAt(60, 0)
	ok, _ := l.Allow("ci")
	assert.True(t, ok)
	ok, _ = l.Allow("ci")
	assert.False(t, ok)
}

// Concurrent callers never get more than the burst between them.
func TestLimiterConcurrent(t *testing.T) {
	l, _ := limiterAt(1, 50)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := l.Allow("ci"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 50, allowed)
}
