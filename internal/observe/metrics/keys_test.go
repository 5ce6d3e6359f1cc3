package metrics

import (
	"strings"
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

// TestKeyRefused: refusals count by key and limit, with the key label
// bounded like ObserveKey's and the limit in its closed set.
func TestKeyRefused(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewWithOptions(reg, nil, Options{KeyKnown: func(n string) bool { return n == "legal" }})
	m.KeyRefused("legal", "rpm")
	m.KeyRefused("legal", "rpm")
	m.KeyRefused("legal", "budget")
	m.KeyRefused("stranger", "tpm")
	m.KeyRefused("legal", "made-up")
	for _, c := range []struct {
		key, limit string
		want       float64
	}{{"legal", "rpm", 2}, {"legal", "budget", 1}, {Other, "tpm", 1}, {"legal", Other, 1}} {
		if got := testutil.ToFloat64(m.keys.refused.WithLabelValues(c.key, c.limit)); got != c.want {
			t.Errorf("refused{%s,%s} = %v, want %v", c.key, c.limit, got, c.want)
		}
	}
	var nilM *Metrics
	nilM.KeyRefused("legal", "rpm")
}

// TestKeyBudgetCollector: one ratio per known key with a budget, read at
// scrape time; keys without a budget, unknown or repeated names are left
// out.
func TestKeyBudgetCollector(t *testing.T) {
	spent := 2.5
	src := func() []KeyBudget {
		return []KeyBudget{{Name: "legal", BudgetUSD: 10, SpentUSD: spent}, {Name: "legal", BudgetUSD: 1, SpentUSD: 1},
			{Name: "free", BudgetUSD: 0, SpentUSD: 3}, {Name: "stranger", BudgetUSD: 5, SpentUSD: 5}}
	}
	known := func(n string) bool { return n == "legal" || n == "free" }
	c := NewKeyBudgetCollector(src, known)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `# HELP tiergate_key_budget_used_ratio Fraction of each gateway key's budget spent (settled and reserved) this period; 1 or more: spent.
# TYPE tiergate_key_budget_used_ratio gauge
tiergate_key_budget_used_ratio{key="legal"} 0.25
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameKeyBudget); err != nil {
		t.Error(err)
	}
	spent = 12
	if got := testutil.ToFloat64(c); got != 1.2 {
		t.Errorf("after more spend: %v, want 1.2", got)
	}
	if n := testutil.CollectAndCount(NewKeyBudgetCollector(nil, known)); n != 0 {
		t.Errorf("a nil source gave %d series", n)
	}
}
