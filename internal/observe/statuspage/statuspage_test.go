package statuspage

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/html"

	"github.com/tiergate/tiergate/internal/testing/golden"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func sampleBackends() []Backend {
	return []Backend{
		{Model: "llama3-8b", Provider: "ollama", Openness: "open-weight", Deployment: "local", Tier: "fast", TierSource: "live", State: "closed",
			TTFTMs: 210.4, TokensPerSecond: 64.2, FiguresSource: "live", MeasuredAt: fixedNow.Add(-42 * time.Second), Requests: 40, Errors: 2},
		{Model: "gpt-4o", Provider: "openai", Openness: "proprietary", Deployment: "saas", Tier: "moderate", TierSource: "bench", State: "half-open",
			TTFTMs: 850, TokensPerSecond: 32.5, FiguresSource: "bench", MeasuredAt: fixedNow.Add(-3 * time.Hour), SpendUSD: 1.234},
		{Model: "claude-sonnet-4-5", Provider: "anthropic", Tier: "fast", TierSource: "prior", State: "open", FiguresSource: "prior"},
	}
}

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestJSONGolden(t *testing.T) {
	h := newHandler(Backends(sampleBackends), func() time.Time { return fixedNow })
	resp := get(t, h, http.MethodGet, "/status.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	golden.File(t, "status.golden.json", body)
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	// Sorted by model for a stable table.
	var order []string
	for _, b := range st.Backends {
		order = append(order, b.Model)
	}
	if strings.Join(order, ",") != "claude-sonnet-4-5,gpt-4o,llama3-8b" {
		t.Errorf("order %v", order)
	}
}

// rows parses the page's table into cell texts keyed by class, one map
// per row.
func rows(t *testing.T, page string) []map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var table *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "table" && attr(n, "id") == "backends" {
			table = n
		}
		for c := n.FirstChild; c != nil && table == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if table == nil {
		t.Fatalf("no table#backends in\n%s", page)
	}
	var out []map[string]string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody" {
			r := map[string]string{}
			for td := n.FirstChild; td != nil; td = td.NextSibling {
				if td.Type == html.ElementNode && td.Data == "td" {
					cls := strings.Fields(attr(td, "class"))
					key := ""
					for _, c := range cls {
						if c != "num" && !strings.HasPrefix(c, "health-") {
							key = c
						}
					}
					r[key] = strings.TrimSpace(text(td))
					if key == "tier" {
						for p := td.FirstChild; p != nil; p = p.NextSibling {
							if p.Type == html.ElementNode {
								r["tier-class"] = attr(p, "class")
							}
						}
					}
					if key == "health" {
						r["health-class"] = attr(td, "class")
						r["state"] = attr(td, "data-state")
						r["provider-state"] = attr(td, "data-provider-state")
					}
				}
			}
			out = append(out, r)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(table)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

func TestPageRendersTable(t *testing.T) {
	h := newHandler(Backends(sampleBackends), func() time.Time { return fixedNow })
	resp := get(t, h, http.MethodGet, "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := rows(t, string(body))
	want := []map[string]string{
		{"model": "claude-sonnet-4-5", "provider": "anthropic", "tier": "fast", "source": "prior", "ttft": "–", "tps": "–", "state": "open", "measured": "never",
			"health": "cooling down (circuit open after failures)", "figures": "catalog prior"},
		{"model": "gpt-4o", "provider": "openai", "tier": "moderate", "source": "bench", "ttft": "850 ms", "tps": "32.5", "state": "half-open", "measured": "3 h ago",
			"health": "trial request: the circuit lets one request through to test recovery", "figures": "bench at 09:00:00 UTC"},
		{"model": "llama3-8b", "provider": "ollama", "tier": "fast", "source": "live", "ttft": "210 ms", "tps": "64.2", "state": "closed", "measured": "42 s ago",
			"health": "healthy", "figures": "live EWMA", "openness": "open-weight", "deployment": "local", "requests": "40", "errors": "2 (5%)", "spend": "$0.0000"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		for k, v := range want[i] {
			if got[i][k] != v {
				t.Errorf("row %d %s = %q, want %q", i, k, got[i][k], v)
			}
		}
	}
	if got[1]["tier-class"] != "pill tier-moderate" || got[0]["health-class"] != "health health-cooling-down" || got[2]["health-class"] != "health health-healthy" {
		t.Errorf("classes %q %q %q", got[1]["tier-class"], got[0]["health-class"], got[2]["health-class"])
	}
	// The breaker's own words are never the headline.
	for i, r := range got {
		if r["health"] == "closed" || r["health"] == "open" || r["health"] == "half-open" {
			t.Errorf("row %d headline is the raw breaker state %q", i, r["health"])
		}
	}
	// No external assets: nothing is loaded from anywhere.
	for _, bad := range []string{"<link", "src=", "@import", "url(", "http://", "https://"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The CSP allows exactly the inline script.
	sum := sha256.Sum256([]byte(script))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		!strings.Contains(string(body), "<script>"+script+"</script>") {
		t.Errorf("the CSP does not hash the inline script: %s", csp)
	}
	if !strings.Contains(string(body), `<meta http-equiv="refresh"`) {
		t.Error("no meta refresh for browsers without JavaScript")
	}
}

func TestPageEscapesNames(t *testing.T) {
	evil := `<img src=x onerror=alert(1)>`
	h := newHandler(Backends(func() []Backend {
		return []Backend{{Model: evil, Provider: `"><script>x()</script>`, Tier: `fast" onclick="x`, State: "<b>", TierSource: "live", LastError: evil}}
	}), func() time.Time { return fixedNow })
	body, _ := io.ReadAll(get(t, h, http.MethodGet, "/").Body)
	if strings.Contains(string(body), evil) || strings.Contains(string(body), "<script>x()") {
		t.Fatalf("unescaped backend names in\n%s", body)
	}
	r := rows(t, string(body))
	if len(r) != 1 || r[0]["model"] != evil || r[0]["tier-class"] != "pill tier-unknown" || r[0]["health-class"] != "health health-unknown" || r[0]["state"] != "<b>" {
		t.Errorf("row %v", r)
	}
}

func TestEmptyAndRoutes(t *testing.T) {
	h := Handler(Backends(func() []Backend { return nil }))
	body, _ := io.ReadAll(get(t, h, http.MethodGet, "/").Body)
	if !strings.Contains(string(body), "No backend is enabled.") {
		t.Error("empty table has no explanation")
	}
	jb, _ := io.ReadAll(get(t, h, http.MethodGet, "/status.json").Body)
	if !strings.Contains(string(jb), `"backends": []`) {
		t.Errorf("empty JSON %s", jb)
	}
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 200}, {"HEAD", "/", 200}, {"GET", "/index.html", 200}, {"GET", "/status.json", 200},
		{"GET", "/nope", 404}, {"GET", "/status.json/x", 404}, {"POST", "/", 405}, {"DELETE", "/status.json", 405},
	}
	for _, c := range cases {
		resp := get(t, h, c.method, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if c.method == "HEAD" {
			if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
				t.Errorf("HEAD has a body")
			}
		}
	}
	// Mounted under a prefix, the page still finds its JSON (relative fetch).
	mux := http.NewServeMux()
	mux.Handle("/status/", http.StripPrefix("/status", h))
	if resp := get(t, mux, "GET", "/status/status.json"); resp.StatusCode != 200 {
		t.Errorf("prefixed JSON: %d", resp.StatusCode)
	}
	if !strings.Contains(script, `fetch("status.json"`) {
		t.Error("the script must fetch status.json relatively")
	}
}

func TestAgo(t *testing.T) {
	cases := map[time.Duration]string{-time.Second: "just now", 0: "0 s ago", 59 * time.Second: "59 s ago",
		61 * time.Second: "1 min ago", 2 * time.Hour: "2 h ago", 50 * time.Hour: "2 d ago"}
	for d, want := range cases {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}
