package router

import (
	"fmt"

	"github.com/tiergate/tiergate/internal/catalog"
)

// minTier admits only backends whose current tier is at least as fast as
// the stricter of the profile's and the route object's min_tier.
type minTier struct{}

func (minTier) name() string        { return "min_tier" }
func (minTier) binds(pl *plan) bool { return pl.minTier() != "" }
func (minTier) exclude(pl *plan, c *cand) string {
	if want := pl.minTier(); want != "" && c.snap.l.rank > want.Rank() {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("tier %s (%s) is slower than %s", c.snap.l.tier, c.snap.l.tierSource, want)
	}
	return ""
}

func (minTier) mark(pl *plan, _ *staticSet, ls []*live, out []bool) {
	want := pl.minTier()
	if want == "" {
		return
	}
	maxRank := want.Rank()
	out = out[:len(ls)]
	for i, l := range ls {
		out[i] = out[i] || l.rank > maxRank // no branch to mispredict
	}
}

// minTier is the slowest tier the request admits, "" for any: the
// stricter of the profile's and the route object's (a route narrows).
func (pl *plan) minTier() catalog.Tier {
	if r := pl.q.Route; r != nil && r.MinTier != "" && (pl.p.MinTier == "" || r.MinTier.Rank() < pl.p.MinTier.Rank()) {
		return r.MinTier
	}
	return pl.p.MinTier
}
