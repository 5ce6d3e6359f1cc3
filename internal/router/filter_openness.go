package router

import (
	"fmt"
	"slices"

	"github.com/tiergate/tiergate/internal/config"
)

// openness admits only the openness the profile and the route object allow.
type openness struct{}

func (openness) name() string { return "openness" }
func (openness) binds(p *config.Profile, rt *Route) bool {
	return len(p.Openness) > 0 || rt != nil && len(rt.Openness) > 0
}
func (openness) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Openness) > 0 && !slices.Contains(pl.p.Openness, m.Openness) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("openness %s is not allowed by profile %s", orUnknown(string(m.Openness)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Openness) > 0 && !slices.Contains(r.Openness, m.Openness) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("openness %s is not in route.openness", orUnknown(string(m.Openness)))
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
