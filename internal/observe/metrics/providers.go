package metrics

import "github.com/prometheus/client_golang/prometheus"

// Provider is one provider's live health, as a ProviderSource reports it.
type Provider struct {
	Name string // the configured provider name
	// Breaker is the provider-wide circuit: "closed", "open" or "half-open".
	Breaker string
}

// ProviderSource returns every provider's current health. It is called
// from the scraping goroutine and must be safe for concurrent use.
type ProviderSource func() []Provider

// providerCollector turns a ProviderSource into the per-provider breaker
// gauge at scrape time: one series per provider of the catalog (the
// closed set of the provider label) and known state, whatever the source
// returns.
type providerCollector struct {
	m       *Metrics
	src     ProviderSource
	breaker *prometheus.Desc
}

func newProviderCollector(m *Metrics, src ProviderSource) *providerCollector {
	return &providerCollector{m: m, src: src, breaker: prometheus.NewDesc(NameProviderBreaker,
		"Provider-wide circuit-breaker state (beside each model's own): 0 closed, 1 open, 2 half-open.", []string{"provider"}, nil)}
}

func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.breaker }

func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	known := c.m.labels.Load().providers
	seen := map[string]bool{}
	for _, p := range c.src() {
		v, ok := breakerVals[p.Breaker]
		if !ok || !known[p.Name] || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, v, p.Name)
	}
}
