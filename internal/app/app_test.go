package app_test

import (
	"bufio"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/leak"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
	"github.com/tiergate/tiergate/internal/testing/webtest"
	"github.com/tiergate/tiergate/internal/tiers"
)

func TestMain(m *testing.M) {
	leak.VerifyTestMain(m)
}

// oneModel is a config with one OpenAI-compatible backend "m" at url.
func oneModel(t *testing.T, url, server string) *config.Config {
	t.Helper()
	yaml := "server:\n" + server + "router:\n  max_attempts: 1\n  breaker: {window: 30s, min_requests: 2, error_ratio: 0.5, open_for: 1h}\n" +
		"providers:\n  up:\n    type: openai\n    base_url: " + url + "\n    api_key_env: K\n" +
		"models:\n  - {id: m, provider: up, upstream: m, openness: proprietary, deployment: saas, tasks: [chat], tier_prior: fast}\n"
	cfg, err := config.Load("test", []byte(yaml+"\n"), func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// matching is every series of the metric name whose labels include labels.
func matching(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, mf := range fams {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// gauge is the first matching series' gauge value.
func gauge(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	if ms := matching(t, g, name, labels); len(ms) > 0 {
		return ms[0].GetGauge().GetValue(), true
	}
	return 0, false
}

// chatBody is a chat request for model m.
const chatBody = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

func chat(t *testing.T, url string) int {
	t.Helper()
	resp, _ := webtest.Send(t, "POST", url+"/v1/chat/completions", chatBody, map[string]string{"Content-Type": "application/json"})
	return resp.StatusCode
}

// TestMetricsReadStateWhenScraped: the breaker, tier and in-flight gauges
// show the router's state at the scrape right after it changed, with no
// ticker between.
func TestMetricsReadStateWhenScraped(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	reg := prometheus.NewPedanticRegistry()
	gw := apptest.Start(t, oneModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg})
	be := map[string]string{"model": "m", "provider": "up"}
	if v, ok := gauge(t, reg, metrics.NameBreakerState, be); !ok || v != 0 {
		t.Fatalf("breaker before traffic = %v (present %v), want 0", v, ok)
	}
	if _, ok := gauge(t, reg, metrics.NameBackendTier, map[string]string{"model": "m", "tier": "fast", "source": "prior"}); !ok {
		t.Error("no prior tier series")
	}
	if code := chat(t, gw.URL); code != 200 {
		t.Fatalf("status %d", code)
	}
	if v, ok := gauge(t, reg, metrics.NameInFlight, be); !ok || v != 0 {
		t.Errorf("in flight after the request = %v (present %v), want 0", v, ok)
	}
	emu.SetOptions(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 500}})
	for range 3 {
		chat(t, gw.URL)
	}
	if v, ok := gauge(t, reg, metrics.NameBreakerState, be); !ok || v != 1 {
		t.Errorf("breaker after failures = %v (present %v), want 1 (open)", v, ok)
	}
}

// TestTiersFileFollowed: a missing tiers file is logged, the file is
// loaded when bench writes it (the router and the metrics show its tier
// and figures), and a broken rewrite keeps the tiers in use.
func TestTiersFileFollowed(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	path := filepath.Join(t.TempDir(), "tiers.json")
	var logs syncbuf.Buffer
	reg := prometheus.NewPedanticRegistry()
	gw := apptest.Start(t, oneModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg,
		TiersPath: path, TiersInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the missing-file log", func() bool { return strings.Contains(logs.String(), "no tiers file yet") })
	at := time.Date(2025, 6, 1, 11, 58, 40, 0, time.UTC)
	f := &tiers.File{Version: 1, GeneratedAt: at.Add(time.Minute), Tiers: []tiers.Entry{
		{Model: "m", Provider: "up", Upstream: "m", Tier: catalog.Moderate, TTFTP50Ms: 850, OutputTokensPerSecP50: 32.5, Requests: 10, MeasuredAt: at}}}
	if err := tiers.Write(path, f); err != nil {
		t.Fatal(err)
	}
	waitFor("the file to load", func() bool { tier, src, _ := gw.Router().Tier("m"); return tier == catalog.Moderate && src == "bench" })
	be := map[string]string{"model": "m", "provider": "up"}
	if _, ok := gauge(t, reg, metrics.NameBackendTier, map[string]string{"model": "m", "provider": "up", "tier": "moderate", "source": "bench"}); !ok {
		t.Error("no bench tier series")
	}
	if v, _ := gauge(t, reg, metrics.NameBackendTTFT, be); v < 0.8499 || v > 0.8501 {
		t.Errorf("ttft %v, want 0.85", v)
	}
	if v, _ := gauge(t, reg, metrics.NameBackendTPS, be); v != 32.5 {
		t.Errorf("tokens/s %v", v)
	}
	if v, _ := gauge(t, reg, metrics.NameBackendMeasured, be); v != float64(at.Unix()) {
		t.Errorf("measured at %v", v)
	}
	if v, _ := gauge(t, reg, metrics.NameTiersFileEntries, nil); v != 1 {
		t.Errorf("tiers file entries %v, want 1", v)
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("the warning", func() bool { return strings.Contains(logs.String(), "keeping the tiers in use") })
	if tier, _, _ := gw.Router().Tier("m"); tier != catalog.Moderate {
		t.Error("a broken file replaced the tiers")
	}
}

// rawRequest sends a POST that declares size bytes and sends body.
func rawRequest(c net.Conn, size int, body string) {
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", size, body)
}

// TestSlowBodyIs408: a body that does not arrive within
// server.body_read_timeout is answered 408 in OpenAI's shape.
func TestSlowBodyIs408(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	gw := apptest.Start(t, oneModel(t, emu.URL, "  body_read_timeout: 200ms\n"), app.Options{Getenv: func(string) string { return "k" }})
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rawRequest(c, 20<<20, "{")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"error"`) || !strings.Contains(string(b), "body_read_timeout") {
		t.Errorf("slow body: %d %s", resp.StatusCode, b)
	}
	// A body that arrives in time is served as before.
	if code := chat(t, gw.URL); code != 200 {
		t.Errorf("a prompt body: status %d", code)
	}
}

// TestConcurrencyCap: beyond server.max_concurrent a request gets 503 in
// OpenAI's shape with Retry-After; /healthz and /readyz still answer.
func TestConcurrencyCap(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	gw := apptest.Start(t, oneModel(t, emu.URL, "  max_concurrent: 2\n  body_read_timeout: 10s\n"), app.Options{Getenv: func(string) string { return "k" }})
	// Two requests hold the slots while their bodies are incomplete. Each
	// asks for 100 Continue, which the server sends only once the handler
	// reads the body, so it holds its slot before the next one starts
	// (else, on a loaded host, a later request could take the slot first).
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("held request: %q %v, want 100 Continue", line, err)
		}
		c.SetReadDeadline(time.Time{})
		io.WriteString(c, "{")
		held = append(held, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	var resp *http.Response
	var body []byte
	for time.Now().Before(deadline) {
		r, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		resp = r
		if r.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond) // the held requests are not in their handlers yet
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), `"code":"gateway_overloaded"`) || !strings.Contains(string(body), "max_concurrent") {
		t.Fatalf("third request: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if r, err := http.Get(gw.URL + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Errorf("/readyz at the cap: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	for _, c := range held {
		c.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for chat(t, gw.URL) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the slots were not given back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLocalProviderComesUpLater: an Ollama that does not answer at start
// is enabled when it does, and a model pulled later joins the catalog,
// both without a restart and within a few rediscover intervals.
func TestLocalProviderComesUpLater(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}})
	defer emu.Close()
	target, _ := url.Parse(emu.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var up atomic.Bool
	sw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "not up", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer sw.Close()
	const every = 50 * time.Millisecond
	yaml := "server:\n  rediscover_interval: " + every.String() + "\nproviders:\n  ollama: {type: ollama, base_url: \"" + sw.URL + "\", discover: true, probe: {enabled: false}}\n"
	cfg, err := config.Load("test", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := apptest.Start(t, cfg, app.Options{})
	models := func() string {
		_, b := webtest.Send(t, "GET", gw.URL+"/v1/models", "", nil)
		return string(b)
	}
	if m := models(); strings.Contains(m, "ollama/") {
		t.Fatalf("models before Ollama is up: %s", m)
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 100*every+5*time.Second {
				t.Fatalf("%s: not noticed; models %s", what, models())
			}
			time.Sleep(every / 5)
		}
		return time.Since(start)
	}
	up.Store(true)
	d := waitFor("Ollama came up", func() bool { return strings.Contains(models(), `"ollama/llama3:8b"`) })
	t.Logf("Ollama noticed %v after it came up (rediscover_interval %v)", d, every)
	resp, b := webtest.Send(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"ollama/llama3:8b","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("chat on the late Ollama: %d %s", resp.StatusCode, b)
	}
	if r, err := http.Get(gw.URL + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Errorf("/readyz once Ollama is up: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	emu.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b", "phi3:mini"}})
	d = waitFor("a pulled model", func() bool { return strings.Contains(models(), `"ollama/phi3:mini"`) })
	t.Logf("pulled model listed %v after the pull", d)
	// Ollama blinking out does not drop what it serves.
	up.Store(false)
	time.Sleep(4 * every)
	if m := models(); !strings.Contains(m, `"ollama/phi3:mini"`) {
		t.Errorf("a failed re-check dropped Ollama's models: %s", m)
	}
}
