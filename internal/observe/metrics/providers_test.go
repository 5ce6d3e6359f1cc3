package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestProviderBreakerGauge: the provider breaker gauge shows each
// catalog provider's state as read at the scrape (0 closed, 1 open, 2
// half-open); a provider outside the catalog, an unknown state and a
// second report of one provider add no series.
func TestProviderBreakerGauge(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var mu sync.Mutex
	var ps []Provider
	set := func(p ...Provider) { mu.Lock(); ps = p; mu.Unlock() }
	src := func() []Provider { mu.Lock(); defer mu.Unlock(); return append([]Provider(nil), ps...) }
	NewWithOptions(reg, testCatalog(t), Options{Providers: src})
	const head = `
# HELP tiergate_provider_breaker_state Provider-wide circuit-breaker state (beside each model's own): 0 closed, 1 open, 2 half-open.
# TYPE tiergate_provider_breaker_state gauge
`
	for _, tc := range []struct {
		name string
		in   []Provider
		want string
	}{
		{"all closed", []Provider{{"openai", "closed"}, {"anthropic", "closed"}, {"ollama", "closed"}},
			head + "tiergate_provider_breaker_state{provider=\"anthropic\"} 0\ntiergate_provider_breaker_state{provider=\"ollama\"} 0\ntiergate_provider_breaker_state{provider=\"openai\"} 0\n"},
		{"open and half-open", []Provider{{"openai", "open"}, {"ollama", "half-open"}},
			head + "tiergate_provider_breaker_state{provider=\"ollama\"} 2\ntiergate_provider_breaker_state{provider=\"openai\"} 1\n"},
		{"closed set", []Provider{{"openai", "closed"}, {"openai", "open"}, {"10.0.0.1:8080", "open"}, {"anthropic", "melted"}},
			head + "tiergate_provider_breaker_state{provider=\"openai\"} 0\n"},
		{"none", nil, ""},
	} {
		set(tc.in...)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), NameProviderBreaker); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
