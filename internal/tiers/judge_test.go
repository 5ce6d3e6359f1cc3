package tiers

import (
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

var judgeRules = []config.TierRule{
	{Tier: catalog.Fast, MaxTTFT: time.Second, MinTokensPerSecond: 50},
	{Tier: catalog.Moderate, MaxTTFT: 3 * time.Second, MinTokensPerSecond: 15},
}

func est(ttft, lo, hi time.Duration, tps, tlo, thi float64) Estimate {
	return Estimate{TTFT: ttft, TTFTLo: lo, TTFTHi: hi, TokPerSec: tps, TokPerSecLo: tlo, TokPerSecHi: thi, Confidence: 0.95}
}

// TestJudgeTable is the decision table: a clear pass, a clear fail, an
// interval straddling a threshold with and without a previous tier.
func TestJudgeTable(t *testing.T) {
	ms := time.Millisecond
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		e           Estimate
		prev        *Entry
		decision    string
		tier, point catalog.Tier
		provisional bool
		reason      []string
	}{
		{"clear pass", est(500*ms, 480*ms, 520*ms, 60, 58, 62), nil, Decided, catalog.Fast, catalog.Fast, false,
			[]string{"meet the fast rule", "95% CI TTFT 480ms-520ms, 58.0-62.0 tok/s: all fast"}},
		{"clear fail", est(500*ms, 480*ms, 520*ms, 40, 38, 42), &Entry{Tier: catalog.Fast}, Decided, catalog.Moderate, catalog.Moderate, false,
			[]string{"fast needs >= 50 tok/s (measured 40.0)", "all moderate"}},
		{"straddle keeps previous", est(500*ms, 480*ms, 520*ms, 50.5, 49, 52), &Entry{Tier: catalog.Moderate, MeasuredAt: at}, Undecided, catalog.Moderate, catalog.Fast, false,
			[]string{"undecided", "straddles fast's >= 50 tok/s", "kept the previous tier moderate (measured 2025-06-01T00:00:00Z)"}},
		{"straddle on TTFT keeps previous", est(990*ms, 950*ms, 1030*ms, 60, 58, 62), &Entry{Tier: catalog.Fast}, Undecided, catalog.Fast, catalog.Fast, false,
			[]string{"straddles fast's TTFT <= 1000ms", "kept the previous tier fast"}},
		{"straddle with no previous: provisional point tier", est(500*ms, 480*ms, 520*ms, 49.98, 49, 51), nil, Undecided, catalog.Moderate, catalog.Moderate, true,
			[]string{"fast needs >= 50 tok/s (measured 49.98)", "no previous tier, so the point estimate's moderate is provisional"}},
		{"previous outside the interval", est(500*ms, 480*ms, 520*ms, 50.5, 49, 52), &Entry{Tier: catalog.Slow}, Undecided, catalog.Moderate, catalog.Fast, false,
			[]string{"the previous tier slow is outside the interval: moderate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Settle(NewJudgedEntry("m", "p", "u", judgeRules, tc.e, 10, at), tc.prev)
			if e.Decision != tc.decision || e.Tier != tc.tier || e.PointTier != tc.point || e.Provisional != tc.provisional {
				t.Errorf("decision %q tier %s point %s provisional %v, want %q %s %s %v", e.Decision, e.Tier, e.PointTier, e.Provisional,
					tc.decision, tc.tier, tc.point, tc.provisional)
			}
			for _, w := range tc.reason {
				if !strings.Contains(e.Reason, w) {
					t.Errorf("reason %q lacks %q", e.Reason, w)
				}
			}
			if e.TTFTP50CIMs == nil || e.OutputTokensPerSecP50CI == nil || e.Confidence != 0.95 || len(e.Margins) != 4 {
				t.Errorf("intervals or margins missing: %+v", e)
			}
		})
	}
}

func TestMargins(t *testing.T) {
	j := Judge(judgeRules, est(900*time.Millisecond, 850*time.Millisecond, 1010*time.Millisecond, 49.98, 49, 51))
	want := []Margin{
		{Tier: catalog.Fast, Bound: "max_ttft_ms", Threshold: 1000, Measured: 900, Margin: 100, Percent: 10, Interval: "straddles"},
		{Tier: catalog.Fast, Bound: "min_output_tokens_per_s", Threshold: 50, Measured: 49.98, Margin: -0.02, Percent: -0.04, Interval: "straddles"},
		{Tier: catalog.Moderate, Bound: "max_ttft_ms", Threshold: 3000, Measured: 900, Margin: 2100, Percent: 70, Interval: "clear"},
		{Tier: catalog.Moderate, Bound: "min_output_tokens_per_s", Threshold: 15, Measured: 49.98, Margin: 34.98, Percent: 233.2, Interval: "clear"},
	}
	if len(j.Margins) != len(want) {
		t.Fatalf("margins %+v", j.Margins)
	}
	for i := range want {
		if j.Margins[i] != want[i] {
			t.Errorf("margin %d = %+v, want %+v", i, j.Margins[i], want[i])
		}
	}
	if j.Decided || j.Best != catalog.Fast || j.Worst != catalog.Moderate {
		t.Errorf("judgement %+v", j)
	}
}

// TestExactFigures: a failed comparison never prints as a pass.
func TestExactFigures(t *testing.T) {
	for _, tc := range []struct {
		ttft  time.Duration
		tokps float64
		want  string
	}{
		{500 * time.Millisecond, 49.98, "fast needs >= 50 tok/s (measured 49.98)"},
		{500 * time.Millisecond, 49.9999, "(measured 49.9999)"},
		{1000400 * time.Microsecond, 60, "fast needs TTFT <= 1000ms (measured 1000.4ms)"},
		{999600 * time.Microsecond, 60, "TTFT p50 999.6ms <= 1000ms and 60.0 tok/s"},
		{500 * time.Millisecond, 50, "50.0 tok/s >= 50 meet"},
	} {
		if d := Decide(judgeRules, tc.ttft, tc.tokps); !strings.Contains(d.Reason, tc.want) {
			t.Errorf("Decide(%v, %v) = %q, want %q in it", tc.ttft, tc.tokps, d.Reason, tc.want)
		}
	}
}

// TestMergeNeverFlipsInsideInterval: merging an undecided measurement
// keeps the tier of the file merged into; a decided one replaces it; an
// old file (no intervals) still loads and merges.
func TestMergeNeverFlipsInsideInterval(t *testing.T) {
	old, err := Parse([]byte(`{"version":1,"tiers":[{"model":"a","provider":"p","tier":"fast","ttft_p50_ms":500,"output_tokens_per_s_p50":51},
		{"model":"b","provider":"p","tier":"fast","ttft_p50_ms":500,"output_tokens_per_s_p50":70}]}`))
	if err != nil {
		t.Fatalf("an old file without intervals: %v", err)
	}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	upd := &File{Tiers: []Entry{
		NewJudgedEntry("a", "p", "u", judgeRules, est(500*ms, 480*ms, 520*ms, 49.9, 48, 52), 10, at), // inside: undecided
		NewJudgedEntry("b", "p", "u", judgeRules, est(500*ms, 480*ms, 520*ms, 30, 28, 32), 10, at),   // clear change
		NewJudgedEntry("c", "p", "u", judgeRules, est(500*ms, 480*ms, 520*ms, 49.9, 48, 52), 10, at), // new, undecided
	}}
	m := Merge(old, upd)
	got := map[string]Entry{}
	for _, e := range m.Tiers {
		got[e.Model] = e
	}
	if e := got["a"]; e.Tier != catalog.Fast || e.Decision != Undecided || e.Provisional || !strings.Contains(e.Reason, "kept the previous tier fast") {
		t.Errorf("a: %+v, want fast kept", e)
	}
	if e := got["b"]; e.Tier != catalog.Moderate || e.Decision != Decided {
		t.Errorf("b: %+v, want moderate decided", e)
	}
	if e := got["c"]; e.Tier != catalog.Moderate || !e.Provisional {
		t.Errorf("c: %+v, want moderate provisional", e)
	}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if e := back.Tiers[0]; e.TTFTP50CIMs == nil || e.TTFTP50CIMs.Lo != 480 || e.Decision != Undecided || len(e.Candidates) != 2 {
		t.Errorf("round trip lost the interval: %+v", e)
	}
	// Merging the settled file again with the same undecided result
	// still keeps fast: repeated undecided runs never drift.
	if e := Merge(back, upd).Tiers[0]; e.Tier != catalog.Fast {
		t.Errorf("second merge: %+v", e)
	}
	if _, err := Parse([]byte(`{"version":1,"tiers":[{"model":"m","tier":"fast","ttft_p50_ci_ms":{"lo":5,"hi":1}}]}`)); err == nil {
		t.Error("an interval with lo > hi loaded")
	}
	if _, err := Parse([]byte(`{"version":1,"tiers":[{"model":"m","tier":"fast","decision":"maybe"}]}`)); err == nil {
		t.Error("an unknown decision loaded")
	}
}
