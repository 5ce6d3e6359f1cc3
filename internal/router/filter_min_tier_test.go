package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestMinTier(t *testing.T) {
	at := func(tier catalog.Tier) *backend {
		return ruleBackend(ruleModel("m", nil), func(l *live) { l.tier, l.rank, l.tierSource = tier, tier.Rank(), SourceLive })
	}
	fast := &config.Profile{MinTier: catalog.Fast}
	route := func(p *config.Profile, tier catalog.Tier) *plan {
		return rulePlan(p, &Query{Task: catalog.Chat, Route: &Route{MinTier: tier}})
	}
	runFilter(t, minTier{}, []filterCase{
		{"no bound", rulePlan(nil, nil), at(catalog.Slow), false, ""},
		{"profile admits its tier", rulePlan(fast, nil), at(catalog.Fast), false, ""},
		{"profile admits faster", rulePlan(fast, nil), at(catalog.UltraFast), false, ""},
		{"profile refuses slower", rulePlan(fast, nil), at(catalog.Moderate), true, "tier moderate (live) is slower than fast"},
		{"route refuses", route(nil, catalog.UltraFast), at(catalog.Fast), true, "slower than ultra-fast"},
		{"route narrows", route(fast, catalog.UltraFast), at(catalog.Fast), true, "slower than ultra-fast"},
		{"route never widens", route(fast, catalog.Slow), at(catalog.Moderate), true, "slower than fast"},
	})
}
