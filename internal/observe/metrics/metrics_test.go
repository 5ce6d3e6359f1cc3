package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCatalog has two priced SaaS models, a free local one and an
// embeddings model.
func testCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.New([]*catalog.Model{
		{ID: "gpt-4o", Provider: "openai", Upstream: "gpt-4o", Price: catalog.Price{Input: 2.50, Output: 10.00}, TierPrior: catalog.Fast},
		{ID: "claude-sonnet-4-5", Provider: "anthropic", Upstream: "claude-sonnet-4-5", Price: catalog.Price{Input: 3, Output: 15}, TierPrior: catalog.Moderate},
		{ID: "llama3-8b", Provider: "ollama", Upstream: "llama3:8b", TierPrior: catalog.Fast},
		{ID: "text-embedding-3-small", Provider: "openai", Upstream: "text-embedding-3-small", Price: catalog.Price{Input: 0.02}},
		{ID: "whisper-1", Provider: "openai", Upstream: "whisper-1", Price: catalog.Price{PerMinute: 0.006}},
		{ID: "tts-1", Provider: "openai", Upstream: "tts-1", Price: catalog.Price{PerMillionChars: 15}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// family returns the gathered family called name, or nil.
func family(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// series returns the metric of family name whose labels are exactly want.
func series(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := family(t, g, name)
	if f == nil {
		t.Fatalf("no %s gathered", name)
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(want) {
			ok := true
			for k, v := range want {
				if got[k] != v {
					ok = false
				}
			}
			if ok {
				return m
			}
		}
	}
	t.Fatalf("no %s series with labels %v; have %v", name, want, f.GetMetric())
	return nil
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestObserveStreamingChat(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg, testCatalog(t))
	m.ObserveRequest(Request{Operation: "chat", Provider: "openai", Model: "gpt-4o",
		Duration: 2 * time.Second, TTFT: 500 * time.Millisecond, Chunks: 31,
		Usage:    &providers.Usage{PromptTokens: 1000, CompletionTokens: 301, TotalTokens: 1301},
		Overhead: 300 * time.Microsecond})

	genai := map[string]string{LabelOperation: "chat", LabelProvider: "openai", LabelModel: "gpt-4o"}
	withErr := map[string]string{LabelOperation: "chat", LabelProvider: "openai", LabelModel: "gpt-4o", LabelErrorType: ""}
	d := series(t, reg, NameOperationDuration, withErr).GetHistogram()
	if d.GetSampleCount() != 1 || d.GetSampleSum() != 2 {
		t.Errorf("duration count %d sum %v, want 1 and 2", d.GetSampleCount(), d.GetSampleSum())
	}
	// 2 s falls in the (1.28, 2.56] bucket: cumulative counts are 0 below 2.56.
	for _, b := range d.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 2.56 {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("duration bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if got := len(d.GetBucket()); got != len(durationBuckets) {
		t.Errorf("%d duration buckets, want %d", got, len(durationBuckets))
	}
	if h := series(t, reg, NameTimeToFirstChunk, genai).GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 0.5 {
		t.Errorf("ttfc count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	// (2 s - 0.5 s) / (31 - 1) chunks = 50 ms per chunk.
	if h := series(t, reg, NameTimePerChunk, genai).GetHistogram(); h.GetSampleCount() != 1 || !near(h.GetSampleSum(), 0.05) {
		t.Errorf("tpoc count %d sum %v, want 1 and 0.05", h.GetSampleCount(), h.GetSampleSum())
	}
	// (301 - 1) tokens / 1.5 s = 200 tok/s.
	if h := series(t, reg, NameOutputTPS, map[string]string{"model": "gpt-4o", "provider": "openai"}).GetHistogram(); !near(h.GetSampleSum(), 200) {
		t.Errorf("tokens/s sum %v, want 200", h.GetSampleSum())
	}
	for typ, n := range map[string]float64{"input": 1000, "output": 301} {
		lbl := map[string]string{LabelOperation: "chat", LabelProvider: "openai", LabelModel: "gpt-4o", LabelTokenType: typ}
		if h := series(t, reg, NameTokenUsage, lbl).GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != n {
			t.Errorf("%s tokens: count %d sum %v, want 1 and %v", typ, h.GetSampleCount(), h.GetSampleSum(), n)
		}
	}
	// 1000 * 2.50 / 1e6 + 301 * 10 / 1e6 = 0.0025 + 0.00301
	if c := series(t, reg, NameCost, map[string]string{"model": "gpt-4o", "provider": "openai"}).GetCounter().GetValue(); !near(c, 0.00551) {
		t.Errorf("cost %v, want 0.00551", c)
	}
	if h := series(t, reg, NameOverhead, map[string]string{"operation": "chat", "provider": "openai"}).GetHistogram(); h.GetSampleSum() != 0.0003 {
		t.Errorf("overhead sum %v", h.GetSampleSum())
	}
	if c := series(t, reg, NameRequests, map[string]string{"operation": "chat", "model": "gpt-4o", "provider": "openai"}).GetCounter().GetValue(); c != 1 {
		t.Errorf("requests %v", c)
	}
	if f := family(t, reg, NameRequestErrors); f != nil {
		t.Errorf("a success counted as an error: %v", f)
	}
}

func TestObserveUnaryAndErrors(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg, testCatalog(t))
	// Unary: no TTFT, so no time-to-first-chunk, time-per-chunk or tokens/s.
	m.ObserveRequest(Request{Operation: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5", Duration: time.Second,
		Usage: &providers.Usage{PromptTokens: 10, CompletionTokens: 20}})
	// A failed stream that got its first chunk: TTFT counts, the rest not.
	m.ObserveRequest(Request{Operation: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5", Duration: 3 * time.Second,
		TTFT: time.Second, Chunks: 5, ErrorType: "upstream_error"})
	m.ObserveRequest(Request{Operation: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5", Duration: time.Second, ErrorType: "rate_limit"})
	m.ObserveRequest(Request{Operation: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5", Duration: time.Second, ErrorType: "something new"})

	for _, name := range []string{NameTimePerChunk, NameOutputTPS} {
		if f := family(t, reg, name); f != nil {
			t.Errorf("%s recorded for unary or failed requests: %v", name, f)
		}
	}
	genai := map[string]string{LabelOperation: "chat", LabelProvider: "anthropic", LabelModel: "claude-sonnet-4-5"}
	if h := series(t, reg, NameTimeToFirstChunk, genai).GetHistogram(); h.GetSampleCount() != 1 {
		t.Errorf("ttfc count %d, want 1 (the broken stream)", h.GetSampleCount())
	}
	if c := series(t, reg, NameRequests, map[string]string{"operation": "chat", "model": "claude-sonnet-4-5", "provider": "anthropic"}).GetCounter().GetValue(); c != 4 {
		t.Errorf("requests %v, want 4", c)
	}
	for et, want := range map[string]float64{"upstream_error": 1, "rate_limit": 1, OtherError: 1} {
		lbl := map[string]string{"operation": "chat", "model": "claude-sonnet-4-5", "provider": "anthropic", LabelErrorType: et}
		if c := series(t, reg, NameRequestErrors, lbl).GetCounter().GetValue(); c != want {
			t.Errorf("errors %s = %v, want %v", et, c, want)
		}
		genai[LabelErrorType] = et
		if h := series(t, reg, NameOperationDuration, genai).GetHistogram(); h.GetSampleCount() != 1 {
			t.Errorf("duration{error_type=%s} count %d", et, h.GetSampleCount())
		}
	}
}

func TestCost(t *testing.T) {
	cases := []struct {
		name    string
		model   string
		usage   providers.Usage
		op      string
		want    float64
		present bool
	}{
		{"priced chat", "gpt-4o", providers.Usage{PromptTokens: 1_000_000, CompletionTokens: 1_000_000}, "chat", 12.50, true},
		{"input only", "claude-sonnet-4-5", providers.Usage{PromptTokens: 2000}, "chat", 0.006, true},
		{"output only", "claude-sonnet-4-5", providers.Usage{CompletionTokens: 100}, "chat", 0.0015, true},
		{"embeddings", "text-embedding-3-small", providers.Usage{PromptTokens: 500_000}, "embeddings", 0.01, true},
		{"a transcription's minutes", "whisper-1", providers.Usage{AudioSeconds: 90}, "transcriptions", 0.009, true},
		{"speech's characters", "tts-1", providers.Usage{Characters: 2000}, "speech", 0.03, true},
		{"free local model", "llama3-8b", providers.Usage{PromptTokens: 1000, CompletionTokens: 1000}, "chat", 0, false},
		{"not in the catalog", "some/model", providers.Usage{PromptTokens: 1000, CompletionTokens: 1000}, "chat", 0, false},
	}
	cat := testCatalog(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			m := New(reg, cat)
			u := c.usage
			m.ObserveRequest(Request{Operation: c.op, Model: c.model, Duration: time.Second, Usage: &u})
			m.ObserveRequest(Request{Operation: c.op, Model: c.model, Duration: time.Second}) // no usage: no cost
			f := family(t, reg, NameCost)
			if !c.present {
				if f != nil {
					t.Fatalf("cost recorded: %v", f)
				}
				return
			}
			mod, _ := cat.Get(c.model)
			got := series(t, reg, NameCost, map[string]string{"model": c.model, "provider": mod.Provider}).GetCounter().GetValue()
			if !near(got, c.want) {
				t.Errorf("cost %v, want %v", got, c.want)
			}
			if direct := UsageCost(mod.Price, u); !near(direct, c.want) {
				t.Errorf("UsageCost() = %v, want %v", direct, c.want)
			}
		})
	}
}

// source is a StatusSource whose state a test sets between scrapes.
type source struct {
	mu sync.Mutex
	bs []Backend
}

func (s *source) set(bs ...Backend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bs = bs
}

func (s *source) status() []Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Backend(nil), s.bs...)
}

func TestTiersReplaceAndRank(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	src := &source{}
	NewWithOptions(reg, testCatalog(t), Options{Status: src.status})
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	src.set(Backend{Model: "llama3-8b", Provider: "ollama", Tier: catalog.Fast, TierSource: "prior"})
	series(t, reg, NameBackendTier, map[string]string{"model": "llama3-8b", "provider": "ollama", "tier": "fast", "source": "prior"})
	src.set(Backend{Model: "llama3-8b", Provider: "ollama", Tier: catalog.Slow, TierSource: "live", TTFT: 4 * time.Second, TokensPerSecond: 8.5, MeasuredAt: at},
		Backend{Model: "not-a-model", Provider: "ollama", Tier: catalog.Fast, TierSource: "bench", TTFT: time.Second, TokensPerSecond: 1, MeasuredAt: at}, // ignored
		Backend{Model: "gpt-4o", Provider: "openai", Tier: "warp-speed", TierSource: "bench", TTFT: time.Second, TokensPerSecond: 1, MeasuredAt: at})      // ignored

	want := `
# HELP tiergate_backend_tier Each backend's current speed tier (info-style, always 1) and where it came from: prior (catalog), bench (tiers file) or live.
# TYPE tiergate_backend_tier gauge
tiergate_backend_tier{model="llama3-8b",provider="ollama",source="live",tier="slow"} 1
# HELP tiergate_backend_tier_rank Each backend's current speed tier as a number: 0 ultra-fast, 1 fast, 2 moderate, 3 slow (higher is slower).
# TYPE tiergate_backend_tier_rank gauge
tiergate_backend_tier_rank{model="llama3-8b",provider="ollama"} 3
# HELP tiergate_backend_ttft_seconds The time to first token that decided the backend's tier (median).
# TYPE tiergate_backend_ttft_seconds gauge
tiergate_backend_ttft_seconds{model="llama3-8b",provider="ollama"} 4
# HELP tiergate_backend_output_tokens_per_second The output tokens per second that decided the backend's tier (median).
# TYPE tiergate_backend_output_tokens_per_second gauge
tiergate_backend_output_tokens_per_second{model="llama3-8b",provider="ollama"} 8.5
# HELP tiergate_backend_measured_timestamp_seconds When the backend's tier figures were measured (Unix seconds).
# TYPE tiergate_backend_measured_timestamp_seconds gauge
tiergate_backend_measured_timestamp_seconds{model="llama3-8b",provider="ollama"} 1.7487792e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameBackendTier, NameBackendTierRank, NameBackendTTFT, NameBackendTPS, NameBackendMeasured); err != nil {
		t.Error(err)
	}
}

// TestSetTiersFile: the file's own gauges. The tiers it holds reach the
// backend gauges through the router's status (see internal/app's tests).
func TestSetTiersFile(t *testing.T) {
	f, err := tiers.Load("../../tiers/testdata/tiers.json")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the test independent of what the shared testdata holds: add a
	// known entry and one outside the catalog.
	at := time.Date(2025, 6, 1, 11, 58, 40, 0, time.UTC)
	f.Tiers = append(f.Tiers,
		tiers.Entry{Model: "gpt-4o", Provider: "openai", Tier: catalog.Moderate, TTFTP50Ms: 850, OutputTokensPerSecP50: 32.5, Requests: 10, MeasuredAt: at},
		tiers.Entry{Model: "http://10.0.0.1:8000 my-model", Provider: "target", Tier: catalog.Fast, TTFTP50Ms: 100, OutputTokensPerSecP50: 60, MeasuredAt: at})
	f.GeneratedAt = at.Add(time.Minute)
	reg := prometheus.NewPedanticRegistry()
	cat := testCatalog(t)
	m := New(reg, cat)
	m.SetTiersFile(f)

	inCat := 0
	for _, e := range f.Tiers {
		if _, ok := cat.Get(e.Model); ok {
			inCat++
		}
	}
	if got := series(t, reg, NameTiersFileEntries, map[string]string{}).GetGauge().GetValue(); got != float64(inCat) {
		t.Errorf("entries %v, want %d", got, inCat)
	}
	if got := series(t, reg, NameTiersFileTime, map[string]string{}).GetGauge().GetValue(); got != float64(f.GeneratedAt.Unix()) {
		t.Errorf("generated at %v", got)
	}
	noLabelHolds(t, reg, "10.0.0.1")
}

// noLabelHolds fails the test for every series in reg with a label value
// that contains sub (a non-catalog entry's name).
func noLabelHolds(t *testing.T, reg *prometheus.Registry, sub string) {
	t.Helper()
	for _, mf := range mustGather(t, reg) {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), sub) {
					t.Errorf("%s carries a non-catalog entry: %v", mf.GetName(), s)
				}
			}
		}
	}
}

// TestBackendFiguresFromStatus: a bench-measured backend's figures as the
// source reports them (TTFT in seconds, tokens/s, measured time).
func TestBackendFiguresFromStatus(t *testing.T) {
	at := time.Date(2025, 6, 1, 11, 58, 40, 0, time.UTC)
	reg := prometheus.NewPedanticRegistry()
	src := &source{}
	NewWithOptions(reg, testCatalog(t), Options{Status: src.status})
	src.set(Backend{Model: "gpt-4o", Provider: "openai", Tier: catalog.Moderate, TierSource: "bench", TTFT: 850 * time.Millisecond, TokensPerSecond: 32.5, MeasuredAt: at},
		Backend{Model: "http://10.0.0.1:8000 my-model", Provider: "target", Tier: catalog.Fast, TierSource: "bench", TTFT: 100 * time.Millisecond, TokensPerSecond: 60, MeasuredAt: at})
	be := map[string]string{"model": "gpt-4o", "provider": "openai"}
	series(t, reg, NameBackendTier, map[string]string{"model": "gpt-4o", "provider": "openai", "tier": "moderate", "source": "bench"})
	if got := series(t, reg, NameBackendTTFT, be).GetGauge().GetValue(); !near(got, 0.85) {
		t.Errorf("ttft %v, want 0.85", got)
	}
	if got := series(t, reg, NameBackendTPS, be).GetGauge().GetValue(); got != 32.5 {
		t.Errorf("tokens/s %v", got)
	}
	if got := series(t, reg, NameBackendMeasured, be).GetGauge().GetValue(); got != float64(at.Unix()) {
		t.Errorf("measured at %v", got)
	}
	noLabelHolds(t, reg, "10.0.0.1")
}

func TestBreakerInFlightRoutesFallbacks(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	src := &source{}
	m := NewWithOptions(reg, testCatalog(t), Options{Profiles: []string{"fast-chat", "private"}, Status: src.status})
	for _, c := range []struct {
		state string
		want  float64
	}{{"closed", 0}, {"open", 1}, {"half-open", 2}} {
		state, want := c.state, c.want
		src.set(Backend{Model: "gpt-4o", Provider: "openai", Breaker: state})
		if got := series(t, reg, NameBreakerState, map[string]string{"model": "gpt-4o", "provider": "openai"}).GetGauge().GetValue(); got != want {
			t.Errorf("breaker %s = %v, want %v", state, got, want)
		}
	}
	src.set(Backend{Model: "gpt-4o", Provider: "openai", Breaker: "melted"}, // no series: not a state
		Backend{Model: "unknown-model", Provider: "openai", Breaker: "open"}) // ignored
	if n := len(family(t, reg, NameBreakerState).GetMetric()); n != 0 {
		t.Errorf("%d breaker series for an unknown state and an unknown model, want 0", n)
	}

	src.set(Backend{Model: "gpt-4o", Provider: "openai", Breaker: "closed", InFlight: 1},
		Backend{Model: "gpt-4o", Provider: "openai", Breaker: "open", InFlight: 7}, // a second report of one backend is dropped
		Backend{Model: "nope", Provider: "openai", InFlight: 1})
	if got := series(t, reg, NameInFlight, map[string]string{"model": "gpt-4o", "provider": "openai"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("in flight %v", got)
	}
	if n := len(family(t, reg, NameInFlight).GetMetric()); n != 1 {
		t.Errorf("%d in-flight series, want 1", n)
	}
	if n := len(family(t, reg, NameBreakerState).GetMetric()); n != 1 {
		t.Errorf("%d breaker series, want 1", n)
	}

	m.RouteDecision("fast-chat", "policy")
	m.RouteDecision("", "pinned: gpt-4o")
	m.RouteDecision("made-up", "because I said so")
	want := `
# HELP tiergate_route_decisions_total Routing decisions, by profile and reason.
# TYPE tiergate_route_decisions_total counter
tiergate_route_decisions_total{profile="fast-chat",reason="policy"} 1
tiergate_route_decisions_total{profile="none",reason="pinned"} 1
tiergate_route_decisions_total{profile="other",reason="other"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameRouteDecisions); err != nil {
		t.Error(err)
	}

	m.Fallback("gpt-4o", "claude-sonnet-4-5", "rate_limit")
	m.Fallback("gpt-4o", "secret/model", "weird")
	want = `
# HELP tiergate_fallbacks_total Fallbacks from one backend to the next, by cause.
# TYPE tiergate_fallbacks_total counter
tiergate_fallbacks_total{cause="_OTHER",from_model="gpt-4o",to_model="other"} 1
tiergate_fallbacks_total{cause="rate_limit",from_model="gpt-4o",to_model="claude-sonnet-4-5"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameFallbacks); err != nil {
		t.Error(err)
	}
}

// TestCardinalityBound throws hostile label values at every method from
// many goroutines and checks that each family stays within its closed sets
// and that nothing a client sent reaches a label.
func TestCardinalityBound(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cat := testCatalog(t)
	src := &source{}
	m := NewWithOptions(reg, cat, Options{Profiles: []string{"fast-chat", "private"}, Status: src.status})
	secret := "sk-live-SECRETKEY"
	junk := func(r *rand.Rand) string {
		switch r.IntN(4) {
		case 0:
			return secret
		case 1:
			return "prompt: tell me about " + fmt.Sprint(r.Int())
		case 2:
			return fmt.Sprintf("user-%d", r.IntN(1000))
		}
		return cat.IDs()[r.IntN(len(cat.IDs()))]
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 500 {
				m.ObserveRequest(Request{Operation: junk(r), Provider: junk(r), Model: junk(r), Duration: time.Second,
					TTFT: time.Millisecond, Chunks: 3, ErrorType: []string{"", junk(r)}[r.IntN(2)],
					Usage: &providers.Usage{PromptTokens: 3, CompletionTokens: 3}})
				m.RouteDecision(junk(r), junk(r))
				m.Fallback(junk(r), junk(r), junk(r))
			}
		}()
	}
	wg.Wait()
	// The source reports hostile backends too, every catalog model among
	// them several times with changing tiers.
	r := rand.New(rand.NewPCG(9, 1))
	var bs []Backend
	for _, id := range cat.IDs() {
		bs = append(bs, Backend{Model: id, Tier: catalog.Slow, TierSource: "live"})
	}
	for range 500 {
		bs = append(bs,
			Backend{Model: junk(r), Provider: junk(r), Breaker: []string{"open", "closed", junk(r)}[r.IntN(3)], InFlight: 1,
				Tier: catalog.Tier(junk(r)), TierSource: junk(r), TTFT: time.Second, TokensPerSecond: 1, MeasuredAt: time.Now()},
			Backend{Model: junk(r), Provider: junk(r), Tier: catalog.Tiers()[r.IntN(4)], TierSource: []string{"bench", "live", junk(r)}[r.IntN(3)],
				TTFT: time.Second, TokensPerSecond: 1, MeasuredAt: time.Now()})
	}
	src.set(bs...)

	models := map[string]bool{Other: true}
	for _, id := range cat.IDs() {
		models[id] = true
	}
	provs := map[string]bool{Other: true, "openai": true, "anthropic": true, "ollama": true}
	errs := map[string]bool{"": true, OtherError: true}
	for _, e := range errorTypes {
		errs[e] = true
	}
	ops := map[string]bool{Other: true}
	for _, op := range operations {
		ops[op] = true
	}
	allowed := map[string]map[string]bool{
		"model": models, "from_model": models, "to_model": models, LabelModel: models,
		"provider": provs, LabelProvider: provs,
		"operation": ops, LabelOperation: ops,
		LabelErrorType: errs, "cause": errs,
		"reason":       {"pinned": true, "policy": true, "fallback-only": true, "no-candidate": true, Other: true},
		"source":       {"prior": true, "bench": true, "live": true, Other: true},
		"tier":         {"ultra-fast": true, "fast": true, "moderate": true, "slow": true},
		LabelTokenType: {"input": true, "output": true},
	}
	profiles := map[string]bool{}
	total := 0
	for _, mf := range mustGather(t, reg) {
		total += len(mf.GetMetric())
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				v := l.GetValue()
				if strings.Contains(v, "SECRET") || strings.Contains(v, "prompt") || strings.Contains(v, "user-") {
					t.Errorf("%s{%s=%q}: client input reached a label", mf.GetName(), l.GetName(), v)
				}
				if l.GetName() == "profile" {
					profiles[v] = true
					continue
				}
				set, ok := allowed[l.GetName()]
				if !ok {
					t.Errorf("%s has unexpected label %s", mf.GetName(), l.GetName())
				} else if !set[v] {
					t.Errorf("%s{%s=%q} is outside its closed set", mf.GetName(), l.GetName(), v)
				}
			}
		}
	}
	for p := range profiles {
		if p != "none" && p != Other && p != "fast-chat" && p != "private" {
			t.Errorf("profile label %q is not a configured profile", p)
		}
	}
	// One tier series per backend, however often the tier changed.
	if n := len(family(t, reg, NameBackendTier).GetMetric()); n != len(cat.IDs()) {
		t.Errorf("%d tier series for %d backends", n, len(cat.IDs()))
	}
	if total > 2000 {
		t.Errorf("%d series in all", total)
	}
}

func mustGather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func TestErrorType(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.Canceled, "canceled"},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "timeout"},
		{providers.StatusError("openai", 429, "slow down", nil), "rate_limit"},
		{providers.StatusError("openai", 401, "bad key", nil), "auth"},
		{providers.StatusError("openai", 403, "no", nil), "auth"},
		{providers.StatusError("openai", 404, "no such model", nil), "not_found"},
		{providers.StatusError("openai", 400, "bad", nil), "invalid_request"},
		{providers.StatusError("openai", 503, "busy", nil), "unavailable"},
		{providers.StatusError("openai", 500, "oops", nil), "upstream_error"},
		{providers.TransportError("openai", context.DeadlineExceeded), "timeout"},
		{providers.TransportError("openai", errors.New("connection refused")), "upstream_error"},
		{&providers.Error{Status: 404, Type: providers.TypeInvalidRequest, Code: "model_not_found"}, "not_found"},
		{errors.New("mystery"), OtherError},
	}
	for _, c := range cases {
		if got := ErrorType(c.err); got != c.want {
			t.Errorf("ErrorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestNilMetricsIgnoresCalls(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(Request{Model: "x"})
	m.RouteDecision("p", "pinned")
	m.Fallback("a", "b", "timeout")
	m.SetTiersFile(&tiers.File{})
}

func TestNewNilRegistryAndDoubleRegister(t *testing.T) {
	cat := testCatalog(t)
	New(nil, cat).ObserveRequest(Request{Operation: "chat", Model: "gpt-4o", Duration: time.Second})
	reg := prometheus.NewRegistry()
	New(reg, cat)
	defer func() {
		if recover() == nil {
			t.Error("registering twice on one registry did not panic")
		}
	}()
	New(reg, cat)
}

func TestBucketsFollowTheConventions(t *testing.T) {
	// The conventions' boundaries must be a prefix of ours (we only add
	// slower buckets above them).
	spec := []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	d := DurationBuckets()
	if len(d) <= len(spec) {
		t.Fatalf("duration buckets %v are not extended", d)
	}
	for i, b := range spec {
		if d[i] != b {
			t.Errorf("duration bucket %d = %v, want %v", i, d[i], b)
		}
	}
	if d[len(d)-1] < 600 {
		t.Errorf("largest duration bucket %v s is below 10 minutes", d[len(d)-1])
	}
	if tb := TokenBuckets(); tb[0] != 1 || tb[len(tb)-1] != 67108864 || len(tb) != 14 {
		t.Errorf("token buckets %v", tb)
	}
	if ob := OverheadBuckets(); ob[0] != 50e-6 {
		t.Errorf("overhead buckets start at %v", ob[0])
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, testCatalog(t))
	m.ObserveRequest(Request{Operation: "chat", Model: "gpt-4o", Duration: time.Second})
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o"} 1`) {
		t.Errorf("%d\n%s", rec.Code, body)
	}
}
