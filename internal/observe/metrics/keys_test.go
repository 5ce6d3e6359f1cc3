package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserveKey: a configured key's name is its label, any other name
// and any unknown status fold into "other"; tokens and cost add up.
func TestObserveKey(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewWithOptions(reg, nil, Options{KeyKnown: func(n string) bool { return n == "legal" }})
	m.ObserveKey(KeyRequest{Name: "legal", Status: "ok", TokensIn: 10, TokensOut: 5, CostUSD: 0.5})
	m.ObserveKey(KeyRequest{Name: "legal", Status: "cut", TokensIn: 1, CostUSD: 0.25})
	m.ObserveKey(KeyRequest{Name: "made-up", Status: "weird", TokensOut: 7, CostUSD: 1})
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.keys.requests.WithLabelValues("legal", "ok")), 1, "legal ok"},
		{testutil.ToFloat64(m.keys.requests.WithLabelValues("legal", "cut")), 1, "legal cut"},
		{testutil.ToFloat64(m.keys.requests.WithLabelValues(Other, Other)), 1, "other"},
		{testutil.ToFloat64(m.keys.tokens.WithLabelValues("legal", "input")), 11, "legal input"},
		{testutil.ToFloat64(m.keys.tokens.WithLabelValues(Other, "output")), 7, "other output"},
		{testutil.ToFloat64(m.keys.cost.WithLabelValues("legal")), 0.75, "legal cost"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.keys.requests); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
	var nilM *Metrics
	nilM.ObserveKey(KeyRequest{Name: "legal"}) // a nil *Metrics ignores it
}
