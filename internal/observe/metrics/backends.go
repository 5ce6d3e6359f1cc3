package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// backendCollector turns a StatusSource into the per-backend gauges at
// scrape time. Only catalog models are reported, with the catalog's
// provider as the provider label, and at most one series per backend and
// family, whatever the source returns.
type backendCollector struct {
	m   *Metrics
	src StatusSource

	inflight, breaker, tier, tierRank, ttft, tps, measured *prometheus.Desc
}

func newBackendCollector(m *Metrics, src StatusSource) *backendCollector {
	be := []string{"model", "provider"}
	return &backendCollector{m: m, src: src,
		inflight: prometheus.NewDesc(NameInFlight, "Requests in flight, by backend.", be, nil),
		breaker:  prometheus.NewDesc(NameBreakerState, "Circuit-breaker state per backend: 0 closed, 1 open, 2 half-open.", be, nil),
		tier: prometheus.NewDesc(NameBackendTier,
			"Each backend's current speed tier (info-style, always 1) and where it came from: prior (catalog), bench (tiers file) or live.",
			[]string{"model", "provider", "tier", "source"}, nil),
		tierRank: prometheus.NewDesc(NameBackendTierRank,
			"Each backend's current speed tier as a number: 0 ultra-fast, 1 fast, 2 moderate, 3 slow (higher is slower).", be, nil),
		ttft:     prometheus.NewDesc(NameBackendTTFT, "The time to first token that decided the backend's tier (median).", be, nil),
		tps:      prometheus.NewDesc(NameBackendTPS, "The output tokens per second that decided the backend's tier (median).", be, nil),
		measured: prometheus.NewDesc(NameBackendMeasured, "When the backend's tier figures were measured (Unix seconds).", be, nil),
	}
}

func (c *backendCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inflight, c.breaker, c.tier, c.tierRank, c.ttft, c.tps, c.measured} {
		ch <- d
	}
}

func (c *backendCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	seen := map[string]bool{}
	models := c.m.labels.Load().models
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, b := range c.src() {
		mod, ok := models[b.Model]
		if !ok || seen[b.Model] {
			continue
		}
		seen[b.Model] = true
		model, prov := b.Model, c.m.provider(mod.Provider, b.Model)
		gauge(c.inflight, float64(max(b.InFlight, 0)), model, prov)
		if v, ok := breakerVals[b.Breaker]; ok {
			gauge(c.breaker, v, model, prov)
		}
		if b.Tier.Rank() < 0 {
			continue
		}
		gauge(c.tier, 1, model, prov, string(b.Tier), oneOf(b.TierSource, tierSources, Other))
		gauge(c.tierRank, float64(b.Tier.Rank()), model, prov)
		if b.TTFT > 0 {
			gauge(c.ttft, b.TTFT.Seconds(), model, prov)
		}
		if b.TokensPerSecond > 0 {
			gauge(c.tps, b.TokensPerSecond, model, prov)
		}
		if !b.MeasuredAt.IsZero() {
			gauge(c.measured, float64(b.MeasuredAt.UnixNano())/1e9, model, prov)
		}
	}
}
