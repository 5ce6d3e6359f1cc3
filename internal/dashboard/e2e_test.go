package dashboard

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/metrics"
	"github.com/tiergate/tiergate/internal/metrics/promtest"
	"github.com/tiergate/tiergate/internal/providers"
)

// TestDashboardQueriesAgainstPrometheus starts a real Prometheus on
// loopback that scrapes what startTraffic serves every second and loads
// the stack's rule files (deploy/prometheus/rules), then asserts that
// every panel query of the dashboard, with its variables expanded as
// Grafana would (backend = All), returns at least one series with a
// finite value through Prometheus's HTTP API.
func TestDashboardQueriesAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	target := startTraffic(t)

	root := promtest.RepoRoot(t)
	rules, err := filepath.Glob(filepath.Join(root, "deploy", "prometheus", "rules", "*.yml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rule files under deploy/prometheus/rules: %v", err)
	}
	srv := promtest.Start(t, promtest.Config{Job: "tiergate", Targets: []string{target}, Interval: time.Second, RuleFiles: rules})
	if err := srv.WaitTargetsUp(ctx, "tiergate", 1); err != nil {
		t.Fatalf("the scrape target never came up: %v", err)
	}

	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	type check struct{ name, expr string }
	var checks []check
	// The backend variable's own query, label_values(tiergate_backend_tier, model).
	checks = append(checks, check{"variable backend", "group by (model) (" + metrics.NameBackendTier + ")"})
	for _, q := range qs {
		expr, err := Expand(q.Expr, ".*", "30s", "5m")
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, check{q.Panel + "/" + q.RefID, expr})
	}

	// Rates need two scrapes and recording rules an evaluation after them:
	// poll until every query has data, within the test's deadline.
	pending := map[int]string{}
	for i := range checks {
		pending[i] = "not run yet"
	}
	pollCtx, pollCancel := context.WithTimeout(ctx, 90*time.Second)
	defer pollCancel()
	for len(pending) > 0 {
		for i := range pending {
			res, err := srv.Query(pollCtx, checks[i].expr)
			switch {
			case err != nil:
				pending[i] = err.Error()
			case !hasFinite(res):
				pending[i] = fmt.Sprintf("%d series, none with a finite value", len(res))
			default:
				delete(pending, i)
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-pollCtx.Done():
			var lines []string
			for i, why := range pending {
				lines = append(lines, fmt.Sprintf("  %s: %s\n    %s", checks[i].name, why, checks[i].expr))
			}
			sort.Strings(lines)
			t.Fatalf("%d of %d dashboard queries returned no data:\n%s", len(pending), len(checks), strings.Join(lines, "\n"))
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("all %d dashboard queries returned data", len(checks))
}

func hasFinite(res []promtest.Series) bool {
	for _, s := range res {
		if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
			return true
		}
	}
	return false
}

// startTraffic starts what Prometheus scrapes in the end-to-end test and
// returns its host:port (on 127.0.0.1) serving /metrics while traffic
// flows; it stops when the test ends.
//
// Today it is emulatedTraffic: the metrics API fed directly. To prove the
// dashboard against a real gateway, make it start the gateway (with
// provider emulators behind it) on loopback, send it a mix of streamed
// and unary chat completions, embeddings, failing requests (so errors,
// fallbacks and an open breaker show up) and load a tiers file, and
// return the gateway's address.
func startTraffic(t *testing.T) string {
	return emulatedTraffic(t)
}

// emulatedTraffic serves a registry filled through the metrics API by a
// goroutine that emulates a gateway's traffic: three backends streaming
// chat, embeddings, a flaky backend that errors and falls back, a breaker
// that opens and closes, route decisions and live tier updates.
func emulatedTraffic(t *testing.T) string {
	t.Helper()
	cat, err := catalog.New([]*catalog.Model{
		{ID: "gpt-4o", Provider: "openai", Upstream: "gpt-4o", Tasks: []catalog.Task{catalog.Chat}, Price: catalog.Price{Input: 2.5, Output: 10}, TierPrior: catalog.Fast},
		{ID: "claude-sonnet-4-5", Provider: "anthropic", Upstream: "claude-sonnet-4-5", Tasks: []catalog.Task{catalog.Chat}, Price: catalog.Price{Input: 3, Output: 15}, TierPrior: catalog.Moderate},
		{ID: "llama3-8b", Provider: "ollama", Upstream: "llama3:8b", Tasks: []catalog.Task{catalog.Chat}, TierPrior: catalog.Fast},
		{ID: "text-embedding-3-small", Provider: "openai", Upstream: "text-embedding-3-small", Tasks: []catalog.Task{catalog.Embeddings}, Price: catalog.Price{Input: 0.02}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := metrics.NewWithOptions(reg, cat, metrics.Options{Profiles: []string{"auto", "fast-chat"}})
	now := time.Now()
	m.SetTier("gpt-4o", "openai", catalog.Fast, "bench", 450*time.Millisecond, 80, now.Add(-time.Hour))
	m.SetTier("claude-sonnet-4-5", "anthropic", catalog.Moderate, "prior", 0, 0, time.Time{})
	m.SetTier("llama3-8b", "ollama", catalog.Fast, "live", 200*time.Millisecond, 60, now)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			emulateTick(m, i)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

// emulateTick records the i-th slice of emulated traffic.
func emulateTick(m *metrics.Metrics, i int) {
	jitter := time.Duration(i%7) * 10 * time.Millisecond
	stream := func(model, provider string, ttft time.Duration, out int, perToken time.Duration) {
		m.InFlight(model, 1)
		m.ObserveRequest(metrics.Request{Operation: "chat", Provider: provider, Model: model,
			Duration: ttft + time.Duration(out-1)*perToken, TTFT: ttft, Chunks: out,
			Usage:    &providers.Usage{PromptTokens: 200 + i%50, CompletionTokens: out, TotalTokens: 200 + i%50 + out},
			Overhead: 150*time.Microsecond + jitter/100})
		m.InFlight(model, -1)
	}
	m.RouteDecision("auto", "policy")
	stream("gpt-4o", "openai", 400*time.Millisecond+jitter, 120, 12*time.Millisecond)
	m.RouteDecision("", "pinned: llama3-8b")
	stream("llama3-8b", "ollama", 180*time.Millisecond+jitter, 64, 16*time.Millisecond)
	m.RouteDecision("fast-chat", "policy")
	stream("claude-sonnet-4-5", "anthropic", 900*time.Millisecond+jitter, 200, 25*time.Millisecond)
	// Unary chat and embeddings.
	m.ObserveRequest(metrics.Request{Operation: "chat", Provider: "openai", Model: "gpt-4o", Duration: 2 * time.Second,
		Usage: &providers.Usage{PromptTokens: 50, CompletionTokens: 30}, Overhead: 90 * time.Microsecond})
	m.ObserveRequest(metrics.Request{Operation: "embeddings", Provider: "openai", Model: "text-embedding-3-small",
		Duration: 60 * time.Millisecond, Usage: &providers.Usage{PromptTokens: 40}, Overhead: 40 * time.Microsecond})
	// Every fifth tick claude fails and the request falls back to gpt-4o.
	if i%5 == 0 {
		m.ObserveRequest(metrics.Request{Operation: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5",
			Duration: 300 * time.Millisecond, ErrorType: "upstream_error", Overhead: 200 * time.Microsecond})
		m.Fallback("claude-sonnet-4-5", "gpt-4o", "upstream_error")
	}
	// claude's breaker cycles closed -> open -> half-open.
	m.SetBreaker("claude-sonnet-4-5", []string{"closed", "open", "half-open"}[(i/50)%3])
	m.SetBreaker("gpt-4o", "closed")
	m.SetBreaker("llama3-8b", "closed")
	// llama3-8b's live tier is re-measured now and then.
	if i%25 == 0 {
		m.SetTier("llama3-8b", "ollama", catalog.Fast, "live", 180*time.Millisecond+jitter, 62, time.Now())
	}
}

// TestEmulatedTrafficServesMetrics keeps the emulator honest without
// Prometheus: the handler serves every family the dashboard reads.
func TestEmulatedTrafficServesMetrics(t *testing.T) {
	addr := startTraffic(t)
	deadline := time.Now().Add(30 * time.Second)
	want := []string{metrics.NameOperationDuration, metrics.NameTokenUsage, metrics.NameTimeToFirstChunk, metrics.NameTimePerChunk,
		metrics.NameRequests, metrics.NameRequestErrors, metrics.NameCost, metrics.NameOverhead, metrics.NameOutputTPS,
		metrics.NameInFlight, metrics.NameRouteDecisions, metrics.NameFallbacks, metrics.NameBreakerState,
		metrics.NameBackendTier, metrics.NameBackendTierRank, metrics.NameBackendTTFT, metrics.NameBackendTPS, metrics.NameBackendMeasured}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for {
		body, err := get(client, "http://"+addr+"/metrics")
		var missing []string
		if err == nil {
			for _, name := range want {
				if !strings.Contains(body, "\n"+name) {
					missing = append(missing, name)
				}
			}
			if len(missing) == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics missing after 30s: %v (err %v)", missing, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
