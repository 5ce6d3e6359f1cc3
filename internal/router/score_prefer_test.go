package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/config"
)

func TestPrefer(t *testing.T) {
	p := &config.Profile{Prefer: []string{"a", "b", "c", "d"}}
	c := func(id string) *cand { return &cand{b: ruleBackend(ruleModel(id, nil), nil)} }
	table := rulePlan(p, nil)
	table.preferScore = []float64{0.25}
	indexed := c("d")
	indexed.b.idx = 0
	runScorer(t, prefer{}, []scoreCase{
		{"first", rulePlan(p, nil), c("a"), 1},
		{"second", rulePlan(p, nil), c("b"), 0.75},
		{"last", rulePlan(p, nil), c("d"), 0.25},
		{"not preferred", rulePlan(p, nil), c("z"), 0},
		{"no preferences", rulePlan(nil, nil), c("a"), 0},
		{"from the router's table", table, indexed, 0.25},
	})
}
