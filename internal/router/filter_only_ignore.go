package router

import (
	"slices"

	"github.com/tiergate/tiergate/internal/config"
)

// onlyIgnore applies route.only and route.ignore (providers or model ids).
type onlyIgnore struct{}

func (onlyIgnore) name() string { return "only_ignore" }
func (onlyIgnore) binds(_ *config.Profile, rt *Route) bool {
	return rt != nil && (len(rt.Only) > 0 || len(rt.Ignore) > 0)
}
func (onlyIgnore) exclude(pl *plan, c *cand) string {
	r := pl.q.Route
	if r == nil {
		return ""
	}
	m := c.model()
	if len(r.Only) > 0 && !slices.Contains(r.Only, m.ID) && !slices.Contains(r.Only, m.Provider) {
		return "not in route.only"
	}
	if slices.Contains(r.Ignore, m.ID) || slices.Contains(r.Ignore, m.Provider) {
		return "in route.ignore"
	}
	return ""
}
