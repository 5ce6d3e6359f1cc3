package router

import "github.com/tiergate/tiergate/internal/config"

// speed scores half the tier (measured, else the catalog's prior:
// ultra-fast 1, slow 0) and half the live load cost (PeakEWMA latency ×
// (in-flight + 1)) relative to the best candidate's.
type speed struct{}

func (speed) name() string            { return "speed" }
func (speed) weight(pl *plan) float64 { return pl.p.Weights.Speed }
func (speed) score(pl *plan, c *cand) float64 {
	return speedScore(c.snap.l.rank, c.snap.cost, pl.bestCost)
}
func (speed) rowScore(pl *plan, h *hot) float64 { return speedScore(int(h.rank), h.cost, pl.bestCost) }

func (s speed) addScore(pl *plan, w float64, hs []hot) {
	for i := range hs {
		hs[i].score += w * s.rowScore(pl, &hs[i])
	}
}

// staticBound is the score of the fastest tier at the best cost.
func (speed) staticBound(p *config.Profile, _ *backend) float64 {
	return p.Weights.Speed * speedScore(0, 1, 1)
}

// blockBound: the block's fastest tier at its lowest cost floor.
func (speed) blockBound(pl *plan, w float64, bb *ranked) float64 {
	return w * speedScore(int(bb.rank), bb.cost, pl.bestCost)
}

func speedScore(rank int, cost, bestCost float64) float64 {
	tierScore := float64(3-rank) / 3
	live := 1.0
	if cost > 0 {
		live = bestCost / cost
	}
	return 0.5*tierScore + 0.5*live
}
