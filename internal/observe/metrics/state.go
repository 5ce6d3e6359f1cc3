package metrics

import "github.com/prometheus/client_golang/prometheus"

// NameStateUp is the shared state store's health gauge.
const NameStateUp = "tiergate_state_up"

// RegisterState registers tiergate_state_up{store=...}: 1 while the
// shared state store (Redis, for the limits several replicas share)
// answers, 0 while its breaker is open and the limits fall back. up is
// read when Prometheus scrapes.
func RegisterState(reg prometheus.Registerer, store string, up func() bool) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: NameStateUp,
		Help:        "1 while the shared state store (the limits several replicas share) answers; 0 while it is down and the limits follow state.on_failure.",
		ConstLabels: prometheus.Labels{"store": store}}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}
