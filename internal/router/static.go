package router

import (
	"math"
	"slices"
	"time"

	"github.com/tiergate/tiergate/internal/config"
)

// staticKey names a staticSet.
type staticKey struct {
	profile string
	need    taskSet
}

// staticSet is what a profile decides once for all requests with the same
// task needs: the backends its openness, deployment, task and price rules
// admit, each with the part of its score that never changes (prefer,
// quality, price), and the cheapest price among them. A decision then
// reads only live state per backend.
type staticSet struct {
	backends  []*backend
	base      []float64
	bestPrice float64
}

func (r *Router) buildStatic(name string, prof *config.Profile, need taskSet) *staticSet {
	st := &staticSet{}
	for _, b := range r.order {
		m := b.model
		if b.tasks&need != need || (len(prof.Openness) > 0 && !slices.Contains(prof.Openness, m.Openness)) ||
			(len(prof.Deployment) > 0 && !slices.Contains(prof.Deployment, m.Deployment)) ||
			(prof.MaxPricePerMTok > 0 && b.price > prof.MaxPricePerMTok) {
			continue
		}
		if len(st.backends) == 0 || b.price < st.bestPrice {
			st.bestPrice = b.price
		}
		st.backends = append(st.backends, b)
	}
	pl := &plan{p: prof, bestPrice: st.bestPrice, preferScore: r.prefer[name]}
	for _, b := range st.backends {
		c := &cand{b: b}
		st.base = append(st.base, prof.Weights.Prefer*prefer{}.score(pl, c)+prof.Weights.Quality*quality{}.score(pl, c)+
			prof.Weights.Price*price{}.score(pl, c))
	}
	return st
}

// others returns the filters in fs that the scan does not apply inline:
// the fixed rules of a route object that Router.ParseRoute did not
// parse (openness, deployment, only/ignore, max price).
func others(fs []filter, buf []filter) []filter {
	buf = buf[:0]
	for _, f := range fs {
		switch f.(type) {
		case availability, contextWindow, minTier, maxTTFT:
		default:
			buf = append(buf, f)
		}
	}
	return buf
}

// hot is an admitted backend as the scan sees it: what ranking reads,
// and where it sits in the static set. No pointers: see ranked.
type hot struct {
	ranked
	inflight int64
	si       int32
}

// scan is a decision over a static set (every decision but explain's and
// a pinned model's), made for speed:
//
//   - one pass over the set reads each backend's live state once (one
//     atomic load), applies the live rules inline, the route object's
//     fixed rules as one bit (Route.excluded) and any other rule through
//     its filter, and prices the latency;
//   - a second pass over what it kept adds the live score parts to the
//     fixed ones and keeps the k best (a one-pass top-k that drops most
//     backends before scoring them exactly);
//   - only those k become candidates, their live state read again for
//     the tier they show.
//
// It chooses what the full path does (TestStaticPathAgreesWithExplain).
// It returns nil when no backend is eligible: the full path then says why.
func (r *Router) scan(pl *plan, st *staticSet, sc *scratch, k int) []*cand {
	now := pl.now.UnixNano()
	openFor := int64(r.cfg.Breaker.OpenFor)
	need := pl.q.PromptTokens + pl.q.MaxTokens
	maxRank := math.MaxInt
	if t := pl.minTier(); t != "" {
		maxRank = t.Rank()
	}
	maxTTFT := time.Duration(math.MaxInt64)
	if ms := pl.q.Route.maxTTFT(); ms > 0 {
		maxTTFT = time.Duration(ms * 1e6)
	}
	sc.others = others(sc.filters, sc.others)
	probe := &sc.probe
	if cap(sc.hot) < len(st.backends) {
		sc.hot = make([]hot, len(st.backends))
	}
	hs := sc.hot[:len(st.backends)]
	n := 0 // hs[:n] are admitted
	best := math.Inf(1)
backends:
	for i, b := range st.backends {
		l := b.live.Load()
		if (l.open && now-l.openedAtNs < openFor) || now < l.cooldownNs || l.rank > maxRank || l.ttft > maxTTFT ||
			(b.ctxWindow > 0 && need > b.ctxWindow) || (pl.routeExcluded != nil && pl.routeExcluded.has(b.idx)) ||
			b.ph.blockedNs(now, &r.cfg) { // the provider's own health (provider_health.go)
			continue
		}
		if len(sc.others) > 0 {
			// What these filters read of a candidate: its backend and
			// live state.
			probe.b, probe.snap.l = b, l
			for _, f := range sc.others {
				if f.exclude(pl, probe) != "" {
					continue backends
				}
			}
		}
		inflight := b.inflight.Load()
		cost := r.drift.latency(l, now) * float64(inflight+1)
		if cost < best {
			best = cost
		}
		// Field by field into place: a composite literal would be built
		// on the stack and copied.
		h := &hs[n]
		h.cost, h.tps, h.price, h.rank, h.quality = cost, l.tps, b.price, int32(l.rank), b.quality
		h.inflight, h.si = inflight, int32(i)
		n++
	}
	if n == 0 {
		return nil
	}
	hs = hs[:n]
	pl.bestCost, pl.bestPrice = best, st.bestPrice
	wD, wS := domainFit{}.weight(pl), speed{}.weight(pl)
	// top holds the k best so far, in order (ties to the earlier, as a
	// stable sort would): most backends lose to the k-th at once.
	top := sc.top[:0]
	for j := range hs {
		h := &hs[j]
		var last *ranked // the k-th so far, once there are k
		if len(top) == k {
			last = &hs[top[k-1]].ranked
			// Most backends lose to it at once, on the sort key ...
			if pl.sortBy != byScore {
				if l, decided := less(pl.sortBy, &h.ranked, last); decided && !l {
					continue
				}
			}
		}
		// In the full path's order of additions, so that scores agree
		// to the last bit.
		h.score = st.base[h.si]
		if wD != 0 {
			h.score += wD * domainScore(pl, st.backends[h.si])
		}
		if wS != 0 {
			// ... or on their best possible score (a live latency part
			// of 1), before the division that scores them exactly.
			// Rounding is monotonic, so the bound is never below the
			// exact score.
			if last != nil && wS > 0 && pl.sortBy == byScore && !(h.score+wS*speedScore(int(h.rank), 1, 1) > last.score) {
				continue
			}
			h.score += wS * speedScore(int(h.rank), h.cost, best)
		}
		if last != nil {
			if pl.sortBy == byScore && !(h.score > last.score) || pl.sortBy != byScore && !pl.better(&h.ranked, last) {
				continue
			}
			top = top[:k-1]
		}
		i := len(top)
		top = append(top, int32(j))
		for ; i > 0 && pl.better(&h.ranked, &hs[top[i-1]].ranked); i-- {
			top[i] = top[i-1]
		}
		top[i] = int32(j)
	}
	sc.top = top
	if cap(sc.cands) < len(top) {
		sc.cands = make([]cand, len(top))
	}
	out := sc.elig[:0]
	for i, j := range top {
		h := &hs[j]
		c := &sc.cands[i]
		*c = cand{b: st.backends[h.si], score: h.score, si: int(h.si)}
		c.snap = c.b.snapshotNs(now, &r.cfg)
		c.snap.cost = h.cost
		out = append(out, c)
	}
	sc.elig = out
	return out
}
