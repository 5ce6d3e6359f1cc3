package keys

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// TestReserveTPMUnderLoad: many goroutines reserving at once never get
// more than tpm tokens admitted in the window; settling with less frees
// the difference; the window's tokens leave it after a minute.
func TestReserveTPMUnderLoad(t *testing.T) {
	l := NewMemoryLimiter(nil)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{TPM: 10_000}
	const clients, each, size = 8, 50, 300
	var mu sync.Mutex
	admitted := 0
	var settles []Settle
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				tk, settle := l.Reserve("k", p, size, 0, now)
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
		})
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
	tk, settle := l.Reserve("k", p, size, 0, now.Add(time.Second))
	if !tk.Allowed || tk.Remaining != p.TPM-len(settles)*size/3-size {
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
	if tk, _ := l.Reserve("k", p, big, 0, now.Add(2*time.Second)); tk.Allowed || tk.Reset != 58*time.Second {
		t.Errorf("too big for what is left: %+v", tk)
	}
	if tk, _ := l.Reserve("k", p, p.TPM, 0, now.Add(time.Minute+2*time.Second)); !tk.Allowed {
		t.Errorf("a minute later the window is empty: %+v", tk)
	}
	if tk, _ := l.Reserve("other", p, p.TPM, 0, now); !tk.Allowed {
		t.Errorf("another key: %+v", tk)
	}
}

// TestReserveBudget: a budget admits while spent plus reserved is below
// it, so concurrent requests overshoot by at most one reservation; the
// spend this period starts from the SpendSource and a new period starts
// again from it.
func TestReserveBudget(t *testing.T) {
	var asked []time.Time
	src := func(_ context.Context, id string, since time.Time) (float64, error) {
		asked = append(asked, since)
		if since.Month() == time.December {
			return 0.5, nil // spent before a restart
		}
		return 0, nil
	}
	l := NewMemoryLimiter(src)
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	p := Policy{Budget: &Budget{USD: 1, Period: Month}}
	const reservation, used = 0.2, 0.1
	var settles []Settle
	for {
		tk, settle := l.Reserve("k", p, 0, reservation, now)
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
	tk, s := l.Reserve("k", p, 0, reservation, now)
	if !tk.Allowed {
		t.Fatalf("0.8 of 1 spent: %+v", tk)
	}
	s(0, reservation)
	if tk, _ := l.Reserve("k", p, 0, reservation, now); tk.Allowed || tk.SpentUSD > 1+reservation+1e-9 {
		t.Errorf("spent 1.0: %+v", tk)
	}
	// January: a new period, read from the source again.
	if tk, _ := l.Reserve("k", p, 0, reservation, now.Add(2*time.Hour)); !tk.Allowed || math.Abs(tk.SpentUSD-reservation) > 1e-9 {
		t.Errorf("next month: %+v", tk)
	}
	if len(asked) != 2 {
		t.Errorf("the source was asked %d times (%v), want once per period", len(asked), asked)
	}
	if tk, s := l.Reserve("free", Policy{}, 1e9, 1e9, now); !tk.Allowed || s == nil {
		t.Errorf("no tpm nor budget: %+v", tk)
	}
}
