package bench

import (
	"testing"
	"time"
)

// TestSeries buckets requests by the second: completions and failures by
// their end, first tokens by their arrival, tokens spread over chunks.
func TestSeries(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	rec := func(start, ttft time.Duration, gaps []time.Duration, tokens int) Record {
		r := Record{OK: true, Start: t0.Add(start), TTFT: ttft, ITL: gaps, Chunks: len(gaps) + 1, OutputTokens: tokens}
		end := start + ttft
		for _, g := range gaps {
			end += g
		}
		r.End = t0.Add(end + ms)
		return r
	}
	sg := segment{repeat: 2, started: t0, recs: []Record{
		// 4 chunks at 0.2, 0.7, 1.2, 1.7 s: 8 tokens, 2 per chunk.
		rec(0, 200*ms, []time.Duration{500 * ms, 500 * ms, 500 * ms}, 8),
		// first token at 1.1 s, one chunk of 3 tokens.
		rec(time.Second, 100*ms, nil, 3),
		{OK: false, Start: t0.Add(2 * time.Second), End: t0.Add(2500 * ms)},
	}}
	got := series(sg, true)
	want := []Second{
		{Repeat: 2, T: 0, Completed: 0, OutputTokensPerS: 4, TTFTP50Ms: 200, FirstTokens: 1},
		{Repeat: 2, T: 1, Completed: 2, OutputTokensPerS: 7, TTFTP50Ms: 100, FirstTokens: 1},
		{Repeat: 2, T: 2, Failed: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("series %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("second %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := series(sg, false); s[0].Repeat != 0 {
		t.Error("a single run's series carries a repeat number")
	}
}
