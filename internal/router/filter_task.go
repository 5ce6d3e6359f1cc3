package router

import "github.com/tiergate/tiergate/internal/config"

// task admits a model that can do all the request needs (its endpoint's
// task, vision, tools and what the profile requires).
type task struct{}

func (task) name() string                       { return "task" }
func (task) binds(*config.Profile, *Route) bool { return true }
func (task) exclude(pl *plan, c *cand) string {
	if c.b.tasks&pl.needSet == pl.needSet {
		return ""
	}
	if pl.explain {
		for _, t := range pl.need {
			if !c.model().Has(t) {
				return "cannot do " + string(t)
			}
		}
	}
	return excluded
}
