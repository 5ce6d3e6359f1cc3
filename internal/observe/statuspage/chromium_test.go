//go:build unix

package statuspage

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/promtest"
	"golang.org/x/net/html"
)

// chromium returns the path of a Chromium, installing Debian's package
// through scripts/ensure-chromium.sh when none is on PATH.
// TIERGATE_SKIP_CHROMIUM=1 skips instead of installing.
func chromium(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(promtest.RepoRoot(t), "scripts", "ensure-chromium.sh"))
	skip := os.Getenv("TIERGATE_SKIP_CHROMIUM") == "1"
	if skip {
		cmd.Env = append(os.Environ(), "TIERGATE_CHROMIUM_NO_INSTALL=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if skip {
			t.Skipf("no Chromium and TIERGATE_SKIP_CHROMIUM=1: %s", strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("ensure-chromium.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

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
// server-side table holds two backends; by the time the page's script has
// fetched status.json a third has appeared and gpt-4o's tier has changed,
// so the dumped DOM shows what only the refresh could have put there.
func TestChromiumRendersBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	bin := chromium(t)
	var calls atomic.Int32
	measured := time.Now().Add(-90 * time.Second)
	snapshot := func() []Backend {
		bs := []Backend{
			{Model: "llama3-8b", Provider: "ollama", Tier: "fast", TierSource: "live", State: "closed", TTFTMs: 180, TokensPerSecond: 71.5, MeasuredAt: measured},
			{Model: "gpt-4o", Provider: "openai", Tier: "moderate", TierSource: "bench", State: "closed", TTFTMs: 850, TokensPerSecond: 32.5, MeasuredAt: measured},
		}
		if calls.Add(1) > 1 { // every call after the page itself: the script's fetches
			bs[1].Tier, bs[1].TierSource, bs[1].State = "slow", "live", "open"
			bs = append(bs, Backend{Model: "claude-sonnet-4-5", Provider: "anthropic", Tier: "ultra-fast", TierSource: "prior", State: "half-open", ProviderState: "open"})
		}
		return bs
	}
	srv := httptest.NewServer(Handler(snapshot))
	defer srv.Close()

	dom := dumpDOM(t, bin, srv.URL+"/", 3*time.Second)
	if calls.Load() < 2 {
		t.Fatalf("the page never fetched status.json (%d snapshot calls)\n%s", calls.Load(), dom)
	}
	got := rows(t, dom)
	want := []map[string]string{
		{"model": "claude-sonnet-4-5", "provider": "anthropic", "tier": "ultra-fast", "source": "prior", "ttft": "–", "tps": "–", "state": "half-open provider open", "measured": "never", "tier-class": "pill tier-ultra-fast"},
		{"model": "gpt-4o", "provider": "openai", "tier": "slow", "source": "live", "ttft": "850 ms", "tps": "32.5", "state": "open", "measured": "1 min ago", "state-class": "state state-open"},
		{"model": "llama3-8b", "provider": "ollama", "tier": "fast", "source": "live", "ttft": "180 ms", "tps": "71.5", "state": "closed", "measured": "1 min ago", "tier-class": "pill tier-fast"},
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
	var up *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "id") == "updated" {
			up = n
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if up == nil || attr(up, "data-refreshed") != "1" || !strings.HasPrefix(text(up), "Updated ") {
		t.Errorf("the page does not say it refreshed: %v", up)
	}
}
