package keys

import (
	"strconv"
	"sync"
	"time"
)

// Limiter admits a key's requests under its policy's rpm and
// max_concurrent. Memory (one replica) is the default; a shared one
// (Redis, for several replicas) implements the same interface.
type Limiter interface {
	// Acquire admits one request of key id under p at now. When admitted,
	// release must be called once the request ends; when refused,
	// release is nil and the Limit says which limit and when to retry.
	Acquire(id string, p Policy, now time.Time) (l Limit, release func())
	// Reserve holds tokens (the prompt estimate plus max_tokens) under
	// p's tpm and usd under its budget before a call. When admitted,
	// settle must be called with what the call used once it ended
	// (cancelled and cut included); when refused, settle is nil and the
	// Tokens say which limit. A budget admits while what is spent and
	// reserved this period is below it, so it overshoots by at most one
	// request's reservation.
	Reserve(id string, p Policy, tokens int, usd float64, now time.Time) (t Tokens, settle Settle)
}

// RefusedUnavailable is the Refused of a Limit or Tokens from a shared
// limiter whose store is down while it fails closed: the key was not
// over its limits, they could not be counted.
const RefusedUnavailable = "state_unavailable"

// Limit is a limiter's answer, enough for OpenAI's x-ratelimit-* headers.
type Limit struct {
	Allowed bool
	// Refused names the limit that refused: "rpm" or "max_concurrent".
	Refused string
	// RPM, Remaining and Reset describe the requests-per-minute window
	// (RPM 0: no such limit): requests left in it after this one, and
	// when the next slot frees.
	RPM, Remaining int
	Reset          time.Duration
	// RetryAfter is when to try again (refused only).
	RetryAfter time.Duration
}

// Headers sets OpenAI's x-ratelimit-*-requests headers for l (none
// without an rpm limit).
func (l Limit) Headers(set func(k, v string)) {
	if l.RPM <= 0 {
		return
	}
	set("x-ratelimit-limit-requests", strconv.Itoa(l.RPM))
	set("x-ratelimit-remaining-requests", strconv.Itoa(l.Remaining))
	set("x-ratelimit-reset-requests", l.Reset.Round(time.Millisecond).String())
}

// NewMemoryLimiter is the Limiter of a single replica: per key an exact
// sliding one-minute log of admitted requests (never more than rpm in any
// minute) and a count of those in flight.
// Tokens per minute are a sliding log of reservations, each replaced by
// the real usage when it settles; a budget's spend this period is read
// from spent (nil: none, it starts at 0) the first time a key is seen in
// a period.
func NewMemoryLimiter(spent SpendSource) Limiter {
	return &memLimiter{keys: map[string]*bucket{}, tokens: map[string]*tokenBucket{}, spent: spent}
}

type memLimiter struct {
	mu     sync.Mutex
	keys   map[string]*bucket
	tokens map[string]*tokenBucket
	tmu    sync.Mutex
	spent  SpendSource
}

// entry is a key's state in m, added (zero) on first use; mu guards m.
func entry[V any](mu *sync.Mutex, m map[string]*V, id string) *V {
	mu.Lock()
	defer mu.Unlock()
	v := m[id]
	if v == nil {
		v = new(V)
		m[id] = v
	}
	return v
}

type bucket struct {
	mu       sync.Mutex
	times    []time.Time // admitted in the last minute, oldest first
	inFlight int
}

func (m *memLimiter) Acquire(id string, p Policy, now time.Time) (Limit, func()) {
	if p.RPM <= 0 && p.MaxConcurrent <= 0 {
		return Limit{Allowed: true}, func() {}
	}
	b := entry(&m.mu, m.keys, id)

	b.mu.Lock()
	defer b.mu.Unlock()
	l := Limit{RPM: p.RPM}
	if p.RPM > 0 {
		cut := now.Add(-time.Minute)
		i := 0
		for i < len(b.times) && !b.times[i].After(cut) {
			i++
		}
		b.times = b.times[i:]
		if len(b.times) >= p.RPM {
			l.Refused, l.Remaining = "rpm", 0
			l.Reset = b.times[len(b.times)-p.RPM].Add(time.Minute).Sub(now)
			l.RetryAfter = l.Reset
			return l, nil
		}
	}
	if p.MaxConcurrent > 0 && b.inFlight >= p.MaxConcurrent {
		l.Refused, l.RetryAfter = "max_concurrent", time.Second
		if p.RPM > 0 {
			l.Remaining = p.RPM - len(b.times)
			l.Reset = b.reset(now)
		}
		return l, nil
	}
	if p.RPM > 0 {
		b.times = append(b.times, now)
		l.Remaining = p.RPM - len(b.times)
		l.Reset = b.reset(now)
	}
	b.inFlight++
	l.Allowed = true
	var once sync.Once
	return l, func() {
		once.Do(func() {
			b.mu.Lock()
			b.inFlight--
			b.mu.Unlock()
		})
	}
}

// reset is when the oldest request in the window leaves it.
func (b *bucket) reset(now time.Time) time.Duration {
	if len(b.times) == 0 {
		return 0
	}
	return b.times[0].Add(time.Minute).Sub(now)
}
