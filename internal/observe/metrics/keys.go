package metrics

import "github.com/prometheus/client_golang/prometheus"

// Names of the per-gateway-key families.
const (
	NameKeyRequests = "tiergate_key_requests_total"
	NameKeyTokens   = "tiergate_key_tokens_total"
	NameKeyCost     = "tiergate_key_cost_usd_total"
	NameKeyRefused  = "tiergate_key_refused_total"
	NameKeyBudget   = "tiergate_key_budget_used_ratio"
)

// KeyLimits is the closed set of the limits that refuse a key's request
// (keys.Limit.Refused, keys.Tokens.Refused); any other is "other".
var KeyLimits = []string{"rpm", "tpm", "max_concurrent", "budget"}

// KeyStatuses is the closed set of a keyed request's settled status
// (keys.Status*); any other is "other".
var KeyStatuses = []string{"ok", "error", "cancelled", "cut"}

// KeyRequest is one settled request of a gateway key: its name (never
// its secret), how it ended, its tokens and its cost.
type KeyRequest struct {
	Name, Status        string
	TokensIn, TokensOut int
	CostUSD             float64
}

type keyMetrics struct {
	known    func(name string) bool
	requests *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

func newKeyMetrics(known func(string) bool) *keyMetrics {
	return &keyMetrics{known: known,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyRequests,
			Help: "Settled requests of each gateway key (by name; unknown names as other), by how they ended."}, []string{"key", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyTokens,
			Help: "Tokens used by each gateway key's requests, input and output."}, []string{"key", LabelTokenType}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyCost,
			Help: "Spend in USD of each gateway key at the catalog's list prices (the spend ledger's figure)."}, []string{"key"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyRefused,
			Help: "Requests of each gateway key refused (429) by one of its limits: rpm, tpm, max_concurrent or budget."}, []string{"key", "limit"}),
	}
}

func (k *keyMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{k.requests, k.tokens, k.cost, k.refused}
}

// label is a key name's label value: the name of a configured key, else
// "other".
func (k *keyMetrics) label(name string) string {
	if k.known != nil && name != "" && k.known(name) {
		return name
	}
	return Other
}

// KeyRefused counts one request of gateway key name refused by limit
// (rpm, tpm, max_concurrent or budget; anything else counts as "other").
// The key label is bounded as ObserveKey's is.
func (m *Metrics) KeyRefused(name, limit string) {
	if m == nil {
		return
	}
	m.keys.refused.WithLabelValues(m.keys.label(name), oneOf(limit, KeyLimits, Other)).Inc()
}

// KeyBudget is one gateway key's budget as a KeyBudgetSource reports it.
type KeyBudget struct {
	Name                string
	BudgetUSD, SpentUSD float64
}

// KeyBudgetSource returns the keys that have a budget with what they
// spent of it this period. It is called from the scraping goroutine and
// must be safe for concurrent use.
type KeyBudgetSource func() []KeyBudget

// NewKeyBudgetCollector reads src at every scrape into
// tiergate_key_budget_used_ratio{key}: spent over budget this period (1
// or more: spent), one series per key with a budget; known bounds the
// key label as Options.KeyKnown does (a name it does not know is left
// out).
func NewKeyBudgetCollector(src KeyBudgetSource, known func(string) bool) prometheus.Collector {
	return &keyBudgetCollector{src: src, known: known,
		desc: prometheus.NewDesc(NameKeyBudget, "Fraction of each gateway key's budget spent (settled and reserved) this period; 1 or more: spent.", []string{"key"}, nil)}
}

type keyBudgetCollector struct {
	src   KeyBudgetSource
	known func(string) bool
	desc  *prometheus.Desc
}

func (c *keyBudgetCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *keyBudgetCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	seen := map[string]bool{}
	for _, b := range c.src() {
		if b.BudgetUSD <= 0 || seen[b.Name] || c.known == nil || !c.known(b.Name) {
			continue
		}
		seen[b.Name] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, max(b.SpentUSD, 0)/b.BudgetUSD, b.Name)
	}
}

// ObserveKey counts one settled request of a gateway key. The key label
// is the key's name when Options.KeyKnown says it is a configured key,
// else "other", so the label set stays bounded.
func (m *Metrics) ObserveKey(r KeyRequest) {
	if m == nil {
		return
	}
	k := m.keys
	name := k.label(r.Name)
	k.requests.WithLabelValues(name, oneOf(r.Status, KeyStatuses, Other)).Inc()
	if r.TokensIn > 0 {
		k.tokens.WithLabelValues(name, "input").Add(float64(r.TokensIn))
	}
	if r.TokensOut > 0 {
		k.tokens.WithLabelValues(name, "output").Add(float64(r.TokensOut))
	}
	if r.CostUSD > 0 {
		k.cost.WithLabelValues(name).Add(r.CostUSD)
	}
}
