package keys

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryLimiterRPM(t *testing.T) {
	l := NewMemoryLimiter(nil)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{RPM: 3}
	for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		got, release := l.Acquire("k", p, t0.Add(at))
		if !got.Allowed || got.Remaining != 2-i || got.RPM != 3 {
			t.Fatalf("request %d: %+v", i, got)
		}
		release()
	}
	got, release := l.Acquire("k", p, t0.Add(30*time.Second))
	if got.Allowed || release != nil || got.Refused != "rpm" || got.RetryAfter != 30*time.Second || got.Remaining != 0 {
		t.Fatalf("4th in the minute: %+v", got)
	}
	// Another key has its own window.
	if got, _ := l.Acquire("other", p, t0.Add(30*time.Second)); !got.Allowed {
		t.Errorf("another key refused: %+v", got)
	}
	// The first request leaves the window at t0+60s, exactly.
	if got, _ := l.Acquire("k", p, t0.Add(time.Minute)); !got.Allowed || got.Remaining != 0 || got.Reset != 10*time.Second {
		t.Errorf("after the first left the window: %+v", got)
	}
	if got, _ := l.Acquire("k", p, t0.Add(time.Minute+time.Second)); got.Allowed {
		t.Errorf("admitted beyond the limit: %+v", got)
	}
}

func TestMemoryLimiterConcurrent(t *testing.T) {
	l := NewMemoryLimiter(nil)
	now := time.Now()
	p := Policy{MaxConcurrent: 2}
	_, r1 := l.Acquire("k", p, now)
	_, r2 := l.Acquire("k", p, now)
	if got, rel := l.Acquire("k", p, now); got.Allowed || rel != nil || got.Refused != "max_concurrent" || got.RetryAfter <= 0 {
		t.Fatalf("third in flight: %+v", got)
	}
	r1()
	r1() // a second release changes nothing
	if got, r3 := l.Acquire("k", p, now); !got.Allowed {
		t.Fatalf("after a release: %+v", got)
	} else {
		r3()
	}
	if got, _ := l.Acquire("k", p, now); !got.Allowed {
		t.Fatalf("after two releases: %+v", got)
	}
	if got, _ := l.Acquire("k", p, now); got.Allowed {
		t.Fatalf("a double release freed a slot: %+v", got)
	}
	r2()
}

// TestMemoryLimiterExactUnderLoad: many goroutines at once, never more
// admitted than the limit.
func TestMemoryLimiterExactUnderLoad(t *testing.T) {
	l := NewMemoryLimiter(nil)
	now := time.Now()
	var admitted, inFlight, maxInFlight atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 200 {
		wg.Go(func() {
			got, release := l.Acquire("k", Policy{RPM: 50, MaxConcurrent: 7}, now)
			if !got.Allowed {
				return
			}
			admitted.Add(1)
			n := inFlight.Add(1)
			mu.Lock()
			maxInFlight.Store(max(maxInFlight.Load(), n))
			mu.Unlock()
			inFlight.Add(-1)
			release()
		})
	}
	wg.Wait()
	if admitted.Load() > 50 || maxInFlight.Load() > 7 {
		t.Errorf("admitted %d (limit 50), %d at once (limit 7)", admitted.Load(), maxInFlight.Load())
	}
	if admitted.Load() < 7 {
		t.Errorf("only %d admitted", admitted.Load())
	}
}

// BenchmarkAuthenticate is the hot path's cost of a key: the hash, the
// lookup among 1000 keys and the limiter of a key with rpm 60 and
// max_concurrent 4 (the clock moves 2s a request, so the minute's log
// stays full).
func BenchmarkAuthenticate(b *testing.B) {
	static := make([]Key, 1000)
	var secret string
	for i := range static {
		s, _ := NewSecret()
		static[i] = Key{ID: "key_" + strconv.Itoa(i), Name: "k", Hash: HashSecret(s), Policy: Policy{RPM: 60, MaxConcurrent: 4}}
		secret = s
	}
	now := time.Now()
	r, err := NewRing(context.Background(), RingOptions{Static: static, Now: func() time.Time { now = now.Add(2 * time.Second); return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		id, err := r.Authenticate(secret)
		if err != nil {
			b.Fatal(err)
		}
		l, release := r.Acquire(id)
		if !l.Allowed {
			b.Fatalf("refused: %+v", l)
		}
		release()
	}
}
