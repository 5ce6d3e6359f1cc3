package router

import (
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

// TestStatus: the status source shows each backend's tier and its
// source, when it was measured, its live figures, its breaker (half-open
// once open_for has passed, as decisions see it), what is in flight and
// the last error, in catalog order.
func TestStatus(t *testing.T) {
	clk := newClock()
	cfg := loadDefault(t)
	r := newRouter(t, cfg, clk)
	r.SetMeasured(&tiers.File{Tiers: []tiers.Entry{{Model: "llama3-8b", Provider: "ollama", Tier: catalog.UltraFast,
		TTFTP50Ms: 120, OutputTokensPerSecP50: 95, MeasuredAt: clk.t}}})
	gpt := Candidate{Model: mustModel(t, r, "gpt-4o")}
	a, _ := r.Begin(gpt)
	a.Done(nil, &providers.Error{Status: 401, Message: "bad key"}, false)
	r.Begin(Candidate{Model: mustModel(t, r, "llama3-8b")}) // left in flight
	byID := func() map[string]BackendStatus {
		st := r.Status()
		if len(st) != len(r.order) {
			t.Fatalf("%d backends in the status, want %d", len(st), len(r.order))
		}
		out := map[string]BackendStatus{}
		for i, s := range st {
			if s.Model != r.order[i].model.ID {
				t.Fatalf("status %d is %s, want %s: not in catalog order", i, s.Model, r.order[i].model.ID)
			}
			out[s.Model] = s
		}
		return out
	}
	st := byID()
	if s := st["llama3-8b"]; s.Tier != catalog.UltraFast || s.TierSource != SourceBench || !s.MeasuredAt.Equal(clk.t) ||
		s.TTFT != 120*time.Millisecond || s.TokensPerS != 95 || s.InFlight != 1 || s.Breaker != Closed {
		t.Errorf("llama3-8b: %+v", s)
	}
	if s := st["gpt-4o"]; s.Breaker != Open || s.LastError != "bad key" || s.InFlight != 0 || s.TierSource != SourcePrior || !s.MeasuredAt.IsZero() {
		t.Errorf("gpt-4o: %+v", s)
	}
	clk.add(cfg.Router.Breaker.OpenFor)
	if s := byID()["gpt-4o"]; s.Breaker != HalfOpen {
		t.Errorf("gpt-4o past open_for: breaker %s, want half-open", s.Breaker)
	}
}
