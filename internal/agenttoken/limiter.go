package agenttoken

import (
	"math"
	"sync"
	"time"
)

// Limiter limits each agent's requests with a token bucket of its own:
// burst requests at once, then perMinute a minute. One agent's loop
// cannot starve the others. Safe for concurrent use; a nil Limiter allows
// everything.
type Limiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows each name perMinute requests a minute, and up to burst
// (at least 1) at once. perMinute <= 0 disables the limit.
func NewLimiter(perMinute int, burst int) *Limiter {
	return &Limiter{
		perSecond: float64(perMinute) / 60,
		burst:     float64(max(burst, 1)),
		now:       time.Now,
		buckets:   map[string]*bucket{},
	}
}

// Allow takes one request from name's bucket. When the bucket is empty it
// returns false and how long until a request would be allowed (for a
// Retry-After header, rounded up to whole seconds).
func (l *Limiter) Allow(name string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.perSecond <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[name]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[name] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.perSecond * float64(time.Second)))
	return false, wait
}
