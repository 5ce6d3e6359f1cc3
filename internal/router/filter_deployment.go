package router

import (
	"fmt"
	"slices"

	"github.com/tiergate/tiergate/internal/config"
)

// deployment admits only the deployments the profile and the route object
// allow.
type deployment struct{}

func (deployment) name() string { return "deployment" }
func (deployment) binds(p *config.Profile, rt *Route) bool {
	return len(p.Deployment) > 0 || rt != nil && len(rt.Deployment) > 0
}
func (deployment) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Deployment) > 0 && !slices.Contains(pl.p.Deployment, m.Deployment) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("deployment %s is not allowed by profile %s", orUnknown(string(m.Deployment)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Deployment) > 0 && !slices.Contains(r.Deployment, m.Deployment) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("deployment %s is not in route.deployment", orUnknown(string(m.Deployment)))
	}
	return ""
}
