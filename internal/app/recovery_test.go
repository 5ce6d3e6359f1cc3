package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// TestRecoveryNoticedByProbe: an Ollama that fails opens its model's and
// its provider's breakers; once it answers again, the probe (retrying a
// failing provider every retry_interval) is the half-open trial, and
// traffic returns within a few retry intervals, not after open_for (an
// hour here). The provider breaker's transitions are logged.
func TestRecoveryNoticedByProbe(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}})
	defer emu.Close()
	const retry = 100 * time.Millisecond
	yaml := "router:\n  max_attempts: 1\n  breaker: {window: 30s, min_requests: 2, error_ratio: 0.5, open_for: 1h}\n" +
		"  provider_breaker: {consecutive: 3, open_for: 1h}\n" +
		"providers:\n  ollama: {type: ollama, base_url: \"" + emu.URL + "\", discover: true, probe: {interval: 1h, retry_interval: " + retry.String() + "}}\n"
	cfg, err := config.Load("test", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	reg := prometheus.NewPedanticRegistry()
	gw := apptest.Start(t, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registry: reg, Gatherer: reg})
	provGauge := func() float64 {
		t.Helper()
		v, ok := gauge(t, reg, metrics.NameProviderBreaker, map[string]string{"provider": "ollama"})
		if !ok {
			t.Fatal("no provider breaker series for ollama")
		}
		return v
	}
	if v := provGauge(); v != 0 {
		t.Fatalf("provider breaker gauge before failures = %v, want 0 (closed)", v)
	}
	send := func() int {
		resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"ollama/llama3:8b","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(); code != 200 {
		t.Fatalf("healthy Ollama: %d", code)
	}
	emu.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b"}, Fault: ollamaemu.Fault{Status: 500}})
	for range 3 {
		send()
	}
	breakers := func() (model, provider string) {
		for _, b := range gw.Router().Status() {
			if b.Model == "ollama/llama3:8b" {
				model = b.Breaker
			}
		}
		for _, p := range gw.Router().Providers() {
			if p.Provider == "ollama" {
				provider = p.Breaker
			}
		}
		return model, provider
	}
	if m, p := breakers(); m != "open" || p != "open" {
		t.Fatalf("after 3 failures: model breaker %s, provider breaker %s; want both open", m, p)
	}
	if v := provGauge(); v != 1 {
		t.Errorf("provider breaker gauge after failures = %v, want 1 (open)", v)
	}
	if code := send(); code != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: status %d, want 503", code)
	}
	// The failing provider keeps being probed (and failing) meanwhile.
	time.Sleep(3 * retry)
	if m, p := breakers(); m != "open" || p != "open" {
		t.Fatalf("probes of a failing Ollama closed a breaker: model %s, provider %s", m, p)
	}
	emu.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b"}})
	start := time.Now()
	bound := 20 * retry // far below open_for
	for send() != 200 {
		if time.Since(start) > bound {
			m, p := breakers()
			t.Fatalf("traffic not back %v after Ollama recovered (model breaker %s, provider breaker %s)", bound, m, p)
		}
		time.Sleep(retry / 10)
	}
	t.Logf("traffic back %v after Ollama recovered (retry_interval %v, open_for 1h)", time.Since(start), retry)
	if m, p := breakers(); m != "closed" || p != "closed" {
		t.Errorf("after recovery: model breaker %s, provider breaker %s; want closed", m, p)
	}
	if v := provGauge(); v != 0 {
		t.Errorf("provider breaker gauge after recovery = %v, want 0 (closed)", v)
	}
	for _, want := range []string{`msg="provider circuit breaker" provider=ollama state=open`, `msg="provider circuit breaker" provider=ollama state=closed`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// TestGenerationSwapKeepsState: when a pulled model makes a new
// generation, a breaker opened on the old one is still open on the new,
// and the provider's health with it.
func TestGenerationSwapKeepsState(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}, Fault: ollamaemu.Fault{Status: 500}})
	defer emu.Close()
	const every = 50 * time.Millisecond
	yaml := "server:\n  rediscover_interval: " + every.String() + "\n" +
		"router:\n  max_attempts: 1\n  breaker: {window: 30s, min_requests: 2, error_ratio: 0.5, open_for: 1h}\n" +
		"  provider_breaker: {consecutive: 3, open_for: 1h}\n" +
		"providers:\n  ollama: {type: ollama, base_url: \"" + emu.URL + "\", discover: true, probe: {enabled: false}}\n"
	cfg, err := config.Load("test", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := apptest.Start(t, cfg, app.Options{})
	for range 3 {
		resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"ollama/llama3:8b","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	old := gw.Router()
	emu.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b", "phi3:mini"}, Fault: ollamaemu.Fault{Status: 500}})
	start := time.Now()
	for gw.Router() == old {
		if time.Since(start) > 100*every {
			t.Fatal("no new generation after a pull")
		}
		time.Sleep(every / 5)
	}
	got := map[string]string{}
	for _, b := range gw.Router().Status() {
		got[b.Model] = b.Breaker
	}
	for _, p := range gw.Router().Providers() {
		got["provider "+p.Provider] = p.Breaker
	}
	for k, want := range map[string]string{"ollama/llama3:8b": "open", "provider ollama": "open", "ollama/phi3:mini": "closed"} {
		if got[k] != want {
			t.Errorf("%s after the swap: %q, want %q (all: %v)", k, got[k], want, got)
		}
	}
}
