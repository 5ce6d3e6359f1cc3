// Package storebreaker holds the breaker the gateway puts around each
// shared store it calls (Redis in internal/state/redisstate, Postgres in
// internal/keys/pgstore): after a number of calls in a row fail it stops
// calling the store for a cool-down, then lets one call at a time try
// again (a heartbeat's probe, or a request's).
//
// It imports only the standard library, so that either store can use it
// without importing the other.
package storebreaker

import (
	"sync"
	"time"
)

// Breaker is safe for concurrent use. Its zero value never opens; make
// one with New.
type Breaker struct {
	failures int
	cooldown time.Duration

	mu    sync.Mutex
	fails int
	open  bool
	until time.Time
	trial bool // a call is trying while open
}

// New returns a closed breaker that opens after failures calls in a row
// fail and stays open for cooldown.
func New(failures int, cooldown time.Duration) *Breaker {
	return &Breaker{failures: failures, cooldown: cooldown}
}

// Allow says whether a call may go to the store now. While the breaker
// is open and its cool-down is over, it lets one call through as the
// trial; that call must end in Fail, Succeed or Abandon.
func (b *Breaker) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if now.Before(b.until) || b.trial {
		return false
	}
	b.trial = true
	return true
}

// Fail records a failure; it says whether the breaker opened just now.
func (b *Breaker) Fail(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails++
	b.trial = false
	if b.open {
		b.until = now.Add(b.cooldown)
		return false
	}
	if b.failures > 0 && b.fails >= b.failures {
		b.open, b.until = true, now.Add(b.cooldown)
		return true
	}
	return false
}

// Succeed records a success; it says whether the breaker closed just now.
func (b *Breaker) Succeed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	was := b.open
	b.fails, b.open, b.trial = 0, false, false
	return was
}

// Abandon ends a call that told nothing (its caller gave up).
func (b *Breaker) Abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// Closed says whether calls go to the store.
func (b *Breaker) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open
}

// RetryAfter is how long until the breaker lets a call try again,
// rounded to the second and at least 1s (for a Retry-After header).
func (b *Breaker) RetryAfter(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.until.Sub(now), time.Second).Round(time.Second)
}
