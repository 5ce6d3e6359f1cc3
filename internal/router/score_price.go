package router

// price scores the cheapest candidate 1 and the others by the ratio of
// the best price to theirs (halving with every doubling). The best price
// is that of what the profile admits, whatever is up now, so that the
// score stays fixed.
type price struct{}

func (price) name() string            { return "price" }
func (price) fixed()                  {}
func (price) weight(pl *plan) float64 { return pl.p.Weights.Price }
func (price) score(pl *plan, c *cand) float64 {
	p := c.b.price
	if p == 0 {
		return 1
	}
	best := pl.bestPrice
	if best == 0 {
		return 0.5 / (1 + p)
	}
	return best / p
}
