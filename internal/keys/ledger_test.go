package keys

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestLedger: entries recorded from several goroutines are all in the
// database once Close returns (the writer flushes and stops: no goroutine
// left), survive reopening, and Usage sums this period's only.
func TestLedger(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	open := func(ctx context.Context) (Store, error) { return OpenSQLite(ctx, dir) }
	r, err := NewRing(ctx, RingOptions{Now: func() time.Time { return now }, Open: open})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := r.Create(ctx, "legal", Policy{Budget: &Budget{USD: 1, Period: Day}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := r.Create(ctx, "other", Policy{}, nil)
	// Yesterday's entry is not this day's spend; the month's it is.
	r.Record(Entry{KeyID: k.ID, KeyName: k.Name, Model: "m", Provider: "p", TokensIn: 1000, TokensOut: 1000, CostUSD: 5, Status: StatusOK, At: now.Add(-24 * time.Hour)})
	const clients, each = 8, 250
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				id := k
				if i%5 == 0 {
					id = other
				}
				r.Record(Entry{KeyID: id.ID, KeyName: id.Name, Model: "m", Provider: "p", TokensIn: 10, TokensOut: 2 + c, CostUSD: 0.001, Status: StatusOK, At: now})
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Record(Entry{KeyID: k.ID, At: now}) // after Close: dropped, no panic

	st, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err = NewRing(ctx, RingOptions{Now: func() time.Time { return now }, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	u, err := r.Usage(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantN := int64(clients * each * 4 / 5)
	wantOut := int64(0)
	for c := range clients {
		wantOut += int64((2 + c) * each * 4 / 5)
	}
	if u.Requests != wantN || u.TokensIn != 10*wantN || u.TokensOut != wantOut || math.Abs(u.SpendUSD-0.001*float64(wantN)) > 1e-9 ||
		!u.Since.Equal(time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("this day's usage %+v, want %d requests, %d in, %d out, $%v", u, wantN, 10*wantN, wantOut, 0.001*float64(wantN))
	}
	month, err := st.Usage(ctx, k.ID, PeriodStart(Month, now))
	if err != nil || month.Requests != wantN+1 || math.Abs(month.SpendUSD-(5+0.001*float64(wantN))) > 1e-9 {
		t.Errorf("this month's usage %+v %v", month, err)
	}
	if u, _ := r.Usage(ctx, other.ID); u.Requests != int64(clients*each/5) {
		t.Errorf("other key: %+v", u)
	}
}

func TestPeriodStart(t *testing.T) {
	at := time.Date(2026, 12, 15, 23, 59, 59, 999, time.FixedZone("x", -5*3600)) // Dec 16 04:59 UTC
	for _, c := range []struct {
		period string
		want   time.Time
	}{
		{Day, time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC)},
		{Month, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if got := PeriodStart(c.period, at); !got.Equal(c.want) {
			t.Errorf("PeriodStart(%q) = %v, want %v", c.period, got, c.want)
		}
	}
}
