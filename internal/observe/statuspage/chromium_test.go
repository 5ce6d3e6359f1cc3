//go:build unix

package statuspage

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/promtest"
	"golang.org/x/net/html"
)

// dumpDOM loads url in headless Chromium, lets the page's script run for
// budget of virtual time, and returns the serialized DOM.
func dumpDOM(t *testing.T, bin, url string, budget time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
		"--user-data-dir="+profile,
		"--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10),
		"--dump-dom", url)
	// Chromium starts helper processes: put them in one group and kill the
	// whole group if the deadline passes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if stdout.Len() == 0 {
		t.Fatalf("chromium dumped no DOM\n%s", stderr.String())
	}
	return stdout.String()
}

// TestChromiumRendersBackends renders the page in headless Chromium. The
// server-side page holds two backends and no key; by the time the page's
// script has fetched status.json a third backend has appeared, gpt-4o is
// cooling down after a 429 and two keys exist, one near its budget, so
// the dumped DOM shows what only the refresh could have put there.
func TestChromiumRendersBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	bin := promtest.Tool(t, "chromium", "Chromium") // TIERGATE_SKIP_CHROMIUM=1 skips instead of installing
	var calls atomic.Int32
	measured := time.Now().Add(-90 * time.Second)
	until := time.Now().Add(10 * time.Minute)
	snapshot := func() Snapshot {
		bs := []Backend{
			{Model: "llama3-8b", Provider: "ollama", Openness: "open-weight", Deployment: "local", Tier: "fast", TierSource: "live", State: "closed",
				TTFTMs: 180, TokensPerSecond: 71.5, FiguresSource: "live", MeasuredAt: measured, Requests: 12, Errors: 1, SpendUSD: 0},
			{Model: "gpt-4o", Provider: "openai", Openness: "proprietary", Deployment: "saas", Tier: "moderate", TierSource: "bench", State: "closed",
				TTFTMs: 850, TokensPerSecond: 32.5, FiguresSource: "bench", MeasuredAt: measured, SpendUSD: 2.5},
		}
		sn := Snapshot{WindowSeconds: 300}
		if calls.Add(1) > 1 { // every call after the page itself: the script's fetches
			bs[1].Tier, bs[1].TierSource, bs[1].FiguresSource = "slow", "live", "live"
			bs[1].CooldownUntil, bs[1].CooldownReason, bs[1].Requests, bs[1].Errors = until, "429 Retry-After", 20, 3
			bs = append(bs, Backend{Model: "claude-sonnet-4-5", Provider: "anthropic", Tier: "ultra-fast", TierSource: "prior", FiguresSource: "prior",
				State: "half-open", ProviderState: "open", ProviderLastError: "anthropic: 529 overloaded"})
			sn.Keys = []Key{
				{ID: "key_legal", Name: "legal", SpendUSD: 8.5, BudgetUSD: 10, Period: "month", Requests: 30, TokensIn: 900, TokensOut: 300, RPM: 60, RPMUsed: 3},
				{ID: "key_ci", Name: "ci", SpendUSD: 0.01, Requests: 2},
			}
			sn.Disabled = []DisabledProvider{{Name: "groq", Why: "GROQ_API_KEY is not set"}}
		}
		sn.Backends = bs
		return sn
	}
	srv := httptest.NewServer(Handler(snapshot))
	defer srv.Close()

	dom := dumpDOM(t, bin, srv.URL+"/", 3*time.Second)
	if calls.Load() < 2 {
		t.Fatalf("the page never fetched status.json (%d snapshot calls)\n%s", calls.Load(), dom)
	}
	got := rows(t, dom)
	want := []map[string]string{
		{"model": "claude-sonnet-4-5", "provider": "anthropic", "tier": "ultra-fast", "source": "prior", "ttft": "–", "tps": "–", "measured": "never", "tier-class": "pill tier-ultra-fast",
			"health": "provider down: circuit open after the provider's failures: anthropic: 529 overloaded", "state": "half-open", "provider-state": "open",
			"health-class": "health health-provider-down", "figures": "catalog prior"},
		{"model": "gpt-4o", "provider": "openai", "openness": "proprietary", "deployment": "saas", "tier": "slow", "source": "live", "ttft": "850 ms", "tps": "32.5",
			"measured": "1 min ago", "state": "closed", "health-class": "health health-cooling-down", "health": "cooling down until " + clock(until, time.Now().UTC()) + " (429 Retry-After)",
			"requests": "20", "errors": "3 (15%)", "figures": "live EWMA", "spend": "$2.50"},
		{"model": "llama3-8b", "provider": "ollama", "tier": "fast", "source": "live", "ttft": "180 ms", "tps": "71.5", "measured": "1 min ago", "tier-class": "pill tier-fast",
			"health": "healthy", "state": "closed", "health-class": "health health-healthy", "requests": "12", "errors": "1 (8%)", "spend": "$0.0000"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows after the refresh, want %d: %v\n%s", len(got), len(want), got, dom)
	}
	for i := range want {
		for k, v := range want[i] {
			if got[i][k] != v {
				t.Errorf("row %d %s = %q, want %q", i, k, got[i][k], v)
			}
		}
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	up, near, keys, disabled := byID(doc, "updated"), byID(doc, "near"), byID(doc, "keys"), byID(doc, "disabled")
	if up == nil || attr(up, "data-refreshed") != "1" || !strings.HasPrefix(text(up), "Updated ") {
		t.Errorf("the page does not say it refreshed: %v", up)
	}
	if near == nil || strings.TrimSpace(text(near)) != "legal: budget 85% spent ($8.50 of $10.00 this month)" {
		t.Errorf("keys near their limits: %q", text(near))
	}
	if keys == nil || !strings.Contains(text(keys), "legal") || !strings.Contains(text(keys), "$10.00 per month (85% spent)") ||
		!strings.Contains(text(keys), "3 of 60") || !strings.Contains(text(keys), "ci") {
		t.Errorf("keys table: %q", text(keys))
	}
	if disabled == nil || !strings.Contains(text(disabled), "groq: GROQ_API_KEY is not set") {
		t.Errorf("disabled providers: %q", text(disabled))
	}
}

// byID finds the element with id in n.
func byID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode && attr(n, "id") == id {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}
