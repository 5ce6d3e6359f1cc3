package metrics

import "github.com/prometheus/client_golang/prometheus"

// Names of the per-gateway-key families.
const (
	NameKeyRequests = "tiergate_key_requests_total"
	NameKeyTokens   = "tiergate_key_tokens_total"
	NameKeyCost     = "tiergate_key_cost_usd_total"
)

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
}

func newKeyMetrics(known func(string) bool) *keyMetrics {
	return &keyMetrics{known: known,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyRequests,
			Help: "Settled requests of each gateway key (by name; unknown names as other), by how they ended."}, []string{"key", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyTokens,
			Help: "Tokens used by each gateway key's requests, input and output."}, []string{"key", LabelTokenType}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameKeyCost,
			Help: "Spend in USD of each gateway key at the catalog's list prices (the spend ledger's figure)."}, []string{"key"}),
	}
}

func (k *keyMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{k.requests, k.tokens, k.cost}
}

// ObserveKey counts one settled request of a gateway key. The key label
// is the key's name when Options.KeyKnown says it is a configured key,
// else "other", so the label set stays bounded.
func (m *Metrics) ObserveKey(r KeyRequest) {
	if m == nil {
		return
	}
	k := m.keys
	name := Other
	if k.known != nil && r.Name != "" && k.known(r.Name) {
		name = r.Name
	}
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
