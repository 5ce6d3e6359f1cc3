// Package metrics holds tiergate's Prometheus collectors: the OpenTelemetry
// GenAI client metrics (as Prometheus names them) and tiergate's own
// (speed tiers, in-flight requests, route decisions, fallbacks, circuit
// breakers, cost, the gateway's overhead).
//
// Every collector is registered on the prometheus.Registerer given to New;
// nothing is registered globally. Label values come from closed sets so
// that cardinality stays bounded whatever clients send: a model label only
// takes a catalog id (anything else becomes "other"), a provider label only
// a provider named in the catalog, and no label ever carries a user, a key
// or any part of a prompt.
//
// The per-backend gauges (tier, speed, breaker state, requests in flight)
// are read from a StatusSource when Prometheus scrapes, not pushed on each
// change: whoever owns the live state (the router) offers it as
// []Backend, and the collector turns it into series. The provider-wide
// breaker gauge is read the same way from a ProviderSource.
//
// It imports catalog, providers (for Usage and Error) and tiers only; it
// must not import the gateway, the router or an adapter.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

// Metric names. The gen_ai_* ones are the OpenTelemetry GenAI semantic
// conventions' client metrics translated to Prometheus (dots become
// underscores, the unit "s" becomes a "_seconds" suffix, "{token}" adds
// nothing).
const (
	NameOperationDuration = "gen_ai_client_operation_duration_seconds"
	NameTokenUsage        = "gen_ai_client_token_usage"
	NameTimeToFirstChunk  = "gen_ai_client_operation_time_to_first_chunk_seconds"
	NameTimePerChunk      = "gen_ai_client_operation_time_per_output_chunk_seconds"

	NameRequests         = "tiergate_requests_total"
	NameRequestErrors    = "tiergate_request_errors_total"
	NameCost             = "tiergate_cost_usd_total"
	NameOverhead         = "tiergate_gateway_overhead_seconds"
	NameOutputTPS        = "tiergate_output_tokens_per_second"
	NameInFlight         = "tiergate_inflight_requests"
	NameRouteDecisions   = "tiergate_route_decisions_total"
	NameFallbacks        = "tiergate_fallbacks_total"
	NameBreakerState     = "tiergate_breaker_state"
	NameProviderBreaker  = "tiergate_provider_breaker_state"
	NameBackendTier      = "tiergate_backend_tier"
	NameBackendTierRank  = "tiergate_backend_tier_rank"
	NameBackendTTFT      = "tiergate_backend_ttft_seconds"
	NameBackendTPS       = "tiergate_backend_output_tokens_per_second"
	NameBackendMeasured  = "tiergate_backend_measured_timestamp_seconds"
	NameTiersFileTime    = "tiergate_tiers_file_generated_timestamp_seconds"
	NameTiersFileEntries = "tiergate_tiers_file_entries"
)

// Label names of the GenAI metrics, as the conventions name the attributes.
const (
	LabelOperation = "gen_ai_operation_name"
	LabelProvider  = "gen_ai_provider_name"
	LabelModel     = "gen_ai_request_model"
	LabelTokenType = "gen_ai_token_type"
	LabelErrorType = "error_type"
)

// Other is the label value that stands for anything outside a closed set.
const Other = "other"

// OtherError is the error_type for an error outside the closed set, the
// fallback value the OpenTelemetry conventions define for error.type.
const OtherError = "_OTHER"

// Bucket boundaries. The GenAI ones are the conventions' explicit bucket
// boundaries; the duration ones are extended upward (to ~11 minutes) for
// slow reasoning models.
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36}
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	overheadBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	// tpsBuckets include the default tier rules' bounds (15, 50, 250).
	tpsBuckets = []float64{1, 2.5, 5, 10, 15, 25, 35, 50, 75, 100, 150, 250, 400, 600, 1000, 1500, 2500}
)

// DurationBuckets returns the bucket boundaries (seconds) of the GenAI
// duration, time-to-first-chunk and time-per-output-chunk histograms.
func DurationBuckets() []float64 { return append([]float64(nil), durationBuckets...) }

// TokenBuckets returns the bucket boundaries of gen_ai_client_token_usage.
func TokenBuckets() []float64 { return append([]float64(nil), tokenBuckets...) }

// OverheadBuckets returns the bucket boundaries (seconds) of the gateway
// overhead histogram.
func OverheadBuckets() []float64 { return append([]float64(nil), overheadBuckets...) }

// Closed label value sets.
var (
	operations  = []string{"chat", "embeddings", "transcriptions", "translations", "speech"}
	errorTypes  = []string{"timeout", "rate_limit", "upstream_error", "invalid_request", "auth", "not_found", "unavailable", "canceled", "breaker_open", "stream_broken"}
	routeReason = []string{"pinned", "policy", "fallback-only", "no-candidate"}
	breakerVals = map[string]float64{"closed": 0, "open": 1, "half-open": 2}
	tierSources = []string{"prior", "bench", "live"}
)

// Request is one finished operation as the gateway saw it.
type Request struct {
	// Operation is "chat", "embeddings", "transcriptions",
	// "translations" or "speech".
	Operation string
	// Provider is the configured provider name that served (or failed) it.
	Provider string
	// Model is the catalog id; anything else is reported as "other".
	Model string
	// Duration is the whole operation as the client saw it.
	Duration time.Duration
	// TTFT is the time to the first content chunk; 0 for unary calls or
	// when no chunk arrived.
	TTFT time.Duration
	// Chunks counts the content chunks of a stream.
	Chunks int
	// Usage is the token usage, nil when unknown.
	Usage *providers.Usage
	// ErrorType is "" on success, else what ErrorType returns.
	ErrorType string
	// Overhead is the gateway's own time: Duration minus the time spent
	// waiting on the upstream.
	Overhead time.Duration
}

// Options tune New.
type Options struct {
	// Profiles is the closed set of routing profile names (the configured
	// profiles); RouteDecision reports any other profile as "other".
	Profiles []string
	// Status, when set, is read at every scrape for the per-backend
	// gauges (tier, speed, breaker, in flight). Nil: those families are
	// empty.
	Status StatusSource
	// Providers, when set, is read at every scrape for the per-provider
	// breaker gauge (providers.go). Nil: that family is empty.
	Providers ProviderSource
	// KeyKnown says whether a gateway key's name is a configured key's:
	// ObserveKey labels others "other" (nil: every key is "other").
	KeyKnown func(name string) bool
}

// Backend is one backend's live state, as a StatusSource reports it.
type Backend struct {
	Model    string // catalog id
	Provider string
	// Tier and where it came from ("prior", "bench" or "live"); TTFT,
	// TokensPerSecond and MeasuredAt are the figures that decided it
	// (zero: unknown, the series is left out).
	Tier            catalog.Tier
	TierSource      string
	TTFT            time.Duration
	TokensPerSecond float64
	MeasuredAt      time.Time
	// Breaker is "closed", "open" or "half-open" (see BreakerStates).
	Breaker  string
	InFlight int64
}

// StatusSource returns every backend's current state. It is called from
// the scraping goroutine and must be safe for concurrent use.
type StatusSource func() []Backend

// Metrics holds tiergate's collectors. Its methods are safe for concurrent
// use; a nil *Metrics ignores every call.
type Metrics struct {
	labels atomic.Pointer[labelSet]

	profiles map[string]bool

	opDuration *prometheus.HistogramVec
	tokenUsage *prometheus.HistogramVec
	ttfc       *prometheus.HistogramVec
	tpoc       *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	cost       *prometheus.CounterVec
	overhead   *prometheus.HistogramVec
	outTPS     *prometheus.HistogramVec
	routes     *prometheus.CounterVec
	fallbacks  *prometheus.CounterVec
	fileTime   prometheus.Gauge
	fileCount  prometheus.Gauge
	keys       *keyMetrics
}

// New builds the collectors and registers them on reg (nil registers
// nothing). cat gives the model ids and providers allowed as label values
// and the prices cost is computed from. It panics if reg already holds a
// collector of the same name, like prometheus.MustRegister.
func New(reg prometheus.Registerer, cat *catalog.Catalog) *Metrics {
	return NewWithOptions(reg, cat, Options{})
}

// labelSet is the catalog's model ids and providers, the closed sets of
// the model and provider labels.
type labelSet struct {
	models    map[string]*catalog.Model
	providers map[string]bool
}

// SetCatalog replaces the catalog the model and provider labels and the
// prices come from (the backends changed at run time: a local provider
// came up, a model was pulled). Series already reported stay.
func (m *Metrics) SetCatalog(cat *catalog.Catalog) {
	if m == nil {
		return
	}
	ls := &labelSet{models: map[string]*catalog.Model{}, providers: map[string]bool{}}
	if cat != nil {
		for _, mod := range cat.All() {
			ls.models[mod.ID] = mod
			ls.providers[mod.Provider] = true
		}
	}
	m.labels.Store(ls)
}

// NewWithOptions is New with options.
func NewWithOptions(reg prometheus.Registerer, cat *catalog.Catalog, o Options) *Metrics {
	m := &Metrics{profiles: map[string]bool{}, keys: newKeyMetrics(o.KeyKnown)}
	m.SetCatalog(cat)
	for _, p := range o.Profiles {
		if p != "" && p != Other && p != "none" {
			m.profiles[p] = true
		}
	}
	genai := []string{LabelOperation, LabelProvider, LabelModel}
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameOperationDuration,
		Help:    "GenAI operation duration (OpenTelemetry gen_ai.client.operation.duration), as the client saw it.",
		Buckets: durationBuckets}, append(genai[:3:3], LabelErrorType))
	m.tokenUsage = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameTokenUsage,
		Help:    "Number of input and output tokens used per operation (OpenTelemetry gen_ai.client.token.usage).",
		Buckets: tokenBuckets}, append(genai[:3:3], LabelTokenType))
	m.ttfc = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameTimeToFirstChunk,
		Help:    "Time from the request to the first content chunk of a stream (OpenTelemetry gen_ai.client.operation.time_to_first_chunk).",
		Buckets: durationBuckets}, genai)
	m.tpoc = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameTimePerChunk,
		Help:    "Mean time per output chunk after the first of a successful stream, one observation per stream (OpenTelemetry gen_ai.client.operation.time_per_output_chunk).",
		Buckets: durationBuckets}, genai)
	be := []string{"model", "provider"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRequests,
		Help: "Operations finished, by operation and backend."}, []string{"operation", "model", "provider"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRequestErrors,
		Help: "Operations that ended in an error, by operation, backend and error type."}, []string{"operation", "model", "provider", LabelErrorType})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameCost,
		Help: "Cost in USD from the catalog's list prices: input tokens * price.input / 1e6 + output tokens * price.output / 1e6."}, be)
	m.overhead = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameOverhead,
		Help:    "The gateway's own time per operation: total time minus the time spent waiting on the upstream.",
		Buckets: overheadBuckets}, []string{"operation", "provider"})
	m.outTPS = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameOutputTPS,
		Help:    "Output tokens per second of each successful stream after its first chunk: (output tokens - 1) / (duration - TTFT).",
		Buckets: tpsBuckets}, be)
	m.routes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRouteDecisions,
		Help: "Routing decisions, by profile and reason."}, []string{"profile", "reason"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameFallbacks,
		Help: "Fallbacks from one backend to the next, by cause."}, []string{"from_model", "to_model", "cause"})
	m.fileTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: NameTiersFileTime,
		Help: "When the loaded tiers file was generated (Unix seconds)."})
	m.fileCount = prometheus.NewGauge(prometheus.GaugeOpts{Name: NameTiersFileEntries,
		Help: "Entries of the loaded tiers file that name a catalog model."})
	if reg != nil {
		reg.MustRegister(m.opDuration, m.tokenUsage, m.ttfc, m.tpoc, m.requests, m.errors, m.cost,
			m.overhead, m.outTPS, m.routes, m.fallbacks, m.fileTime, m.fileCount,
			newBackendCollector(m, o.Status), newProviderCollector(m, o.Providers))
		reg.MustRegister(m.keys.collectors()...)
	}
	return m
}

// model returns the label value for a model id: the id when it is in the
// catalog, else "other".
func (m *Metrics) model(id string) string {
	if _, ok := m.labels.Load().models[id]; ok {
		return id
	}
	return Other
}

// provider returns the label value for a provider name; when name is
// empty the catalog model's provider is used.
func (m *Metrics) provider(name, model string) string {
	if name == "" {
		if mod, ok := m.labels.Load().models[model]; ok {
			return mod.Provider
		}
	}
	if m.labels.Load().providers[name] {
		return name
	}
	return Other
}

func oneOf(v string, set []string, other string) string {
	for _, s := range set {
		if s == v {
			return v
		}
	}
	return other
}

// ObserveRequest records one finished operation: the GenAI histograms,
// token usage, cost, the overhead histogram and the request and error
// counters.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	op := oneOf(r.Operation, operations, Other)
	model := m.model(r.Model)
	prov := m.provider(r.Provider, r.Model)
	et := ""
	if r.ErrorType != "" {
		et = oneOf(r.ErrorType, errorTypes, OtherError)
	}
	m.opDuration.WithLabelValues(op, prov, model, et).Observe(r.Duration.Seconds())
	m.requests.WithLabelValues(op, model, prov).Inc()
	if et != "" {
		m.errors.WithLabelValues(op, model, prov, et).Inc()
	}
	m.overhead.WithLabelValues(op, prov).Observe(max(r.Overhead, 0).Seconds())
	if r.TTFT > 0 {
		m.ttfc.WithLabelValues(op, prov, model).Observe(r.TTFT.Seconds())
	}
	gen := r.Duration - r.TTFT
	if et == "" && r.TTFT > 0 && gen > 0 {
		if r.Chunks >= 2 {
			m.tpoc.WithLabelValues(op, prov, model).Observe(gen.Seconds() / float64(r.Chunks-1))
		}
		if r.Usage != nil && r.Usage.CompletionTokens >= 2 {
			m.outTPS.WithLabelValues(model, prov).Observe(float64(r.Usage.CompletionTokens-1) / gen.Seconds())
		}
	}
	if u := r.Usage; u != nil {
		in, out := max(u.PromptTokens, 0), max(u.CompletionTokens, 0)
		m.tokenUsage.WithLabelValues(op, prov, model, "input").Observe(float64(in))
		if op != "embeddings" || out > 0 {
			m.tokenUsage.WithLabelValues(op, prov, model, "output").Observe(float64(out))
		}
		if mod, ok := m.labels.Load().models[model]; ok {
			if c := UsageCost(mod.Price, *u); c > 0 {
				m.cost.WithLabelValues(model, prov).Add(c)
			}
		}
	}
}

// UsageCost is the list-price cost in USD of what u reports: its tokens,
// its audio's seconds and its characters of speech.
func UsageCost(p catalog.Price, u providers.Usage) float64 {
	return Cost(p, max(u.PromptTokens, 0), max(u.CompletionTokens, 0)) + p.AudioCost(u.AudioSeconds, u.Characters)
}

// Cost is the list-price cost in USD of in input and out output tokens.
func Cost(p catalog.Price, in, out int) float64 {
	return float64(in)*p.Input/1e6 + float64(out)*p.Output/1e6
}

// profile returns the label value for a routing profile: "none" for "",
// the name when it is one of Options.Profiles, else "other".
func (m *Metrics) profile(p string) string {
	switch {
	case p == "":
		return "none"
	case m.profiles[p]:
		return p
	}
	return Other
}

// RouteDecision counts one routing decision. reason is one of
// "pinned", "policy", "fallback-only" or "no-candidate", optionally
// followed by ":" and details, which are
// dropped ("pinned: gpt-4o" counts as "pinned"); anything else counts as
// "other".
func (m *Metrics) RouteDecision(profile, reason string) {
	if m == nil {
		return
	}
	if i := strings.IndexByte(reason, ':'); i >= 0 {
		reason = reason[:i]
	}
	reason = oneOf(strings.TrimSpace(reason), routeReason, Other)
	m.routes.WithLabelValues(m.profile(profile), reason).Inc()
}

// Fallback counts a move from one backend to the next. cause is an error
// type (see ErrorType; anything else counts as "_OTHER").
func (m *Metrics) Fallback(fromModel, toModel, cause string) {
	if m == nil {
		return
	}
	m.fallbacks.WithLabelValues(m.model(fromModel), m.model(toModel), oneOf(cause, errorTypes, OtherError)).Inc()
}

// SetTiersFile publishes when the loaded tiers file was generated and how
// many of its entries name a catalog model. Call it after each (re)load;
// the tiers themselves reach the backend gauges through the StatusSource.
func (m *Metrics) SetTiersFile(f *tiers.File) {
	if m == nil || f == nil {
		return
	}
	n := 0
	for _, e := range f.Tiers {
		if _, ok := m.labels.Load().models[e.Model]; ok {
			n++
		}
	}
	m.fileCount.Set(float64(n))
	if !f.GeneratedAt.IsZero() {
		m.fileTime.Set(float64(f.GeneratedAt.UnixNano()) / 1e9)
	}
}

// Handler serves g's metrics in the Prometheus text format (mount it at
// /metrics).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// ErrorType classifies err into one of timeout, rate_limit,
// upstream_error, invalid_request, auth, not_found, unavailable, canceled,
// breaker_open, stream_broken (OtherError when none
// fits, "" for nil): context cancellation is "canceled", deadlines and
// upstream 504s "timeout", and a *providers.Error by its OpenAI type.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return OtherError
	}
	if pe.Status == http.StatusGatewayTimeout || pe.Status == http.StatusRequestTimeout {
		return "timeout"
	}
	switch pe.Type {
	case providers.TypeRateLimit:
		return "rate_limit"
	case providers.TypeAuthentication, providers.TypePermission:
		return "auth"
	case providers.TypeNotFound:
		return "not_found"
	case providers.TypeInvalidRequest:
		if pe.Status == http.StatusNotFound {
			return "not_found"
		}
		return "invalid_request"
	case providers.TypeUnavailable:
		return "unavailable"
	case providers.TypeUpstream, providers.TypeServer:
		return "upstream_error"
	}
	return OtherError
}
