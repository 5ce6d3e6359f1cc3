package keys

import (
	"context"
	"testing"
	"time"
)

// TestMemoryLimiterUse: Use reports what the windows hold at now (the
// last minute's requests and tokens, those in flight, the budget spent
// and reserved) and changes nothing: the next Acquire sees the same.
func TestMemoryLimiterUse(t *testing.T) {
	spent := func(context.Context, string, time.Time) (float64, error) { return 7, nil }
	l := NewMemoryLimiter(spent)
	ur := l.(UseReader)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := Policy{RPM: 5, TPM: 1000, MaxConcurrent: 3, Budget: &Budget{USD: 10, Period: Day}}
	if u := ur.Use("k", p, t0); u.Requests != 0 || u.Tokens != 0 || u.Loaded || u.RPM != 5 || u.TPM != 1000 || u.BudgetUSD != 10 ||
		!u.PeriodEnd.Equal(t0.Truncate(24*time.Hour).Add(24*time.Hour)) {
		t.Fatalf("unseen key: %+v", u)
	}
	var releases []func()
	for i := range 4 {
		l, release := l.Acquire("k", p, t0.Add(time.Duration(i)*10*time.Second))
		if !l.Allowed {
			t.Fatalf("request %d refused", i)
		}
		releases = append(releases, release)
		if i == 2 {
			releases[0]() // max_concurrent 3: one ends before the 4th
		}
	}
	tok, settle := l.Reserve("k", p, 300, 0.5, t0.Add(35*time.Second))
	if !tok.Allowed {
		t.Fatal("reserve refused")
	}
	u := ur.Use("k", p, t0.Add(40*time.Second))
	if u.Requests != 4 || u.InFlight != 3 || u.Tokens != 300 || !u.Loaded || u.SpentUSD != 7.5 {
		t.Errorf("at 40s: %+v", u)
	}
	settle(120, 0.25)
	// 65s: the first request has left the window, the others not.
	u = ur.Use("k", p, t0.Add(65*time.Second))
	if u.Requests != 3 || u.Tokens != 120 || u.SpentUSD != 7.25 {
		t.Errorf("at 65s: %+v", u)
	}
	// Reading changed nothing: one more request fits (3 in the window of 5).
	releases[1]()
	if got, _ := l.Acquire("k", p, t0.Add(65*time.Second)); !got.Allowed || got.Remaining != 1 {
		t.Errorf("after Use: %+v", got)
	}
	// The next day, the budget is not loaded yet.
	if u := ur.Use("k", p, t0.Add(24*time.Hour)); u.Loaded || u.SpentUSD != 0 || u.Requests != 0 {
		t.Errorf("next day: %+v", u)
	}
}

func TestRingUse(t *testing.T) {
	k := Key{ID: "key_1", Name: "legal", Policy: Policy{RPM: 2}}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r, err := NewRing(context.Background(), RingOptions{Static: []Key{k}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, release := r.Acquire(Identity{ID: k.ID, Name: k.Name, Policy: k.Policy})
	defer release()
	u, ok := r.Use(k)
	if !ok || u.Requests != 1 || u.RPM != 2 || u.InFlight != 1 {
		t.Errorf("Use = %+v, %v", u, ok)
	}
}
