package router

// prefer scores the profile's preferred setups (the framework's
// recommendations), the first 1 and each later one less.
type prefer struct{}

func (prefer) name() string            { return "prefer" }
func (prefer) fixed()                  {}
func (prefer) weight(pl *plan) float64 { return pl.p.Weights.Prefer }

// score reads the router's table (preferScores) when it has one for the
// profile, else works it out.
func (prefer) score(pl *plan, c *cand) float64 {
	if pl.preferScore != nil && c.b.idx >= 0 {
		return pl.preferScore[c.b.idx]
	}
	return preferScore(pl.p.Prefer, c.model().ID)
}

func preferScore(prefer []string, id string) float64 {
	for i, p := range prefer {
		if p == id {
			return 1 - float64(i)/float64(len(prefer))
		}
	}
	return 0
}
