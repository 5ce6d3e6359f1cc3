package gateway

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// TestLiveStatsWindow: attempts count in the slot of their time, old
// slots leave the five-minute window and are reused, failures (not
// cancellations or invalid requests) count as errors, a Retry-After
// other than a 503's is kept with its status, and cost adds up.
func TestLiveStatsWindow(t *testing.T) {
	var ls liveStats
	m := &catalog.Model{ID: "gpt-4o", Provider: "openai", Price: catalog.Price{Input: 2, Output: 10}}
	c := router.Candidate{Model: m}
	t0 := time.Unix(1_800_000_000, 0)
	ok := &providers.Result{Usage: &providers.Usage{PromptTokens: 1000, CompletionTokens: 100}}
	ok.Timing.FirstToken = t0
	ls.record(c, ok, nil, "", t0)
	ls.record(c, nil, errors.New("x"), "canceled", t0.Add(time.Second))
	ls.record(c, nil, &providers.Error{Status: 429, RetryAfter: 30 * time.Second}, "rate_limit", t0.Add(2*time.Second))
	ls.record(c, nil, &providers.Error{Status: 503, RetryAfter: time.Minute}, "unavailable", t0.Add(3*time.Second))
	b := ls.byID()[[2]string{"gpt-4o", "openai"}]
	if b == nil {
		t.Fatal("no stats for gpt-4o")
	}
	e := epochOf(t0.Add(3 * time.Second))
	if r, f := window(&b.reqs, e), window(&b.errs, e); r != 4 || f != 2 {
		t.Errorf("window: %d requests, %d errors; want 4, 2", r, f)
	}
	if got := nsTime(b.retryNs.Load()); !got.Equal(t0.Add(32*time.Second)) || b.retryStatus.Load() != 429 {
		t.Errorf("retry until %v (%d), want the 429's", got, b.retryStatus.Load())
	}
	if got := float64(b.costNano.Load()) / 1e9; math.Abs(got-0.003) > 1e-9 {
		t.Errorf("cost %v, want 0.003", got)
	}
	if !nsTime(b.liveNs.Load()).Equal(t0) || !nsTime(b.provFailNs.Load()).Equal(t0.Add(3*time.Second)) {
		t.Errorf("live at %v, provider failure at %v", nsTime(b.liveNs.Load()), nsTime(b.provFailNs.Load()))
	}
	// Four minutes on, one more: still in the window.
	later := t0.Add(4 * time.Minute)
	ls.record(c, nil, nil, "", later)
	if r := window(&b.reqs, epochOf(later)); r != 5 {
		t.Errorf("after 4 min: %d requests, want 5", r)
	}
	// Six minutes on: the first four have left; the slot they used is reused.
	much := t0.Add(5*time.Minute + 10*time.Second)
	ls.record(c, nil, nil, "", much)
	if r, f := window(&b.reqs, epochOf(much)), window(&b.errs, epochOf(much)); r != 2 || f != 0 {
		t.Errorf("after 5 min 10 s: %d requests, %d errors; want 2, 0", r, f)
	}
}

// TestBumpAllocatesNothing guards the hot path.
func TestBumpAllocatesNothing(t *testing.T) {
	var ls liveStats
	c := router.Candidate{Model: &catalog.Model{ID: "m", Provider: "p"}}
	now := time.Now()
	ls.record(c, nil, nil, "", now)
	if n := testing.AllocsPerRun(100, func() { ls.record(c, nil, nil, "", now) }); n != 0 {
		t.Errorf("record allocates %v times", n)
	}
}
