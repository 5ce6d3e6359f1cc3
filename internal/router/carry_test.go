package router

import (
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// TestCarryFrom: a router built to replace another (a new generation)
// keeps what the old one learned: a model breaker open before the swap
// is still open after it (and admits nothing until open_for), a
// provider's open breaker and a 429's cool-down hold, and a measured
// TTFT survives. A model the old router never saw keeps its prior.
func TestCarryFrom(t *testing.T) {
	clk := newClock()
	cfg := loadDefault(t)
	old := newRouter(t, cfg, clk)
	// gpt-4o: ten 429s without Retry-After open its own breaker only.
	for range cfg.Router.Breaker.MinRequests {
		try(t, old, clk, "gpt-4o", fail(429, 0))
	}
	// groq: three provider-level failures open the provider's breaker.
	for _, m := range groqModels {
		try(t, old, clk, m, fail(500, 0))
	}
	// gpt-4o-mini: a 429 with Retry-After cools it down.
	try(t, old, clk, "gpt-4o-mini", fail(429, time.Minute))
	// claude-3-haiku: a measured TTFT of 250ms.
	a, ok := old.Begin(Candidate{Model: mustModel(t, old, "claude-3-haiku")})
	if !ok {
		t.Fatal("claude-3-haiku not admitted")
	}
	start := clk.t
	clk.add(250 * time.Millisecond)
	ft := clk.t
	clk.add(time.Second)
	a.Done(&providers.Result{Timing: providers.Timing{Start: start, FirstByte: ft, FirstToken: ft, End: clk.t, Chunks: 20}}, nil, false)

	status := func(r *Router, model string) BackendStatus {
		for _, s := range r.Status() {
			if s.Model == model {
				return s
			}
		}
		t.Fatalf("%s not in status", model)
		return BackendStatus{}
	}
	provider := func(r *Router, name string) string {
		for _, p := range r.Providers() {
			if p.Provider == name {
				return p.Breaker
			}
		}
		t.Fatalf("%s not in providers", name)
		return ""
	}
	if got := status(old, "gpt-4o").Breaker; got != Open {
		t.Fatalf("before the swap gpt-4o's breaker is %s", got)
	}
	fresh := newRouter(t, cfg, clk)
	next := newRouter(t, cfg, clk)
	next.CarryFrom(old)

	if got := status(next, "gpt-4o").Breaker; got != Open {
		t.Errorf("gpt-4o's breaker after the swap: %s, want open", got)
	}
	if _, ok := next.Begin(Candidate{Model: mustModel(t, next, "gpt-4o")}); ok {
		t.Error("gpt-4o's carried open breaker admitted a request")
	}
	if got := provider(next, "groq"); got != Open {
		t.Errorf("groq's provider breaker after the swap: %s, want open", got)
	}
	if rule, _ := why(t, next, "gpt-4o-mini"); rule != "availability" {
		t.Errorf("gpt-4o-mini's cool-down after the swap: excluded by %q, want availability", rule)
	}
	if got, want := status(next, "claude-3-haiku").TTFT, 250*time.Millisecond; got != want {
		t.Errorf("claude-3-haiku's TTFT after the swap: %v, want %v", got, want)
	}
	if got := status(fresh, "claude-3-haiku").TTFT; got == 250*time.Millisecond {
		t.Errorf("a router that carried nothing shows the measured TTFT: the test cannot fail")
	}
	if rule, _ := why(t, fresh, "gpt-4o-mini"); rule != "" {
		t.Errorf("gpt-4o-mini excluded by %q without a cool-down: the test cannot fail", rule)
	}
	if got := status(next, "gemini-2.5-flash"); got.Breaker != Closed || got.TierSource != SourcePrior {
		t.Errorf("an untouched backend after the swap: %+v", got)
	}
	// The carried open period ends when the old one would have: one trial.
	clk.add(cfg.Router.Breaker.OpenFor)
	if _, ok := next.Begin(Candidate{Model: mustModel(t, next, "gpt-4o")}); !ok {
		t.Error("gpt-4o admitted no trial after open_for")
	}
}
