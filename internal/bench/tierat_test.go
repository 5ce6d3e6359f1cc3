package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/tiers"
)

// TestTierAt: against a backend whose latency grows with concurrency (2
// slots of 100 ms: alone a request waits for none, at c=8 for about
// three others), the tier is fast at c=1 and moderate at c=8, and a
// tier required at c=8 is the c=8 tier, named so in its reason.
func TestTierAt(t *testing.T) {
	rules := []config.TierRule{
		{Tier: catalog.Fast, MaxTTFT: 200 * time.Millisecond},
		{Tier: catalog.Moderate, MaxTTFT: 2 * time.Second},
	}
	run := func(at tiers.At, steps ...Step) *Results {
		t.Helper()
		q := &queueServer{slots: make(chan struct{}, 2), service: 100 * time.Millisecond}
		o := baseOptions()
		o.Rules, o.Steps, o.Requests, o.TierAt = rules, steps, 16, at
		res, err := Run(context.Background(), []Target{{Model: "queue", Provider: "queue", Upstream: "queue", Client: q}}, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(tiers.At{}, Step{Concurrency: 1}, Step{Concurrency: 8})
	if len(res.Tiers) != 1 || res.Tiers[0].Tier != catalog.Fast || res.Tiers[0].At != nil {
		t.Fatalf("at c=1: tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
	c1, c8 := res.Runs[0].TTFT.P50, res.Runs[1].TTFT.P50
	t.Logf("TTFT p50 at c=1 %.1f ms, at c=8 %.1f ms", c1, c8)
	if c8 < 2*c1 {
		t.Fatalf("the emulator's latency does not grow with concurrency: %.1f ms at c=1, %.1f ms at c=8", c1, c8)
	}

	res = run(tiers.At{Concurrency: 8}, Step{Concurrency: 1}, Step{Concurrency: 8})
	if len(res.Tiers) != 1 {
		t.Fatalf("at c=8: tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
	e := res.Tiers[0]
	if e.Tier != catalog.Moderate || e.At == nil || e.At.Concurrency != 8 || !strings.HasPrefix(e.Reason, "measured at c=8: ") ||
		e.TTFTP50Ms != res.Runs[1].TTFT.P50 || e.Requests != 16 {
		t.Errorf("a tier required at c=8: %+v", e)
	}
	if res.Settings.TierAt != "c=8" {
		t.Errorf("settings echo tier_at %q", res.Settings.TierAt)
	}

	// The step is not run: no tier, and the reason names the step.
	res = run(tiers.At{Concurrency: 8}, Step{Concurrency: 1}, Step{Concurrency: 4})
	if len(res.Tiers) != 0 || len(res.Untiered) != 1 {
		t.Fatalf("without a c=8 step: tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
	if why := res.Untiered[0].Reason; !strings.Contains(why, "no c=8 step") || !strings.Contains(why, "steps: c=1, c=4") || !strings.Contains(why, "-concurrency") {
		t.Errorf("reason %q", why)
	}
}

func TestTierAtRate(t *testing.T) {
	o := baseOptions()
	o.TierAt = tiers.At{Rate: 2}
	o.Rules = []config.TierRule{{Tier: catalog.Fast, MaxTTFT: time.Second}}
	o.Steps = []Step{{Rate: 50, Arrival: Constant}, {Rate: 2, Arrival: Poisson}}
	res, err := Run(context.Background(), []Target{fakeTarget(&fake{script: words(3, time.Millisecond, true)})}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tiers) != 1 || res.Tiers[0].At == nil || res.Tiers[0].At.Rate != 2 || !strings.HasPrefix(res.Tiers[0].Reason, "measured at rate=2/s poisson: ") {
		t.Errorf("tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
	o.TierAt = tiers.At{Concurrency: 2, Rate: 1}
	if _, err := Run(context.Background(), []Target{{Model: "m"}}, o); err == nil {
		t.Error("a tier at both a concurrency and a rate was accepted")
	}
}

// TestRuleAt: each rule is judged on the step at its own load. Against
// the same queue, fast required at c=8 within 200 ms is missed there
// (the c=8 TTFT is several queued services), so moderate, judged at the
// default c=1, is the tier; with a looser fast bound at c=8 the tier is
// fast, recorded at c=8; without a c=8 step fast cannot be met and the
// next rule decides.
func TestRuleAt(t *testing.T) {
	c8 := tiers.At{Concurrency: 8}
	run := func(fastTTFT time.Duration, steps ...Step) *Results {
		t.Helper()
		q := &queueServer{slots: make(chan struct{}, 2), service: 100 * time.Millisecond}
		o := baseOptions()
		o.Rules = []config.TierRule{
			{Tier: catalog.Fast, MaxTTFT: fastTTFT, At: &c8},
			{Tier: catalog.Moderate, MaxTTFT: 2 * time.Second},
		}
		o.Steps, o.Requests = steps, 16
		res, err := Run(context.Background(), []Target{{Model: "queue", Provider: "queue", Upstream: "queue", Client: q}}, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tiers) != 1 {
			t.Fatalf("tiers %+v untiered %+v", res.Tiers, res.Untiered)
		}
		return res
	}
	res := run(200*time.Millisecond, Step{Concurrency: 1}, Step{Concurrency: 8})
	e := res.Tiers[0]
	if e.Tier != catalog.Moderate || e.At != nil || e.TTFTP50Ms != res.Runs[0].TTFT.P50 ||
		!strings.Contains(e.Reason, "at c=1 meet the moderate rule") || !strings.Contains(e.Reason, "fast needs TTFT <= 200ms at c=8 (measured ") {
		t.Errorf("fast missed at c=8: %+v", e)
	}
	res = run(5*time.Second, Step{Concurrency: 1}, Step{Concurrency: 8})
	if e := res.Tiers[0]; e.Tier != catalog.Fast || e.At == nil || *e.At != c8 || e.TTFTP50Ms != res.Runs[1].TTFT.P50 ||
		!strings.Contains(e.Reason, "at c=8 meet the fast rule") {
		t.Errorf("fast met at c=8: %+v", e)
	}
	res = run(5*time.Second, Step{Concurrency: 1}, Step{Concurrency: 4})
	if e := res.Tiers[0]; e.Tier != catalog.Moderate || !strings.Contains(e.Reason, "at c=8, and no c=8 step") || !strings.Contains(e.Reason, "steps: c=1, c=4") {
		t.Errorf("no c=8 step: %+v", e)
	}
}
