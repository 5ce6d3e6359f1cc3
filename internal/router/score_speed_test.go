package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestSpeed(t *testing.T) {
	c := func(tier catalog.Tier, cost float64) *cand {
		b := ruleBackend(ruleModel("m", nil), func(l *live) { l.tier, l.rank = tier, tier.Rank() })
		cd := candOf(rulePlan(nil, nil), b)
		cd.snap.cost = cost
		return cd
	}
	best := func(cost float64) *plan { pl := rulePlan(nil, nil); pl.bestCost = cost; return pl }
	runScorer(t, speed{}, []scoreCase{
		{"ultra-fast and the least loaded", best(100), c(catalog.UltraFast, 100), 1},
		{"slow and the least loaded", best(100), c(catalog.Slow, 100), 0.5},
		{"fast at twice the best cost", best(100), c(catalog.Fast, 200), 0.5*2.0/3 + 0.25},
		{"moderate at four times", best(100), c(catalog.Moderate, 400), 0.5/3 + 0.125},
		{"no cost yet", best(0), c(catalog.Slow, 0), 0.5},
	})
}
