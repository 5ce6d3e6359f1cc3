package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestMaxPrice(t *testing.T) {
	// Blended 3:1: (3×input + output) / 4.
	at := func(in, out float64) *backend {
		return ruleBackend(ruleModel("m", func(m *catalog.Model) { m.Price = catalog.Price{Input: in, Output: out} }), nil)
	}
	budget := &config.Profile{MaxPricePerMTok: 2}
	route := func(p *config.Profile, limit float64) *plan {
		return rulePlan(p, &Query{Task: catalog.Chat, Route: &Route{MaxPricePerMTok: limit}})
	}
	runFilter(t, maxPrice{}, []filterCase{
		{"no bound", rulePlan(nil, nil), at(100, 100), false, ""},
		{"free", rulePlan(budget, nil), at(0, 0), false, ""},
		{"at the bound", rulePlan(budget, nil), at(1, 5), false, ""},
		{"over the profile's", rulePlan(budget, nil), at(2, 6), true, "blended price $3.00/Mtok is over $2.00"},
		{"over the route's", route(nil, 1), at(1, 3), true, "is over $1.00"},
		{"route narrows", route(budget, 1), at(1, 5), true, "is over $1.00"},
		{"route never widens", route(budget, 10), at(2, 6), true, "is over $2.00"},
	})
}
