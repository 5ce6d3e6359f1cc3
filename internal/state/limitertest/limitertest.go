// Package limitertest is the suite every keys.Limiter passes: the
// memory limiter's semantics (rpm, max_concurrent, tpm, budget and the
// answers behind the x-ratelimit headers), written once and run on each
// implementation (internal/keys's memory limiter, redisstate's on a real
// Redis).
//
// It is test support only (it imports testing); it imports keys and
// nothing else of tiergate.
package limitertest

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// New makes a fresh limiter (no state) reading a budget's spend from
// spent (nil: none).
type New func(t *testing.T, spent keys.SpendSource) keys.Limiter

// Run runs every case on limiters newLimiter makes.
func Run(t *testing.T, newLimiter New) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, New)
	}{{"rpm", rpm}, {"max_concurrent", concurrent}, {"exact_under_load", exactUnderLoad}, {"tpm", tpm}, {"budget", budget}} {
		t.Run(c.name, func(t *testing.T) { c.f(t, newLimiter) })
	}
}

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func rpm(t *testing.T, newLimiter New) {
	l := newLimiter(t, nil)
	p := keys.Policy{RPM: 3}
	for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		got, release := l.Acquire("k", p, t0.Add(at))
		if !got.Allowed || got.Remaining != 2-i || got.RPM != 3 || got.Reset != time.Minute-at {
			t.Fatalf("request %d: %+v", i, got)
		}
		release()
	}
	got, release := l.Acquire("k", p, t0.Add(30*time.Second))
	if got.Allowed || release != nil || got.Refused != "rpm" || got.RetryAfter != 30*time.Second || got.Remaining != 0 {
		t.Fatalf("4th in the minute: %+v", got)
	}
	if got, _ := l.Acquire("other", p, t0.Add(30*time.Second)); !got.Allowed {
		t.Errorf("another key refused: %+v", got)
	}
	if got, _ := l.Acquire("k", p, t0.Add(time.Minute)); !got.Allowed || got.Remaining != 0 || got.Reset != 10*time.Second {
		t.Errorf("after the first left the window: %+v", got)
	}
	if got, _ := l.Acquire("k", p, t0.Add(time.Minute+time.Second)); got.Allowed {
		t.Errorf("admitted beyond the limit: %+v", got)
	}
	var hdr = map[string]string{}
	got.Headers(func(k, v string) { hdr[k] = v })
	if hdr["x-ratelimit-limit-requests"] != "3" || hdr["x-ratelimit-remaining-requests"] != "0" {
		t.Errorf("headers %v", hdr)
	}
}

func concurrent(t *testing.T, newLimiter New) {
	l := newLimiter(t, nil)
	p := keys.Policy{MaxConcurrent: 2}
	_, r1 := l.Acquire("k", p, t0)
	_, r2 := l.Acquire("k", p, t0)
	if got, rel := l.Acquire("k", p, t0); got.Allowed || rel != nil || got.Refused != "max_concurrent" || got.RetryAfter <= 0 {
		t.Fatalf("third in flight: %+v", got)
	}
	r1()
	r1() // a second release changes nothing
	if got, r3 := l.Acquire("k", p, t0); !got.Allowed {
		t.Fatalf("after a release: %+v", got)
	} else {
		r3()
	}
	if got, _ := l.Acquire("k", p, t0); !got.Allowed {
		t.Fatalf("after two releases: %+v", got)
	}
	if got, _ := l.Acquire("k", p, t0); got.Allowed {
		t.Fatalf("a double release freed a slot: %+v", got)
	}
	r2()
	if got, _ := l.Acquire("free", keys.Policy{}, t0); !got.Allowed {
		t.Errorf("no limits: %+v", got)
	}
}

// exactUnderLoad: many goroutines at once, never more admitted than
// the limit, never more in flight than max_concurrent.
func exactUnderLoad(t *testing.T, newLimiter New) {
	l := newLimiter(t, nil)
	var admitted, inFlight, maxInFlight atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, release := l.Acquire("k", keys.Policy{RPM: 50, MaxConcurrent: 7}, t0)
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
		}()
	}
	wg.Wait()
	if admitted.Load() > 50 || maxInFlight.Load() > 7 {
		t.Errorf("admitted %d (limit 50), %d at once (limit 7)", admitted.Load(), maxInFlight.Load())
	}
	if admitted.Load() < 7 {
		t.Errorf("only %d admitted", admitted.Load())
	}
}

func tpm(t *testing.T, newLimiter New) {
	l := newLimiter(t, nil)
	p := keys.Policy{TPM: 10_000}
	const clients, each, size = 8, 50, 300
	var mu sync.Mutex
	admitted := 0
	var settles []keys.Settle
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tk, settle := l.Reserve("k", p, size, 0, t0)
				if tk.Allowed != (settle != nil) {
					t.Error("Allowed and settle disagree")
				}
				if tk.Allowed {
					mu.Lock()
					admitted += size
					settles = append(settles, settle)
					mu.Unlock()
				} else if tk.Refused != "tpm" || tk.RetryAfter <= 0 || tk.Reset > time.Minute {
					t.Errorf("refusal %+v", tk)
				}
			}
		}()
	}
	wg.Wait()
	if admitted > p.TPM || admitted < p.TPM-size {
		t.Fatalf("admitted %d tokens under a tpm of %d", admitted, p.TPM)
	}
	// Each used a third of what it reserved: room for more at once.
	for _, s := range settles {
		s(size/3, 0)
		s(size, 0) // a second settle changes nothing
	}
	tk, settle := l.Reserve("k", p, size, 0, t0.Add(time.Second))
	if !tk.Allowed || tk.Remaining != p.TPM-len(settles)*size/3-size || tk.Reset != 59*time.Second {
		t.Fatalf("after settling: %+v, want %d remaining", tk, p.TPM-len(settles)*size/3-size)
	}
	settle(size, 0)
	var hdr = map[string]string{}
	tk.Headers(func(k, v string) { hdr[k] = v })
	if hdr["x-ratelimit-limit-tokens"] != "10000" || hdr["x-ratelimit-remaining-tokens"] == "" || hdr["x-ratelimit-reset-tokens"] == "" {
		t.Errorf("headers %v", hdr)
	}
	// A request larger than what is left waits for the oldest tokens.
	big := p.TPM - len(settles)*size/3 - size + 1
	if tk, _ := l.Reserve("k", p, big, 0, t0.Add(2*time.Second)); tk.Allowed || tk.Reset != 58*time.Second || tk.Refused != "tpm" {
		t.Errorf("too big for what is left: %+v", tk)
	}
	if tk, _ := l.Reserve("k", p, p.TPM+1, 0, t0.Add(2*time.Second)); tk.Allowed || tk.Reset != time.Minute {
		t.Errorf("larger than the limit: %+v", tk)
	}
	if tk, _ := l.Reserve("k", p, p.TPM, 0, t0.Add(time.Minute+2*time.Second)); !tk.Allowed {
		t.Errorf("a minute later the window is empty: %+v", tk)
	}
	if tk, _ := l.Reserve("other", p, p.TPM, 0, t0); !tk.Allowed {
		t.Errorf("another key: %+v", tk)
	}
}

func budget(t *testing.T, newLimiter New) {
	var mu sync.Mutex
	asked := map[string]int{}
	src := func(_ context.Context, id string, since time.Time) (float64, error) {
		mu.Lock()
		asked[id]++
		mu.Unlock()
		if since.Month() == time.December {
			return 0.5, nil // spent before a restart
		}
		return 0, nil
	}
	l := newLimiter(t, src)
	id := "k"
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	p := keys.Policy{Budget: &keys.Budget{USD: 1, Period: keys.Month}}
	const reservation, used = 0.2, 0.1
	var settles []keys.Settle
	for {
		tk, settle := l.Reserve(id, p, 0, reservation, now)
		if !tk.Allowed {
			if tk.Refused != "budget" || tk.BudgetUSD != 1 || !tk.PeriodEnd.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("refusal %+v", tk)
			}
			break
		}
		settles = append(settles, settle)
		if len(settles) > 10 {
			t.Fatal("the budget never stopped")
		}
	}
	// 0.5 spent: 0.5, 0.7, 0.9 admitted in flight (0.9 < 1), then 1.1.
	if len(settles) != 3 {
		t.Errorf("%d admitted in flight, want 3", len(settles))
	}
	for _, s := range settles {
		s(0, used)
	}
	// 0.8 spent now: one more fits, and it may overshoot by its own
	// reservation at most.
	tk, s := l.Reserve(id, p, 0, reservation, now)
	if !tk.Allowed || math.Abs(tk.SpentUSD-1.0) > 1e-9 {
		t.Fatalf("0.8 of 1 spent: %+v", tk)
	}
	s(0, reservation)
	if tk, _ := l.Reserve(id, p, 0, reservation, now); tk.Allowed || tk.SpentUSD > 1+reservation+1e-9 {
		t.Errorf("spent 1.0: %+v", tk)
	}
	// January: a new period, read from the source again.
	if tk, _ := l.Reserve(id, p, 0, reservation, now.Add(2*time.Hour)); !tk.Allowed || math.Abs(tk.SpentUSD-reservation) > 1e-9 {
		t.Errorf("next month: %+v", tk)
	}
	mu.Lock()
	n := asked[id]
	mu.Unlock()
	if n != 2 {
		t.Errorf("the source was asked %d times, want once per period", n)
	}
	if tk, s := l.Reserve(id, keys.Policy{}, 1e9, 1e9, now); !tk.Allowed || s == nil {
		t.Errorf("no tpm nor budget: %+v", tk)
	}
}
