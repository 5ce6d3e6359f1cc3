// Package statuspage serves the gateway's status page, the operator's
// view without Grafana: a small HTML page (no external assets: its CSS
// and script are inline) with each backend's health in words (healthy,
// cooling down until when and why, failing, trial request, disabled),
// its openness and deployment, its requests and error rate over the last
// minutes, its speed tier with the TTFT and tokens/s behind it and where
// they came from, its spend; and each gateway key's spend, budget and
// rate windows, the keys near their limits first. The same facts are
// served as JSON. The page renders on the server, then its script
// refreshes it from the JSON every few seconds (without JavaScript a
// meta refresh reloads the page).
//
// It knows nothing of how the figures are obtained: the gateway passes a
// snapshot function. It must not import the gateway, the router, the
// keys package or an adapter. A key's secret never reaches it: only its
// id and name.
package statuspage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RefreshSeconds is how often the page refreshes itself.
const RefreshSeconds = 5

// NearLimit is the fraction of a limit at which a key counts as near it.
const NearLimit = 0.8

// Health values (Backend.Health).
const (
	Healthy      = "healthy"
	CoolingDown  = "cooling-down"
	ProviderDown = "provider-down"
	Failing      = "failing"
	Trial        = "trial"
	Disabled     = "disabled"
	Unknown      = "unknown"
)

// Backend is one row of the status page.
type Backend struct {
	// Model is the catalog id, Provider the configured provider name.
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Openness and Deployment are the catalog's (open-source,
	// open-weight, proprietary; local, self-hosted, saas).
	Openness   string `json:"openness,omitempty"`
	Deployment string `json:"deployment,omitempty"`
	// Tier is the speed tier ("ultra-fast", "fast", "moderate", "slow";
	// "" when unknown) and TierSource where it came from ("prior",
	// "bench" or "live").
	Tier       string `json:"tier"`
	TierSource string `json:"tier_source"`
	// State is the backend's state: the circuit breaker's ("closed",
	// "open", "half-open") or "disabled" (StateReason says why). The
	// page shows Health instead.
	State       string `json:"state"`
	StateReason string `json:"state_reason,omitempty"`
	// ProviderState is the provider-wide breaker's state ("closed",
	// "open", "half-open"; "" when unknown): an open one excludes every
	// model of the provider whatever its own state.
	ProviderState string `json:"provider_state,omitempty"`
	// LastError is the backend's last failure's message.
	LastError string `json:"last_error,omitempty"`
	// CooldownUntil is when a Retry-After the backend sent ends (zero:
	// none), CooldownReason what sent it ("429 Retry-After").
	CooldownUntil  time.Time `json:"cooldown_until,omitzero"`
	CooldownReason string    `json:"cooldown_reason,omitempty"`
	// OpenUntil is when an open circuit lets a trial through (zero:
	// unknown); Failures the failed requests in the window.
	OpenUntil time.Time `json:"open_until,omitzero"`
	Failures  int       `json:"failures,omitempty"`
	// ProviderCooldownUntil is when the provider's 503 Retry-After ends,
	// ProviderOpenUntil when its open circuit lets a trial through (zero:
	// none or unknown), ProviderLastError its last failure.
	ProviderCooldownUntil time.Time `json:"provider_cooldown_until,omitzero"`
	ProviderOpenUntil     time.Time `json:"provider_open_until,omitzero"`
	ProviderLastError     string    `json:"provider_last_error,omitempty"`
	// TTFTMs and TokensPerSecond are the figures behind the tier; zero
	// when not measured. FiguresSource is where they came from: "live"
	// (the gateway's moving average), "bench" (the tiers file) or
	// "prior" (the catalog: no figures).
	TTFTMs          float64 `json:"ttft_ms"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	FiguresSource   string  `json:"figures_source,omitempty"`
	// MeasuredAt is when the figures were measured; zero when never.
	MeasuredAt time.Time `json:"measured_at,omitzero"`
	// Requests and Errors are the attempts on the backend in the last
	// Status.WindowSeconds and those that failed (client cancellations
	// and invalid requests left out).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// SpendUSD is the backend's spend at list prices since Status.SpendSince.
	SpendUSD float64 `json:"spend_usd"`

	// Health and HealthText are the page's words for the state, set by
	// the handler from the fields above.
	Health     string `json:"health"`
	HealthText string `json:"health_text"`
}

// Key is one gateway key: its id and name (never its secret), its use
// this budget period and its limits' windows now.
type Key struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Since is the start of the budget period (the policy's, else the
	// month); Requests, TokensIn, TokensOut and SpendUSD are since then.
	Since     time.Time `json:"since"`
	Requests  int64     `json:"requests"`
	TokensIn  int64     `json:"tokens_in"`
	TokensOut int64     `json:"tokens_out"`
	SpendUSD  float64   `json:"spend_usd"`
	// BudgetUSD (0: none) per Period ("day", "month"), ending PeriodEnd.
	BudgetUSD float64   `json:"budget_usd,omitempty"`
	Period    string    `json:"period,omitempty"`
	PeriodEnd time.Time `json:"period_end,omitzero"`
	// The limits (0: none) and what their windows hold now: requests and
	// tokens in the last minute, requests in flight.
	RPM           int `json:"rpm,omitempty"`
	RPMUsed       int `json:"rpm_used"`
	TPM           int `json:"tpm,omitempty"`
	TPMUsed       int `json:"tpm_used"`
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	InFlight      int `json:"in_flight"`

	// Near lists the limits the key is at NearLimit or more of, in
	// words; set by the handler.
	Near []string `json:"near,omitempty"`
}

// DisabledProvider is a configured provider the gateway does not use.
type DisabledProvider struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Snapshot is what the gateway gives the page on each request.
type Snapshot struct {
	Backends []Backend
	Keys     []Key
	Disabled []DisabledProvider
	// WindowSeconds is the span Backend.Requests and Errors cover.
	WindowSeconds int
	// SpendSince is when Backend.SpendUSD started counting.
	SpendSince time.Time
}

// Status is the JSON document served at status.json.
type Status struct {
	GeneratedAt time.Time `json:"generated_at"`
	// RefreshSeconds is how often the page polls.
	RefreshSeconds int       `json:"refresh_seconds"`
	Backends       []Backend `json:"backends"`
	// WindowSeconds is the span of the backends' requests and errors;
	// SpendSince when their spend started counting.
	WindowSeconds int       `json:"window_seconds,omitempty"`
	SpendSince    time.Time `json:"spend_since,omitzero"`
	// Keys are the gateway keys (none while the gateway is open);
	// KeysNearLimits the names of those with Near set.
	Keys           []Key              `json:"keys,omitempty"`
	KeysNearLimits []string           `json:"keys_near_limits,omitempty"`
	Disabled       []DisabledProvider `json:"disabled_providers,omitempty"`
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
func Handler(snapshot func() Snapshot) http.Handler {
	return newHandler(snapshot, time.Now)
}

// Backends adapts a function that knows only the backends to Handler's.
func Backends(f func() []Backend) func() Snapshot {
	return func() Snapshot { return Snapshot{Backends: f()} }
}

func newHandler(snapshot func() Snapshot, now func() time.Time) *handler {
	sum := sha256.Sum256([]byte(script))
	csp := "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(sum[:]) + "'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return &handler{snapshot: snapshot, now: now, csp: csp}
}

type handler struct {
	snapshot func() Snapshot
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

// status takes a snapshot, sorted by model then provider (keys by name),
// with each backend's health and each key's nearness in words.
func (h *handler) status() Status {
	var sn Snapshot
	if h.snapshot != nil {
		sn = h.snapshot()
	}
	now := h.now().UTC()
	bs := append([]Backend(nil), sn.Backends...)
	sort.SliceStable(bs, func(i, j int) bool {
		if bs[i].Model != bs[j].Model {
			return bs[i].Model < bs[j].Model
		}
		return bs[i].Provider < bs[j].Provider
	})
	if bs == nil {
		bs = []Backend{}
	}
	window := sn.WindowSeconds
	for i := range bs {
		bs[i].Health, bs[i].HealthText = health(&bs[i], now, window)
	}
	ks := append([]Key(nil), sn.Keys...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].Name < ks[j].Name })
	var near []string
	for i := range ks {
		ks[i].Near = nearness(&ks[i])
		if len(ks[i].Near) > 0 {
			near = append(near, ks[i].Name)
		}
	}
	return Status{GeneratedAt: now, RefreshSeconds: RefreshSeconds, Backends: bs, WindowSeconds: window, SpendSince: sn.SpendSince,
		Keys: ks, KeysNearLimits: near, Disabled: sn.Disabled}
}

// clock is how the page writes an instant: the time of day in UTC, with
// the date when it is not today's.
func clock(t, now time.Time) string {
	t = t.UTC()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05") + " UTC"
	}
	return t.Format("2006-01-02 15:04") + " UTC"
}

// until is " until <clock>" when t is after now, else "".
func until(t, now time.Time) string {
	if t.After(now) {
		return " until " + clock(t, now)
	}
	return ""
}

// minutes writes a window as "5 min" (or seconds).
func minutes(sec int) string {
	if sec%60 == 0 {
		return strconv.Itoa(sec/60) + " min"
	}
	return strconv.Itoa(sec) + " s"
}

// health says in words how the backend is, most serious first: disabled,
// its provider down (circuit open or cooling down), its own circuit open,
// a Retry-After, a trial request, failing (half or more of its requests
// in the window failed), healthy.
func health(b *Backend, now time.Time, window int) (string, string) {
	with := func(s, detail string) string {
		if detail != "" {
			return s + ": " + detail
		}
		return s
	}
	switch {
	case b.State == "disabled":
		if b.StateReason != "" {
			return Disabled, "disabled (" + b.StateReason + ")"
		}
		return Disabled, "disabled"
	case b.ProviderState == "open":
		return ProviderDown, with("provider down: circuit open"+until(b.ProviderOpenUntil, now)+" after the provider's failures", b.ProviderLastError)
	case b.ProviderCooldownUntil.After(now):
		return ProviderDown, "provider down: cooling down" + until(b.ProviderCooldownUntil, now) + " (503 Retry-After)"
	case b.State == "open":
		why := "circuit open after failures"
		if b.Failures > 0 {
			why = "circuit open after " + strconv.Itoa(b.Failures) + " failures"
		}
		return CoolingDown, with("cooling down"+until(b.OpenUntil, now)+" ("+why+")", b.LastError)
	case b.CooldownUntil.After(now):
		reason := b.CooldownReason
		if reason == "" {
			reason = "Retry-After"
		}
		return CoolingDown, "cooling down" + until(b.CooldownUntil, now) + " (" + reason + ")"
	case b.State == "half-open":
		return Trial, "trial request: the circuit lets one request through to test recovery"
	case b.ProviderState == "half-open":
		return Trial, "trial request: the provider's circuit lets one request through to test recovery"
	case b.Errors > 0 && b.Requests > 0 && 2*b.Errors >= b.Requests:
		w := ""
		if window > 0 {
			w = " in the last " + minutes(window)
		}
		return Failing, with(fmt.Sprintf("failing: %d of %d requests failed%s", b.Errors, b.Requests, w), b.LastError)
	case b.State == "closed":
		return Healthy, Healthy
	}
	return Unknown, "unknown (" + b.State + ")"
}

// nearness lists, in words, the limits k is at NearLimit or more of.
func nearness(k *Key) []string {
	var out []string
	if k.BudgetUSD > 0 && k.SpendUSD >= NearLimit*k.BudgetUSD {
		p := k.Period
		if p == "" {
			p = "month"
		}
		out = append(out, fmt.Sprintf("budget %.0f%% spent (%s of %s this %s)", 100*k.SpendUSD/k.BudgetUSD, usd(k.SpendUSD), usd(k.BudgetUSD), p))
	}
	if k.RPM > 0 && float64(k.RPMUsed) >= NearLimit*float64(k.RPM) {
		out = append(out, fmt.Sprintf("rpm %d of %d used in the last minute", k.RPMUsed, k.RPM))
	}
	if k.TPM > 0 && float64(k.TPMUsed) >= NearLimit*float64(k.TPM) {
		out = append(out, fmt.Sprintf("tpm %d of %d used in the last minute", k.TPMUsed, k.TPM))
	}
	if k.MaxConcurrent > 0 && float64(k.InFlight) >= NearLimit*float64(k.MaxConcurrent) {
		out = append(out, fmt.Sprintf("%d of %d concurrent requests in flight", k.InFlight, k.MaxConcurrent))
	}
	return out
}

// usd writes an amount as the page's script does: 4 decimals under $1.
func usd(v float64) string {
	if v < 1 {
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(v, 'f', 2, 64)
}

// figures says where the TTFT and tokens/s came from, as the script does.
func figures(b *Backend, now time.Time) string {
	switch b.FiguresSource {
	case "live":
		return "live EWMA"
	case "bench":
		if !b.MeasuredAt.IsZero() {
			return "bench at " + clock(b.MeasuredAt, now)
		}
		return "bench"
	case "prior":
		return "catalog prior"
	}
	return b.FiguresSource
}

type row struct {
	Backend
	TierClass, HealthClass string
	TTFT, TPS, Measured    string
	MeasuredISO            string
	Figures                string
	ErrorsText, Spend      string
}

type keyRow struct {
	Key
	Tokens, Spend, Budget, RPMText, TPMText, Concurrent string
}

type pageView struct {
	Refresh     int
	GeneratedAt string
	Window      string
	SpendSince  string
	Rows        []row
	Keys        []keyRow
	Near        []keyRow
	Disabled    []DisabledProvider
	Script      template.JS
}

var knownTiers = map[string]bool{"ultra-fast": true, "fast": true, "moderate": true, "slow": true}

func view(st Status) pageView {
	v := pageView{Refresh: st.RefreshSeconds * 2, GeneratedAt: st.GeneratedAt.Format(time.RFC3339), Script: template.JS(script),
		Window: "recent", Disabled: st.Disabled}
	if st.WindowSeconds > 0 {
		v.Window = "last " + minutes(st.WindowSeconds)
	}
	if !st.SpendSince.IsZero() {
		v.SpendSince = clock(st.SpendSince, st.GeneratedAt)
	}
	for _, b := range st.Backends {
		r := row{Backend: b, TierClass: "tier-unknown", HealthClass: "health-" + b.Health, TTFT: "–", TPS: "–", Measured: "never",
			Figures: figures(&b, st.GeneratedAt), ErrorsText: errorsText(b.Requests, b.Errors), Spend: usd(b.SpendUSD)}
		if knownTiers[b.Tier] {
			r.TierClass = "tier-" + b.Tier
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
	for _, k := range st.Keys {
		kr := keyRow{Key: k, Tokens: strconv.FormatInt(k.TokensIn+k.TokensOut, 10), Spend: usd(k.SpendUSD), Budget: budgetText(k),
			RPMText: limitText(k.RPMUsed, k.RPM), TPMText: limitText(k.TPMUsed, k.TPM), Concurrent: limitText(k.InFlight, k.MaxConcurrent)}
		v.Keys = append(v.Keys, kr)
		if len(k.Near) > 0 {
			v.Near = append(v.Near, kr)
		}
	}
	return v
}

// errorsText is "E (P%)" of the window's requests, "–" without any.
func errorsText(reqs, errs int64) string {
	if reqs <= 0 {
		return "–"
	}
	return strconv.FormatInt(errs, 10) + " (" + strconv.FormatInt((100*errs+reqs/2)/reqs, 10) + "%)"
}

func budgetText(k Key) string {
	if k.BudgetUSD <= 0 {
		return "none"
	}
	p := k.Period
	if p == "" {
		p = "month"
	}
	return usd(k.BudgetUSD) + " per " + p + " (" + strconv.FormatFloat(100*k.SpendUSD/k.BudgetUSD, 'f', 0, 64) + "% spent)"
}

func limitText(used, limit int) string {
	if limit <= 0 {
		return strconv.Itoa(used) + " (no limit)"
	}
	return strconv.Itoa(used) + " of " + strconv.Itoa(limit)
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

var page = template.Must(template.New("page").Funcs(template.FuncMap{"join": strings.Join}).Parse(`<!DOCTYPE html>
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
h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
p.meta { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; max-width: 96rem; }
th, td { text-align: left; padding: .45rem .7rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.health { white-space: normal; min-width: 16rem; }
th { font-weight: 600; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pill { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-weight: 600; font-size: .9em; }
.tier-ultra-fast { background: #ede4ff; color: #5b21b6; }
.tier-fast { background: #dcfce7; color: #166534; }
.tier-moderate { background: #fef3c7; color: #92400e; }
.tier-slow { background: #fee2e2; color: #991b1b; }
.tier-unknown { background: #e5e7eb; color: #374151; }
.health-healthy { color: #15803d; }
.health-cooling-down, .health-provider-down, .health-failing { color: #b91c1c; font-weight: 600; }
.health-trial { color: #c2410c; } .health-disabled, .health-unknown { color: var(--muted); }
.source, .figures, .id { color: var(--muted); }
ul.near li { color: #b45309; }
#error { color: #b91c1c; }
</style>
</head>
<body>
<h1>tiergate status</h1>
<p class="meta">Requests and errors over the {{.Window}}; spend at list prices{{if .SpendSince}} since {{.SpendSince}}{{end}}. Speed tiers: ultra-fast, fast, moderate, slow; source: prior (the catalog), bench (the tiers file), live (measured by the gateway).
<span id="updated" data-generated="{{.GeneratedAt}}">Rendered {{.GeneratedAt}}</span> <span id="error"></span></p>
<h2>Backends</h2>
<table id="backends">
<thead><tr><th>Backend</th><th>Provider</th><th>Openness</th><th>Deployment</th><th>Health</th><th>Requests</th><th>Errors</th><th>Tier</th><th>Source</th><th>TTFT</th><th>Tokens/s</th><th>Figures from</th><th>Last measured</th><th>Spend</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr data-model="{{.Model}}"><td class="model">{{.Model}}</td><td class="provider">{{.Provider}}</td><td class="openness">{{.Openness}}</td><td class="deployment">{{.Deployment}}</td><td class="health {{.HealthClass}}" data-state="{{.State}}"{{if .ProviderState}} data-provider-state="{{.ProviderState}}"{{end}}>{{.HealthText}}</td><td class="num requests">{{.Requests}}</td><td class="num errors">{{.ErrorsText}}</td><td class="tier"><span class="pill {{.TierClass}}">{{if .Tier}}{{.Tier}}{{else}}unknown{{end}}</span></td><td class="source">{{.TierSource}}</td><td class="num ttft">{{.TTFT}}</td><td class="num tps">{{.TPS}}</td><td class="figures">{{.Figures}}</td><td class="measured"{{if .MeasuredISO}} title="{{.MeasuredISO}}" data-at="{{.MeasuredISO}}"{{end}}>{{.Measured}}</td><td class="num spend">{{.Spend}}</td></tr>
{{- else}}
<tr class="empty"><td colspan="14">No backend is enabled.</td></tr>
{{- end}}
</tbody>
</table>
<div id="disabled">{{if .Disabled}}<p>Disabled providers:</p><ul>{{range .Disabled}}<li><b>{{.Name}}</b>: {{.Why}}</li>{{end}}</ul>{{end}}</div>
<h2>Keys near their limits</h2>
<ul id="near" class="near">
{{- range .Near}}
<li data-key="{{.Name}}"><b>{{.Name}}</b>: {{join .Near "; "}}</li>
{{- else}}
<li class="none">None.</li>
{{- end}}
</ul>
<h2>Gateway keys</h2>
<table id="keys">
<thead><tr><th>Key</th><th>Id</th><th>Requests</th><th>Tokens</th><th>Spend</th><th>Budget</th><th>Requests/min</th><th>Tokens/min</th><th>In flight</th></tr></thead>
<tbody>
{{- range .Keys}}
<tr data-key="{{.Name}}"><td class="name">{{.Name}}</td><td class="id">{{.ID}}</td><td class="num requests">{{.Requests}}</td><td class="num tokens">{{.Tokens}}</td><td class="num spend">{{.Spend}}</td><td class="budget">{{.Budget}}</td><td class="rpm">{{.RPMText}}</td><td class="tpm">{{.TPMText}}</td><td class="concurrent">{{.Concurrent}}</td></tr>
{{- else}}
<tr class="empty"><td colspan="9">No gateway key (the gateway is open).</td></tr>
{{- end}}
</tbody>
</table>
<script>{{.Script}}</script>
</body>
</html>
`))

// script refreshes the page from status.json. It builds cells with
// textContent only, so nothing a backend or key name holds is parsed as
// HTML. Health and nearness come in words from the JSON; the rest is
// formatted as the server formats it.
const script = `
(function () {
  "use strict";
  var tiers = {"ultra-fast": 1, "fast": 1, "moderate": 1, "slow": 1};
  var every = 5000;
  function ago(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 0) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function usd(v) { v = v || 0; return "$" + (v < 1 ? v.toFixed(4) : v.toFixed(2)); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(iso, now) {
    var d = new Date(iso), n = new Date(now);
    var t = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (d.getUTCFullYear() === n.getUTCFullYear() && d.getUTCMonth() === n.getUTCMonth() && d.getUTCDate() === n.getUTCDate())
      return t + ":" + pad(d.getUTCSeconds()) + " UTC";
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + t + " UTC";
  }
  function figures(b, now) {
    switch (b.figures_source) {
      case "live": return "live EWMA";
      case "bench": return Date.parse(b.measured_at) > 0 ? "bench at " + clock(b.measured_at, now) : "bench";
      case "prior": return "catalog prior";
    }
    return b.figures_source || "";
  }
  function errorsText(r, e) { return r > 0 ? e + " (" + Math.round(100 * e / r) + "%)" : "\u2013"; }
  function limitText(used, limit) { return limit > 0 ? used + " of " + limit : used + " (no limit)"; }
  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function empty(body, cols, text) {
    var tr = document.createElement("tr");
    tr.className = "empty";
    cell(tr, "", text).colSpan = cols;
    body.appendChild(tr);
  }
  function replace(id, body) {
    var table = document.getElementById(id);
    table.replaceChild(body, table.tBodies[0]);
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
      cell(tr, "openness", b.openness || "");
      cell(tr, "deployment", b.deployment || "");
      var h = cell(tr, "health health-" + (b.health || "unknown"), b.health_text || "");
      h.setAttribute("data-state", b.state || "");
      if (b.provider_state) h.setAttribute("data-provider-state", b.provider_state);
      cell(tr, "num requests", String(b.requests || 0));
      cell(tr, "num errors", errorsText(b.requests || 0, b.errors || 0));
      var td = cell(tr, "tier", "");
      var pill = document.createElement("span");
      pill.className = "pill " + (tiers[b.tier] ? "tier-" + b.tier : "tier-unknown");
      pill.textContent = b.tier || "unknown";
      td.appendChild(pill);
      cell(tr, "source", b.tier_source || "");
      cell(tr, "num ttft", b.ttft_ms > 0 ? Math.round(b.ttft_ms) + " ms" : "\u2013");
      cell(tr, "num tps", b.tokens_per_second > 0 ? b.tokens_per_second.toFixed(1) : "\u2013");
      cell(tr, "figures", figures(b, now));
      var at = Date.parse(b.measured_at);
      var m = cell(tr, "measured", at > 0 ? ago(now - at) : "never");
      if (at > 0) { m.title = b.measured_at; m.setAttribute("data-at", b.measured_at); }
      cell(tr, "num spend", usd(b.spend_usd));
      body.appendChild(tr);
    });
    if (!body.firstChild) empty(body, 14, "No backend is enabled.");
    replace("backends", body);

    var dis = document.getElementById("disabled");
    while (dis.firstChild) dis.removeChild(dis.firstChild);
    if ((st.disabled_providers || []).length) {
      var p = document.createElement("p");
      p.textContent = "Disabled providers:";
      dis.appendChild(p);
      var dl = document.createElement("ul");
      st.disabled_providers.forEach(function (d) {
        var li = document.createElement("li");
        var b = document.createElement("b");
        b.textContent = d.name;
        li.appendChild(b);
        li.appendChild(document.createTextNode(": " + d.why));
        dl.appendChild(li);
      });
      dis.appendChild(dl);
    }

    var near = document.createElement("ul");
    near.id = "near";
    near.className = "near";
    var kb = document.createElement("tbody");
    (st.keys || []).forEach(function (k) {
      if ((k.near || []).length) {
        var li = document.createElement("li");
        li.setAttribute("data-key", k.name);
        var b = document.createElement("b");
        b.textContent = k.name;
        li.appendChild(b);
        li.appendChild(document.createTextNode(": " + k.near.join("; ")));
        near.appendChild(li);
      }
      var tr = document.createElement("tr");
      tr.setAttribute("data-key", k.name);
      cell(tr, "name", k.name);
      cell(tr, "id", k.id);
      cell(tr, "num requests", String(k.requests || 0));
      cell(tr, "num tokens", String((k.tokens_in || 0) + (k.tokens_out || 0)));
      cell(tr, "num spend", usd(k.spend_usd));
      cell(tr, "budget", k.budget_usd > 0 ? usd(k.budget_usd) + " per " + (k.period || "month") + " (" + Math.round(100 * k.spend_usd / k.budget_usd) + "% spent)" : "none");
      cell(tr, "rpm", limitText(k.rpm_used || 0, k.rpm || 0));
      cell(tr, "tpm", limitText(k.tpm_used || 0, k.tpm || 0));
      cell(tr, "concurrent", limitText(k.in_flight || 0, k.max_concurrent || 0));
      kb.appendChild(tr);
    });
    if (!near.firstChild) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "None.";
      near.appendChild(none);
    }
    var old = document.getElementById("near");
    old.parentNode.replaceChild(near, old);
    if (!kb.firstChild) empty(kb, 9, "No gateway key (the gateway is open).");
    replace("keys", kb);

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
