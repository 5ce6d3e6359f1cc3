package tiers

import (
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// TestRulesAtTheirOwnLoad: fast must hold at c=8, moderate at the
// default load (c=1); each rule is judged on its own step, and a rule
// whose step is missing is not met, so the next rule is tried.
func TestRulesAtTheirOwnLoad(t *testing.T) {
	c8 := At{Concurrency: 8}
	rules := []config.TierRule{
		{Tier: catalog.Fast, MaxTTFT: 500 * time.Millisecond, At: &c8},
		{Tier: catalog.Moderate, MaxTTFT: 2 * time.Second},
	}
	est := func(ttft time.Duration, spread time.Duration) Estimate {
		return Estimate{TTFT: ttft, TTFTLo: ttft - spread, TTFTHi: ttft + spread, TokPerSec: 50, TokPerSecLo: 49, TokPerSecHi: 51, Confidence: 0.95}
	}
	at1 := Measured{Est: est(100*time.Millisecond, time.Millisecond), Requests: 4}
	for _, tc := range []struct {
		name      string
		c8        *Measured
		tier      catalog.Tier
		decision  string
		at        *At
		reason    []string
		ttftMs    float64
		straddles bool
	}{
		{name: "met at c=8", c8: &Measured{Est: est(300*time.Millisecond, time.Millisecond), Requests: 16}, tier: catalog.Fast, decision: Decided, at: &c8,
			reason: []string{"TTFT p50 300ms <= 500ms and 50.0 tok/s >= 0 at c=8 meet the fast rule"}, ttftMs: 300},
		{name: "missed at c=8, fast alone", c8: &Measured{Est: est(812*time.Millisecond, time.Millisecond), Requests: 16}, tier: catalog.Moderate, decision: Decided,
			reason: []string{"at c=1 meet the moderate rule", "fast needs TTFT <= 500ms at c=8 (measured 812ms at c=8)"}, ttftMs: 100},
		{name: "step missing: next rule", tier: catalog.Moderate, decision: Decided,
			reason: []string{"meet the moderate rule", "fast needs TTFT <= 500ms and >= 0 tok/s at c=8, and no c=8 step"}, ttftMs: 100},
		{name: "c=8 straddles fast", c8: &Measured{Est: est(500*time.Millisecond, 20*time.Millisecond), Requests: 16}, tier: catalog.Fast, decision: Undecided, at: &c8,
			reason: []string{"straddles fast's TTFT <= 500ms at c=8", "(moderate to fast)"}, ttftMs: 500, straddles: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(a At) Measured {
				switch {
				case a.Single():
					return at1
				case a == c8 && tc.c8 != nil:
					return *tc.c8
				}
				return Measured{Missing: "no " + a.String() + " step was run (steps: c=1, c=4)"}
			}
			e := NewJudgedEntryAt("m", "p", "u", rules, At{}, lookup)
			if e.Tier != tc.tier || e.Decision != tc.decision || e.TTFTP50Ms != tc.ttftMs {
				t.Errorf("tier %s decision %s ttft %v, want %s %s %v: %s", e.Tier, e.Decision, e.TTFTP50Ms, tc.tier, tc.decision, tc.ttftMs, e.Reason)
			}
			if (e.At == nil) != (tc.at == nil) || (e.At != nil && *e.At != *tc.at) {
				t.Errorf("at %v, want %v", e.At, tc.at)
			}
			for _, want := range tc.reason {
				if !strings.Contains(e.Reason, want) {
					t.Errorf("reason lacks %q:\n%s", want, e.Reason)
				}
			}
			if e.Rule != nil && e.Rule.Tier == catalog.Fast && (e.Rule.At == nil || *e.Rule.At != c8) {
				t.Errorf("the met rule does not record its load: %+v", e.Rule)
			}
			for _, m := range e.Margins {
				if want := map[catalog.Tier]string{catalog.Fast: "c=8", catalog.Moderate: "c=1"}[m.Tier]; m.At != want {
					t.Errorf("margin %+v: at %q, want %q", m, m.At, want)
				}
			}
		})
	}
	// Without a rule's own load every rule is judged at the default, and
	// the reasons stay as they were (no load named).
	plain := []config.TierRule{{Tier: catalog.Fast, MaxTTFT: 500 * time.Millisecond}}
	e := NewJudgedEntryAt("m", "p", "u", plain, At{}, func(At) Measured { return at1 })
	if want := NewJudgedEntry("m", "p", "u", plain, at1.Est, 4, time.Time{}); e.Reason != want.Reason || e.Tier != want.Tier {
		t.Errorf("%q != %q", e.Reason, want.Reason)
	}
}
