package router

import (
	"fmt"
	"time"
)

// maxTTFT admits only backends whose live or measured TTFT is within
// route.max_ttft_ms (one with no figure yet admits).
type maxTTFT struct{}

func (maxTTFT) name() string { return "max_ttft" }
func (maxTTFT) binds(pl *plan) bool {
	return pl.q.Route != nil && pl.q.Route.MaxTTFTMs > 0
}
func (maxTTFT) exclude(pl *plan, c *cand) string {
	r := pl.q.Route
	if r == nil || r.MaxTTFTMs <= 0 || c.snap.l.ttft <= 0 {
		return ""
	}
	if ms := float64(c.snap.l.ttft) / 1e6; c.snap.l.ttft > time.Duration(r.MaxTTFTMs*1e6) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("TTFT %.0f ms is over route.max_ttft_ms %.0f", ms, r.MaxTTFTMs)
	}
	return ""
}

func (f maxTTFT) mark(pl *plan, _ *staticSet, ls []*live, out []bool) {
	if !f.binds(pl) {
		return
	}
	bound := time.Duration(pl.q.Route.MaxTTFTMs * 1e6)
	out = out[:len(ls)]
	for i, l := range ls {
		out[i] = out[i] || l.ttft > bound // no branch to mispredict
	}
}
