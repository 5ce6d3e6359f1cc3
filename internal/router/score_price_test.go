package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestPrice(t *testing.T) {
	c := func(in, out float64) *cand {
		return &cand{b: ruleBackend(ruleModel("m", func(m *catalog.Model) { m.Price = catalog.Price{Input: in, Output: out} }), nil)}
	}
	best := func(p float64) *plan { pl := rulePlan(nil, nil); pl.bestPrice = p; return pl }
	runScorer(t, price{}, []scoreCase{
		{"free", best(0), c(0, 0), 1},
		{"the cheapest", best(2), c(1, 5), 1},
		{"twice the cheapest", best(2), c(2, 10), 0.5},
		{"four times", best(2), c(4, 20), 0.25},
		{"when the cheapest is free", best(0), c(1, 5), 0.5 / 3},
	})
}
