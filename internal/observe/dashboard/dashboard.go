// Package dashboard generates tiergate's Grafana dashboard as code with the
// Grafana Foundation SDK, and lists the PromQL of its panels so tests can
// prove every panel against a real Prometheus.
//
// The committed deploy/grafana/dashboards/tiergate.json is JSON() of this
// package: regenerate it with `go generate ./internal/observe/dashboard` (or
// `go test ./internal/observe/dashboard -run TestCommittedDashboard -update`).
//
// Metric names come from internal/metrics; the recorded series (Rec*)
// are defined in deploy/prometheus/rules/tiergate.rules.yml, which a test
// checks. It must not import the gateway, the router or an adapter.
package dashboard

//go:generate go run ../../../cmd/dashboard ../../../deploy/grafana/dashboards/tiergate.json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/tiergate/tiergate/internal/observe/metrics"
)

// UID is the dashboard's stable uid (its URL is /d/tiergate).
const UID = "tiergate"

// Recorded series (deploy/prometheus/rules/tiergate.rules.yml) the
// dashboard reads for its heavier queries.
const (
	RecTTFTP50         = "backend:gen_ai_client_operation_time_to_first_chunk_seconds:p50_5m"
	RecTTFTP95         = "backend:gen_ai_client_operation_time_to_first_chunk_seconds:p95_5m"
	RecDurationP95     = "backend:gen_ai_client_operation_duration_seconds:p95_5m"
	RecTPSP50          = "backend:tiergate_output_tokens_per_second:p50_5m"
	RecRequestRate     = "backend:tiergate_requests:rate5m"
	RecErrorRatio      = "backend:tiergate_request_errors:ratio_rate5m"
	RecOverheadP50     = "operation:tiergate_gateway_overhead_seconds:p50_5m"
	RecOverheadP99     = "operation:tiergate_gateway_overhead_seconds:p99_5m"
	backendSel         = `model=~"$backend"`
	genaiBackendSel    = `gen_ai_request_model=~"$backend"`
	datasourceVariable = "datasource"
	backendVariable    = "backend"
)

func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + datasourceVariable + "}")}
}

// query is a time-series query.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(ds()).Expr(expr).LegendFormat(legend).Range()
}

// tableQuery is an instant query in table format.
func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(ds()).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

func valueMap(opts map[string][2]string) dashboard.ValueMapping {
	m := dashboard.NewValueMap()
	i := int32(0)
	for _, k := range sortedKeys(opts) {
		v := opts[k]
		m.Options[k] = dashboard.ValueMappingResult{Text: cog.ToPtr(v[0]), Color: cog.ToPtr(v[1]), Index: cog.ToPtr(i)}
		i++
	}
	return dashboard.ValueMapping{ValueMap: m}
}

func sortedKeys(m map[string][2]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tierRankMapping maps the tier rank gauge to tier names and colours.
func tierRankMapping() dashboard.ValueMapping {
	return valueMap(map[string][2]string{
		"0": {"ultra-fast", "purple"}, "1": {"fast", "green"}, "2": {"moderate", "yellow"}, "3": {"slow", "red"},
	})
}

func tierNameMapping() dashboard.ValueMapping {
	return valueMap(map[string][2]string{
		"ultra-fast": {"ultra-fast", "purple"}, "fast": {"fast", "green"}, "moderate": {"moderate", "yellow"}, "slow": {"slow", "red"},
	})
}

func breakerMapping() dashboard.ValueMapping {
	return valueMap(map[string][2]string{"0": {"closed", "green"}, "1": {"open", "red"}, "2": {"half-open", "orange"}})
}

func thresholds(steps ...any) *dashboard.ThresholdsConfigBuilder {
	var ts []dashboard.Threshold
	for i := 0; i+1 < len(steps); i += 2 {
		var v *float64
		if f, ok := steps[i].(float64); ok {
			v = cog.ToPtr(f)
		}
		ts = append(ts, dashboard.Threshold{Value: v, Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func prop(id string, v any) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: id, Value: v}
}

// Builder returns the dashboard builder.
func Builder() *dashboard.DashboardBuilder {
	id := uint32(0)
	next := func() uint32 { id++; return id }
	// series starts a time-series panel in the shape they all share: the
	// next id, the title, the description (none when ""), the data source,
	// 8 rows high, span columns wide, in unit, from 0.
	series := func(title, desc string, span uint32, unit string) *timeseries.PanelBuilder {
		p := timeseries.NewPanelBuilder().Id(next()).Title(title)
		if desc != "" {
			p = p.Description(desc)
		}
		return p.Datasource(ds()).Height(8).Span(span).Unit(unit).Min(0)
	}

	b := dashboard.NewDashboardBuilder("tiergate").
		Uid(UID).
		Description("tiergate: each backend's speed tier, TTFT and tokens/s, traffic and errors, fallbacks and circuit breakers, tokens and cost, spend and limits per gateway key, and the gateway's own overhead.").
		Tags([]string{"tiergate", "llm", "gen_ai"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		WithVariable(dashboard.NewDatasourceVariableBuilder(datasourceVariable).
			Label("Prometheus").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder(backendVariable).
			Label("Backend (model)").
			Description("Catalog ids of the backends with a known tier").
			Datasource(ds()).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(" + metrics.NameBackendTier + ", model)")}).
			Definition("label_values(" + metrics.NameBackendTier + ", model)").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Current(dashboard.VariableOption{Selected: cog.ToPtr(true),
				Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
				Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}}))

	// ---- Tiers ----
	b = b.WithRow(dashboard.NewRowBuilder("Speed tiers").Id(next())).
		WithPanel(table.NewPanelBuilder().Id(next()).
			Title("Tier per backend").
			Description("Each backend's speed tier, where it came from (prior: the catalog; bench: the tiers file; live: measured by the gateway), the figures that decided it, when they were measured, and its circuit breaker.").
			Datasource(ds()).
			Height(8).Span(24).
			WithTarget(tableQuery("A", metrics.NameBackendTier+"{"+backendSel+"}")).
			WithTarget(tableQuery("B", metrics.NameBackendTTFT+"{"+backendSel+"}")).
			WithTarget(tableQuery("C", metrics.NameBackendTPS+"{"+backendSel+"}")).
			WithTarget(tableQuery("D", metrics.NameBackendMeasured+"{"+backendSel+"} * 1000")).
			WithTarget(tableQuery("E", metrics.NameBreakerState+"{"+backendSel+"}")).
			WithTarget(tableQuery("F", metrics.NameInFlight+"{"+backendSel+"}")).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value #A": true, "__name__": true, "instance": true, "job": true},
				"indexByName":   map[string]any{"model": 0, "provider": 1, "tier": 2, "source": 3, "Value #B": 4, "Value #C": 5, "Value #D": 6, "Value #E": 7, "Value #F": 8},
				"renameByName": map[string]any{"model": "Backend", "provider": "Provider", "tier": "Tier", "source": "Source",
					"Value #B": "TTFT", "Value #C": "Tokens/s", "Value #D": "Measured", "Value #E": "Breaker", "Value #F": "In flight"},
			}}).
			OverrideByName("Tier", []dashboard.DynamicConfigValue{
				prop("mappings", []dashboard.ValueMapping{tierNameMapping()}),
				prop("custom.cellOptions", map[string]any{"type": "color-background"}),
			}).
			OverrideByName("TTFT", []dashboard.DynamicConfigValue{prop("unit", "s"), prop("decimals", 3)}).
			OverrideByName("Tokens/s", []dashboard.DynamicConfigValue{prop("unit", "none"), prop("decimals", 1)}).
			OverrideByName("Measured", []dashboard.DynamicConfigValue{prop("unit", "dateTimeFromNow")}).
			OverrideByName("Breaker", []dashboard.DynamicConfigValue{
				prop("mappings", []dashboard.ValueMapping{breakerMapping()}),
				prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			}).
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Backend")}).
			// The SDK's default footer has a null reducer, which its own
			// strict decoder rejects.
			Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false))).
		WithPanel(statetimeline.NewPanelBuilder().Id(next()).
			Title("Tier over time").
			Description("Each backend's tier as it changed (live measurements and tiers-file reloads).").
			Datasource(ds()).
			Height(7).Span(24).
			WithTarget(query("A", metrics.NameBackendTierRank+"{"+backendSel+"}", "{{model}}")).
			Mappings([]dashboard.ValueMapping{tierRankMapping()}).
			Thresholds(thresholds(nil, "purple", 1.0, "green", 2.0, "yellow", 3.0, "red")).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			ShowValue(common.VisibilityModeAuto).
			MergeValues(true))

	// ---- Latency and speed ----
	b = b.WithRow(dashboard.NewRowBuilder("Latency and speed").Id(next())).
		WithPanel(series("Time to first chunk p50 / p95", "Live TTFT of streamed chat completions (gen_ai.client.operation.time_to_first_chunk), over 5 minutes.", 12, "s").
			WithTarget(query("A", RecTTFTP50+"{"+genaiBackendSel+"}", "{{gen_ai_request_model}} p50")).
			WithTarget(query("B", RecTTFTP95+"{"+genaiBackendSel+"}", "{{gen_ai_request_model}} p95")).
			WithTarget(query("C", metrics.NameBackendTTFT+"{"+backendSel+"}", "{{model}} tier figure"))).
		WithPanel(series("Output tokens/s", "Live median output tokens per second of streams after their first chunk, and the figure that decided the tier.", 12, "none").
			WithTarget(query("A", RecTPSP50+"{"+backendSel+"}", "{{model}} live p50")).
			WithTarget(query("B", metrics.NameBackendTPS+"{"+backendSel+"}", "{{model}} tier figure"))).
		WithPanel(series("Operation duration p95", "Whole request as the client saw it (gen_ai.client.operation.duration).", 12, "s").
			WithTarget(query("A", RecDurationP95+"{"+genaiBackendSel+"}", "{{gen_ai_request_model}}"))).
		WithPanel(series("Time per output chunk p50", "Mean gap between chunks after the first (gen_ai.client.operation.time_per_output_chunk).", 12, "s").
			WithTarget(query("A", `histogram_quantile(0.5, sum by (le, gen_ai_request_model) (rate(`+metrics.NameTimePerChunk+`_bucket{`+genaiBackendSel+`}[$__rate_interval])))`, "{{gen_ai_request_model}}")))

	// ---- Traffic ----
	b = b.WithRow(dashboard.NewRowBuilder("Traffic and errors").Id(next())).
		WithPanel(series("Request rate", "", 8, "reqps").
			WithTarget(query("A", `sum by (model) (rate(`+metrics.NameRequests+`{`+backendSel+`}[$__rate_interval]))`, "{{model}}"))).
		WithPanel(series("Error ratio", "Errors over requests in 5 minutes, leaving out client cancellations and invalid requests.", 8, "percentunit").Max(1).
			WithTarget(query("A", RecErrorRatio+"{"+backendSel+"}", "{{model}}"))).
		WithPanel(series("Errors by type", "", 8, "reqps").
			WithTarget(query("A", `sum by (error_type) (rate(`+metrics.NameRequestErrors+`{`+backendSel+`}[$__rate_interval]))`, "{{error_type}}"))).
		WithPanel(series("In flight", "", 12, "none").
			WithTarget(query("A", `sum by (model) (`+metrics.NameInFlight+`{`+backendSel+`})`, "{{model}}"))).
		WithPanel(series("Route decisions", "Routing decisions by profile and reason.", 12, "reqps").
			WithTarget(query("A", `sum by (profile, reason) (rate(`+metrics.NameRouteDecisions+`[$__rate_interval]))`, "{{profile}} {{reason}}")))

	// ---- Resilience ----
	b = b.WithRow(dashboard.NewRowBuilder("Fallbacks and circuit breakers").Id(next())).
		WithPanel(series("Fallbacks", "Moves from one backend to the next, by cause.", 12, "reqps").
			WithTarget(query("A", `sum by (from_model, to_model, cause) (rate(`+metrics.NameFallbacks+`{from_model=~"$backend"}[$__rate_interval]))`, "{{from_model}} → {{to_model}} ({{cause}})"))).
		WithPanel(statetimeline.NewPanelBuilder().Id(next()).
			Title("Circuit breaker").
			Datasource(ds()).
			Height(8).Span(12).
			WithTarget(query("A", metrics.NameBreakerState+"{"+backendSel+"}", "{{model}}")).
			Mappings([]dashboard.ValueMapping{breakerMapping()}).
			Thresholds(thresholds(nil, "green", 1.0, "red", 2.0, "orange")).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			MergeValues(true))

	// ---- Tokens and cost ----
	b = b.WithRow(dashboard.NewRowBuilder("Tokens and cost").Id(next())).
		WithPanel(series("Tokens/s by type", "Input and output tokens per second (gen_ai.client.token.usage).", 10, "none").
			WithTarget(query("A", `sum by (gen_ai_request_model, gen_ai_token_type) (rate(`+metrics.NameTokenUsage+`_sum{`+genaiBackendSel+`}[$__rate_interval]))`, "{{gen_ai_request_model}} {{gen_ai_token_type}}"))).
		WithPanel(series("Cost rate", "USD per hour from the catalog's list prices.", 10, "currencyUSD").
			WithTarget(query("A", `sum by (model) (rate(`+metrics.NameCost+`{`+backendSel+`}[$__rate_interval])) * 3600`, "{{model}}"))).
		WithPanel(stat.NewPanelBuilder().Id(next()).
			Title("Cost in range").
			Datasource(ds()).
			Height(8).Span(4).Unit("currencyUSD").Decimals(4).
			WithTarget(prometheus.NewDataqueryBuilder().RefId("A").Datasource(ds()).
				Expr(`sum(increase(` + metrics.NameCost + `{` + backendSel + `}[$__range]))`).Instant()))

	// ---- Spend and limits ----
	// totals is a bar gauge of one instant query over the dashboard's
	// range, a bar per legend.
	totals := func(title, desc, expr, legend, unit string) *bargauge.PanelBuilder {
		return bargauge.NewPanelBuilder().Id(next()).Title(title).Description(desc).
			Datasource(ds()).Height(8).Span(6).Unit(unit).Min(0).
			WithTarget(prometheus.NewDataqueryBuilder().RefId("A").Datasource(ds()).Expr(expr).LegendFormat(legend).Instant()).
			Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeBasic)
	}
	b = b.WithRow(dashboard.NewRowBuilder("Spend and limits").Id(next())).
		WithPanel(series("Spend rate per key", "USD per hour of each gateway key at the catalog's list prices (the spend ledger's figure; keys not in the config count as other).", 12, "currencyUSD").
			WithTarget(query("A", `sum by (key) (rate(`+metrics.NameKeyCost+`[$__rate_interval])) * 3600`, "{{key}}"))).
		WithPanel(series("Requests refused by limit", "429s the gateway answered for a key over one of its limits (rpm, tpm, max_concurrent, budget), per key and limit.", 12, "reqps").
			WithTarget(query("A", `sum by (key, limit) (rate(`+metrics.NameKeyRefused+`[$__rate_interval]))`, "{{key}} {{limit}}"))).
		WithPanel(totals("Spend per key in range", "Each gateway key's spend over the dashboard's time range.",
			`sum by (key) (increase(`+metrics.NameKeyCost+`[$__range]))`, "{{key}}", "currencyUSD").Decimals(4)).
		WithPanel(totals("Spend per backend in range", "Each backend's spend over the dashboard's time range, from the usage it reported (the Cost rate panel is its rate).",
			`sum by (model) (increase(`+metrics.NameCost+`{`+backendSel+`}[$__range]))`, "{{model}}", "currencyUSD").Decimals(4)).
		WithPanel(totals("Tokens per key in range", "Input and output tokens of each gateway key's requests over the dashboard's time range.",
			`sum by (key, gen_ai_token_type) (increase(`+metrics.NameKeyTokens+`[$__range]))`, "{{key}} {{gen_ai_token_type}}", "none").Decimals(0)).
		WithPanel(totals("Budget used", "Fraction of each gateway key's budget spent this period (settled and reserved), now; 100% or more: its requests get 429 insufficient_quota.",
			`max by (key) (`+metrics.NameKeyBudget+`)`, "{{key}}", "percentunit").Max(1).
			Thresholds(thresholds(nil, "green", 0.8, "orange", 1.0, "red")).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds))).
		WithPanel(series("Tokens per key", "Tokens per second of each gateway key's requests, input and output.", 24, "none").
			WithTarget(query("A", `sum by (key, gen_ai_token_type) (rate(`+metrics.NameKeyTokens+`[$__rate_interval]))`, "{{key}} {{gen_ai_token_type}}")))

	// ---- Overhead ----
	b = b.WithRow(dashboard.NewRowBuilder("Gateway overhead").Id(next())).
		WithPanel(series("Gateway overhead p50 / p99", "The gateway's own time per request: total time minus the time spent waiting on the upstream.", 12, "s").
			WithTarget(query("A", RecOverheadP50, "{{operation}} p50")).
			WithTarget(query("B", RecOverheadP99, "{{operation}} p99"))).
		WithPanel(series("Overhead by provider p99", "", 12, "s").
			WithTarget(query("A", `histogram_quantile(0.99, sum by (le, provider) (rate(`+metrics.NameOverhead+`_bucket[$__rate_interval])))`, "{{provider}}")))
	return b
}

// Build returns the built dashboard.
func Build() (dashboard.Dashboard, error) { return Builder().Build() }

// JSON returns the dashboard as the indented JSON committed to
// deploy/grafana/dashboards/tiergate.json.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Query is one PromQL query of a panel.
type Query struct {
	Panel string
	RefID string
	Expr  string
}

// Queries returns every panel query of the dashboard, in panel order.
func Queries() ([]Query, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	var out []Query
	add := func(p *dashboard.Panel) error {
		for _, t := range p.Targets {
			q, ok := t.(prometheus.Dataquery)
			if !ok {
				if qp, okp := t.(*prometheus.Dataquery); okp {
					q, ok = *qp, true
				}
			}
			if !ok {
				return fmt.Errorf("panel %q has a %T target, not a Prometheus query", deref(p.Title), t)
			}
			out = append(out, Query{Panel: deref(p.Title), RefID: deref(q.RefId), Expr: q.Expr})
		}
		return nil
	}
	for _, pr := range d.Panels {
		if pr.Panel != nil {
			if err := add(pr.Panel); err != nil {
				return nil, err
			}
		}
		if pr.RowPanel != nil {
			for i := range pr.RowPanel.Panels {
				if err := add(&pr.RowPanel.Panels[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var varRE = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// Expand replaces the dashboard's variables in expr the way Grafana
// would: $backend (and ${backend}) by backend (".*" for All), and
// $__rate_interval, $__interval and $__range by the given durations.
// An unknown variable is an error.
func Expand(expr, backend, rateInterval, rng string) (string, error) {
	var bad []string
	out := varRE.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v[1:], "{}")
		switch name {
		case backendVariable:
			return backend
		case "__rate_interval", "__interval":
			return rateInterval
		case "__range":
			return rng
		}
		bad = append(bad, v)
		return v
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown variables %v in %q", bad, expr)
	}
	return out, nil
}
