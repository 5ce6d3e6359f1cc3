package router

import (
	"fmt"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// maxPrice admits only backends whose blended price is within the lower
// of the profile's and the route object's max_price_per_mtok.
type maxPrice struct{}

func (maxPrice) name() string { return "max_price" }
func (maxPrice) binds(p *config.Profile, rt *Route) bool {
	return p.MaxPricePerMTok > 0 || rt != nil && rt.MaxPricePerMTok > 0
}
func (maxPrice) exclude(pl *plan, c *cand) string {
	if limit := pl.maxPrice(); limit > 0 && c.b.price > limit {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("blended price $%.2f/Mtok is over $%.2f", blended(c.model()), limit)
	}
	return ""
}

// blended is a model's price per million tokens, input and output averaged
// 3:1 as chat traffic usually is.
func blended(m *catalog.Model) float64 { return (3*m.Price.Input + m.Price.Output) / 4 }

// maxPrice is the highest blended price the request admits, 0 for any:
// the lower of the profile's and the route object's.
func (pl *plan) maxPrice() float64 {
	if r := pl.q.Route; r != nil && r.MaxPricePerMTok > 0 && (pl.p.MaxPricePerMTok == 0 || r.MaxPricePerMTok < pl.p.MaxPricePerMTok) {
		return r.MaxPricePerMTok
	}
	return pl.p.MaxPricePerMTok
}
