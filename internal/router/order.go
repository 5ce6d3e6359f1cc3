package router

import (
	"net/http"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// spread orders a decision's eligible candidates so that the attempts
// reach more than one provider: the best candidate of each provider, in
// rank order, before a second model of any (a round per provider), the
// leader first whatever it is. A provider in trouble usually fails all
// its models at once, and max_attempts spent on one provider's models
// never reaches a healthy one. Pinned models keep their configured
// fallbacks' order.
//
// The scan keeps only the k best; when they come from fewer providers
// than the attempts could use while the profile admits others, the
// decision is widened to every eligible backend (the full path), so the
// order is what explain shows.
func (r *Router) spread(pl *plan, st *staticSet, sc *scratch, eligible []*cand, want, k int, pinned bool) []*cand {
	if pinned || want < 2 || len(eligible) < 1 {
		return eligible
	}
	if pl.static && len(eligible) >= k && providersIn(eligible, want) < want && otherProvider(st, eligible) {
		leader := eligible[0].b
		pl.static, pl.routeExcluded = false, nil
		sc.filters = pl.active(sc.filters)
		eligible = r.filter(pl, candsOf(r.order, sc), sc)
		r.rank(pl, st, eligible, len(eligible))
		for i, c := range eligible {
			if c.b == leader {
				eligible[0], eligible[i] = eligible[i], eligible[0]
				break
			}
		}
	}
	return interleave(eligible)
}

// providersIn counts the distinct providers in c, up to limit.
func providersIn(c []*cand, limit int) int {
	n := 0
	for i, x := range c {
		seen := false
		for _, y := range c[:i] {
			if y.b.model.Provider == x.b.model.Provider {
				seen = true
				break
			}
		}
		if !seen {
			if n++; n >= limit {
				return n
			}
		}
	}
	return n
}

// otherProvider reports whether st admits a provider none of c has.
func otherProvider(st *staticSet, c []*cand) bool {
	if st == nil {
		return false
	}
outer:
	for _, b := range st.backends {
		for _, x := range c {
			if x.b.model.Provider == b.model.Provider {
				continue outer
			}
		}
		return true
	}
	return false
}

// interleave reorders c (in place when it must change) by rounds: the
// first of each provider in c's order, then the second of each, and so
// on; within a round c's order holds.
func interleave(c []*cand) []*cand {
	if len(c) < 3 {
		return c
	}
	round := func(i int) int {
		n := 0
		for _, y := range c[:i] {
			if y.b.model.Provider == c[i].b.model.Provider {
				n++
			}
		}
		return n
	}
	rounds := make([]int, len(c))
	sorted, top := true, 0
	for i := range c {
		rounds[i] = round(i)
		if rounds[i] < top {
			sorted = false
		}
		top = max(top, rounds[i])
	}
	if sorted {
		return c
	}
	out := make([]*cand, 0, len(c))
	for r := 0; r <= top; r++ {
		for i, x := range c {
			if rounds[i] == r {
				out = append(out, x)
			}
		}
	}
	copy(c, out)
	return c
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
