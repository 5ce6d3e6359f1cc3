// Package statuspage serves the gateway's status page: a small HTML page
// (no external assets: its CSS and script are inline) with each backend's
// speed tier and where it came from, its TTFT and tokens/s, its state (and
// its provider's breaker when that is not closed) and when it was last
// measured, and the same data as JSON. The page renders
// the table on the server, then its script refreshes it from the JSON
// every few seconds (without JavaScript a meta refresh reloads the page).
//
// It knows nothing of how the figures are obtained: the gateway passes a
// snapshot function. It must not import the gateway, the router or an
// adapter.
package statuspage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// RefreshSeconds is how often the page refreshes itself.
const RefreshSeconds = 5

// Backend is one row of the status page.
type Backend struct {
	// Model is the catalog id, Provider the configured provider name.
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Tier is the speed tier ("ultra-fast", "fast", "moderate", "slow";
	// "" when unknown) and TierSource where it came from ("prior",
	// "bench" or "live").
	Tier       string `json:"tier"`
	TierSource string `json:"tier_source"`
	// State is the backend's state: the circuit breaker's ("closed",
	// "open", "half-open") or "disabled".
	State string `json:"state"`
	// ProviderState is the provider-wide breaker's state ("closed",
	// "open", "half-open"; "" when unknown): an open one excludes every
	// model of the provider whatever its own state. The page shows it
	// beside State when it is not closed.
	ProviderState string `json:"provider_state,omitempty"`
	// TTFTMs and TokensPerSecond are the figures behind the tier; zero
	// when not measured.
	TTFTMs          float64 `json:"ttft_ms"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	// MeasuredAt is when the figures were measured; zero when never.
	MeasuredAt time.Time `json:"measured_at,omitzero"`
}

// Status is the JSON document served at status.json.
type Status struct {
	GeneratedAt time.Time `json:"generated_at"`
	// RefreshSeconds is how often the page polls.
	RefreshSeconds int       `json:"refresh_seconds"`
	Backends       []Backend `json:"backends"`
}

// Paths the handler serves, relative to where it is mounted.
const (
	PagePath = "/"
	JSONPath = "/status.json"
)

// Handler serves the page at "/" and the JSON at "/status.json" (paths
// relative to where it is mounted; the page fetches "status.json"
// relatively, so http.StripPrefix works). snapshot is called once per
// request and must be safe for concurrent use.
func Handler(snapshot func() []Backend) http.Handler {
	return newHandler(snapshot, time.Now)
}

func newHandler(snapshot func() []Backend, now func() time.Time) *handler {
	sum := sha256.Sum256([]byte(script))
	csp := "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return &handler{snapshot: snapshot, now: now, csp: csp}
}

type handler struct {
	snapshot func() []Backend
	now      func() time.Time
	csp      string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PagePath && r.URL.Path != JSONPath && r.URL.Path != "/index.html" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	st := h.status()
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	var buf bytes.Buffer
	if r.URL.Path == JSONPath {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		hdr.Set("Content-Type", "application/json")
	} else {
		if err := page.Execute(&buf, view(st)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", h.csp)
		hdr.Set("Referrer-Policy", "no-referrer")
	}
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// status takes a snapshot, sorted by model then provider.
func (h *handler) status() Status {
	var bs []Backend
	if h.snapshot != nil {
		bs = append(bs, h.snapshot()...)
	}
	sort.SliceStable(bs, func(i, j int) bool {
		if bs[i].Model != bs[j].Model {
			return bs[i].Model < bs[j].Model
		}
		return bs[i].Provider < bs[j].Provider
	})
	if bs == nil {
		bs = []Backend{}
	}
	return Status{GeneratedAt: h.now().UTC(), RefreshSeconds: RefreshSeconds, Backends: bs}
}

type row struct {
	Backend
	TierClass, StateClass string
	// ProviderNote is "provider <state>" when the provider's breaker is
	// not closed, else "".
	ProviderNote        string
	TTFT, TPS, Measured string
	MeasuredISO         string
}

type pageView struct {
	Refresh     int
	GeneratedAt string
	Rows        []row
	Script      template.JS
}

var knownTiers = map[string]bool{"ultra-fast": true, "fast": true, "moderate": true, "slow": true}
var knownStates = map[string]bool{"closed": true, "open": true, "half-open": true, "disabled": true}

func view(st Status) pageView {
	v := pageView{Refresh: st.RefreshSeconds * 2, GeneratedAt: st.GeneratedAt.Format(time.RFC3339), Script: template.JS(script)}
	for _, b := range st.Backends {
		r := row{Backend: b, TierClass: "tier-unknown", StateClass: "state-unknown", TTFT: "–", TPS: "–", Measured: "never"}
		if knownTiers[b.Tier] {
			r.TierClass = "tier-" + b.Tier
		}
		if knownStates[b.State] {
			r.StateClass = "state-" + b.State
		}
		if b.ProviderState != "" && b.ProviderState != "closed" {
			r.ProviderNote = "provider " + b.ProviderState
		}
		if b.TTFTMs > 0 {
			r.TTFT = strconv.FormatFloat(b.TTFTMs, 'f', 0, 64) + " ms"
		}
		if b.TokensPerSecond > 0 {
			r.TPS = strconv.FormatFloat(b.TokensPerSecond, 'f', 1, 64)
		}
		if !b.MeasuredAt.IsZero() {
			r.MeasuredISO = b.MeasuredAt.UTC().Format(time.RFC3339)
			r.Measured = ago(st.GeneratedAt.Sub(b.MeasuredAt))
		}
		v.Rows = append(v.Rows, r)
	}
	return v
}

// ago renders a duration the way the page's script does.
func ago(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 0:
		return "just now"
	case s < 60:
		return strconv.FormatInt(s, 10) + " s ago"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + " min ago"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + " h ago"
	}
	return strconv.FormatInt(s/86400, 10) + " d ago"
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiergate status</title>
<noscript><meta http-equiv="refresh" content="{{.Refresh}}"></noscript>
<style>
:root { color-scheme: light dark; --fg: #1d2125; --muted: #6b7280; --line: #d9dde3; --bg: #fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #9aa3ad; --line: #3a4048; --bg: #15181c; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 2rem; }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
p.meta { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; max-width: 72rem; }
th, td { text-align: left; padding: .45rem .7rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pill { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-weight: 600; font-size: .9em; }
.tier-ultra-fast { background: #ede4ff; color: #5b21b6; }
.tier-fast { background: #dcfce7; color: #166534; }
.tier-moderate { background: #fef3c7; color: #92400e; }
.tier-slow { background: #fee2e2; color: #991b1b; }
.tier-unknown { background: #e5e7eb; color: #374151; }
.state-closed { color: #15803d; } .state-open { color: #b91c1c; font-weight: 600; }
.state-half-open { color: #c2410c; } .state-disabled, .state-unknown { color: var(--muted); }
.source { color: var(--muted); }
.provider-state { color: #b91c1c; font-weight: 600; }
#error { color: #b91c1c; }
</style>
</head>
<body>
<h1>tiergate backends</h1>
<p class="meta">Speed tiers: ultra-fast, fast, moderate, slow. Source: prior (the catalog), bench (the tiers file), live (measured by the gateway).
<span id="updated" data-generated="{{.GeneratedAt}}">Rendered {{.GeneratedAt}}</span> <span id="error"></span></p>
<table id="backends">
<thead><tr><th>Backend</th><th>Provider</th><th>Tier</th><th>Source</th><th>TTFT</th><th>Tokens/s</th><th>State</th><th>Last measured</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr data-model="{{.Model}}"><td class="model">{{.Model}}</td><td class="provider">{{.Provider}}</td><td class="tier"><span class="pill {{.TierClass}}">{{if .Tier}}{{.Tier}}{{else}}unknown{{end}}</span></td><td class="source">{{.TierSource}}</td><td class="num ttft">{{.TTFT}}</td><td class="num tps">{{.TPS}}</td><td class="state {{.StateClass}}">{{.State}}{{if .ProviderNote}} <span class="provider-state">{{.ProviderNote}}</span>{{end}}</td><td class="measured"{{if .MeasuredISO}} title="{{.MeasuredISO}}" data-at="{{.MeasuredISO}}"{{end}}>{{.Measured}}</td></tr>
{{- else}}
<tr class="empty"><td colspan="8">No backend is enabled.</td></tr>
{{- end}}
</tbody>
</table>
<script>{{.Script}}</script>
</body>
</html>
`))

// script refreshes the table from status.json. It builds cells with
// textContent only, so nothing a backend name holds is parsed as HTML.
const script = `
(function () {
  "use strict";
  var tiers = {"ultra-fast": 1, "fast": 1, "moderate": 1, "slow": 1};
  var states = {"closed": 1, "open": 1, "half-open": 1, "disabled": 1};
  var every = 5000;
  function ago(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 0) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function render(st) {
    if (st.refresh_seconds > 0) every = st.refresh_seconds * 1000;
    var now = Date.parse(st.generated_at) || Date.now();
    var body = document.createElement("tbody");
    (st.backends || []).forEach(function (b) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-model", b.model);
      cell(tr, "model", b.model);
      cell(tr, "provider", b.provider);
      var td = cell(tr, "tier", "");
      var pill = document.createElement("span");
      pill.className = "pill " + (tiers[b.tier] ? "tier-" + b.tier : "tier-unknown");
      pill.textContent = b.tier || "unknown";
      td.appendChild(pill);
      cell(tr, "source", b.tier_source || "");
      cell(tr, "num ttft", b.ttft_ms > 0 ? Math.round(b.ttft_ms) + " ms" : "\u2013");
      cell(tr, "num tps", b.tokens_per_second > 0 ? b.tokens_per_second.toFixed(1) : "\u2013");
      var sc = cell(tr, "state " + (states[b.state] ? "state-" + b.state : "state-unknown"), b.state || "");
      if (b.provider_state && b.provider_state !== "closed") {
        var ps = document.createElement("span");
        ps.className = "provider-state";
        ps.textContent = "provider " + b.provider_state;
        sc.appendChild(document.createTextNode(" "));
        sc.appendChild(ps);
      }
      var at = Date.parse(b.measured_at);
      var m = cell(tr, "measured", at > 0 ? ago(now - at) : "never");
      if (at > 0) { m.title = b.measured_at; m.setAttribute("data-at", b.measured_at); }
      body.appendChild(tr);
    });
    if (!body.firstChild) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var td = cell(tr, "", "No backend is enabled.");
      td.colSpan = 8;
      body.appendChild(tr);
    }
    var table = document.getElementById("backends");
    table.replaceChild(body, table.tBodies[0]);
    var up = document.getElementById("updated");
    up.setAttribute("data-generated", st.generated_at);
    up.setAttribute("data-refreshed", "1");
    up.textContent = "Updated " + new Date(now).toLocaleTimeString();
    document.getElementById("error").textContent = "";
  }
  function refresh() {
    fetch("status.json", {cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
      .then(render)
      .catch(function (e) { document.getElementById("error").textContent = "(refresh failed: " + e.message + ")"; })
      .then(function () { setTimeout(refresh, every); });
  }
  refresh();
})();
`
