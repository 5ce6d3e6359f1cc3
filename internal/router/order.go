package router

import (
	"net/http"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// RouteAvoiding routes q again without the given providers' models: the
// gateway asks for it after attempts on those providers failed, so the
// next attempt goes to the best candidate of another eligible provider
// before a second model of one that just failed. The hot path (Route)
// does not pay for this; only a failed attempt does. It returns nil when
// q may not fall back (a pinned model keeps its configured fallbacks;
// route.allow_fallbacks false) or nothing else is eligible.
func (r *Router) RouteAvoiding(q *Query, providers []string) []Candidate {
	if q.Route != nil && q.Route.AllowFallbacks != nil && !*q.Route.AllowFallbacks {
		return nil
	}
	if _, pinned := r.profileFor(q); pinned != nil {
		return nil
	}
	rt := Route{}
	if q.Route != nil {
		rt = *q.Route
	}
	// The copy applies its rules through the filters (a parsed route's
	// precomputed exclusions would not know of the added ignore).
	rt.excluded, rt.blocks = nil, nil
	rt.Ignore = append(append([]string(nil), rt.Ignore...), providers...)
	q2 := *q
	q2.Route, q2.Explain = &rt, false
	d, err := r.Route(&q2)
	if err != nil {
		return nil
	}
	return d.Candidates
}

// withRetryAfter gives a 503 for a request no backend can serve now a
// Retry-After: the soonest end of the cool-downs and open circuits that
// exclude the candidates, so a client knows when to come back.
func (r *Router) withRetryAfter(err error, pool []cand, pl *plan) error {
	e, ok := err.(*providers.Error)
	if !ok || e.Status != http.StatusServiceUnavailable {
		return err
	}
	now := pl.now.UnixNano()
	var soonest time.Duration
	for i := range pool {
		c := &pool[i]
		var left time.Duration
		switch {
		case c.snap.prov != "":
			left = c.b.ph.cooldownLeft(now)
			if l := c.b.ph.live.Load(); l.open {
				left = max(left, time.Duration(int64(r.cfg.ProviderBreaker.OpenFor)-(now-l.openedAtNs)))
			}
		case c.snap.state == Open:
			left = time.Duration(int64(r.cfg.Breaker.OpenFor) - (now - c.snap.l.openedAtNs))
		case c.snap.cooldown > 0:
			left = c.snap.cooldown
		default:
			continue
		}
		if left > 0 && (soonest == 0 || left < soonest) {
			soonest = left
		}
	}
	if soonest > 0 {
		e.RetryAfter = soonest
	}
	return err
}
