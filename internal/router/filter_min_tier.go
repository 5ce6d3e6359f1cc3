package router

import "fmt"

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
		if l.rank > maxRank {
			out[i] = true
		}
	}
}
