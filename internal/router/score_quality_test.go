package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestQuality(t *testing.T) {
	c := func(q int) *cand {
		return &cand{b: ruleBackend(ruleModel("m", func(m *catalog.Model) { m.Quality = q }), nil)}
	}
	runScorer(t, quality{}, []scoreCase{
		{"top", rulePlan(nil, nil), c(100), 1},
		{"middle", rulePlan(nil, nil), c(73), 0.73},
		{"unranked", rulePlan(nil, nil), c(0), 0},
	})
}
