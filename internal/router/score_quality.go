package router

// quality scores the catalog's quality rank for general reasoning (0-100).
type quality struct{}

func (quality) name() string                   { return "quality" }
func (quality) fixed()                         {}
func (quality) weight(pl *plan) float64        { return pl.p.Weights.Quality }
func (quality) score(_ *plan, c *cand) float64 { return float64(c.b.quality) / 100 }
