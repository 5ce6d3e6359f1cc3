package router

import (
	"math"

	"github.com/tiergate/tiergate/internal/config"
)

// staticKey names a staticSet.
type staticKey struct {
	profile string
	need    taskSet
}

// staticSet is what a profile decides once for all requests with the same
// task needs: the backends its fixed filters admit, each with the
// weighted sum of its fixed scorers (base), and the cheapest price among
// them. A decision then reads only live state per backend.
type staticSet struct {
	backends  []*backend
	base      []float64
	bestPrice float64
	// minWindow is the smallest context window known among backends (0
	// for none): a request within it fits them all (contextWindow.binds).
	minWindow int
}

// buildStatic runs every fixed filter and fixed scorer of profile name on
// every backend, once.
func (r *Router) buildStatic(name string, prof *config.Profile, need taskSet) *staticSet {
	st := &staticSet{}
	pl := &plan{q: &Query{}, profile: name, p: prof, needSet: need, preferScore: r.prefer[name]}
	c := &cand{}
backends:
	for _, b := range r.order {
		c.b = b
		for _, f := range fixedFilters {
			if f.binds(prof, nil) && f.exclude(pl, c) != "" {
				continue backends
			}
		}
		if len(st.backends) == 0 || b.price < st.bestPrice {
			st.bestPrice = b.price
		}
		if w := b.ctxWindow; w > 0 && (st.minWindow == 0 || w < st.minWindow) {
			st.minWindow = w
		}
		st.backends = append(st.backends, b)
	}
	pl.bestPrice = st.bestPrice
	ws := pl.weights()
	for _, b := range st.backends {
		c.b = b
		s := 0.0 // in sum's order
		for _, k := range fixedScores {
			s += ws[k] * scorers[k].score(pl, c)
		}
		st.base = append(st.base, s)
	}
	return st
}

// hot is an admitted backend as the scan's ranking sees it.
type hot struct {
	ranked
	ub float64 // a bound on score: base, plus each liveScorer's bound
	b  *backend
	si int32
}

// scan is a decision over a static set (every decision but explain's and
// a pinned model's), made for speed. It chooses what the full path does
// (TestStaticPathAgreesWithExplain) and returns the k best, in order, or
// nil when no backend is eligible: the full path then says why.
func (r *Router) scan(pl *plan, st *staticSet, sc *scratch, k int) []*cand {
	ls, out := admit(pl, st, sc)
	hs := r.priced(pl, st, ls, out, sc)
	if len(hs) == 0 {
		return nil
	}
	top := best(pl, st, hs, sc, k)
	if cap(sc.cands) < len(top) {
		sc.cands = make([]cand, len(top))
	}
	elig := sc.elig[:0]
	for i, j := range top {
		h := &hs[j]
		c := &sc.cands[i]
		*c = cand{b: h.b, score: h.score}
		c.snap = c.b.snapshotNs(pl.nowNs, &r.cfg)
		c.snap.cost = h.cost
		elig = append(elig, c)
	}
	sc.elig = elig
	return elig
}

// admit reads each backend's live state once (one atomic load) into ls
// and marks in out what a filter excludes: the route object's fixed
// filters as one bit when Router.ParseRoute applied them (else through
// their exclude), the live filters through their mark.
func admit(pl *plan, st *staticSet, sc *scratch) (ls []*live, out []bool) {
	n := len(st.backends)
	if cap(sc.ls) < n {
		sc.ls, sc.out = make([]*live, n), make([]bool, n)
	}
	ls, out = sc.ls[:n], sc.out[:n]
	for i, b := range st.backends {
		ls[i] = b.live.Load()
	}
	clear(out)
	if ex := pl.routeExcluded; ex != nil {
		for i, b := range st.backends {
			out[i] = ex.has(b.idx)
		}
	} else if rt := pl.q.Route; rt != nil {
		for _, f := range fixedFilters {
			if f.binds(noProfile, rt) {
				markFixed(pl, f, st, out, &sc.probe)
			}
		}
	}
	for _, f := range liveFilters {
		if f.binds(pl) {
			f.mark(pl, st, ls, out)
		}
	}
	return ls, out
}

// markFixed is mark for a fixed filter, which reads only the backend.
func markFixed(pl *plan, f filter, st *staticSet, out []bool, probe *cand) {
	for i, b := range st.backends {
		probe.b = b
		if !out[i] && f.exclude(pl, probe) != "" {
			out[i] = true
		}
	}
}

// priced makes a ranking row of each admitted backend, with its load
// cost (PeakEWMA latency as of now × (in-flight + 1)), and sets the
// plan's best cost and price.
func (r *Router) priced(pl *plan, st *staticSet, ls []*live, out []bool, sc *scratch) []hot {
	if cap(sc.hot) < len(ls) {
		sc.hot = make([]hot, len(ls))
	}
	hs := sc.hot[:len(ls)]
	n := 0
	bestCost := math.Inf(1)
	bs, base, out := st.backends[:len(ls)], st.base[:len(ls)], out[:len(ls)]
	for i, l := range ls {
		if out[i] {
			continue
		}
		b := bs[i]
		cost := r.drift.latency(l, pl.nowNs) * float64(b.inflight.Load()+1)
		bestCost = min(bestCost, cost)
		// Field by field into place: a composite literal would be built
		// on the stack and copied.
		h := &hs[n]
		h.cost, h.tps, h.price, h.rank, h.quality = cost, l.tps, b.price, int32(l.rank), b.quality
		h.b, h.si, h.ub = b, int32(i), base[i]
		n++
	}
	pl.bestCost, pl.bestPrice = bestCost, st.bestPrice
	return hs[:n]
}

// best returns the indexes in hs of the k best, in order (ties to the
// earlier, as a stable sort would), in one pass. Most rows lose to the
// k-th so far at once: on the sort key, or on a bound of their score
// (the fixed part plus each live scorer's bound), before they are
// scored exactly.
func best(pl *plan, st *staticSet, hs []hot, sc *scratch, k int) []int32 {
	ws := pl.weights()
	bound := pl.sortBy == byScore
	for _, l := range liveScores {
		bound = bound && ws[l.k] >= 0
	}
	if bound {
		for _, l := range liveScores {
			if w := ws[l.k]; w != 0 {
				l.s.addBound(pl, w, hs)
			}
		}
	}
	top := sc.top[:0]
	for j := range hs {
		h := &hs[j]
		var last *ranked // the k-th so far, once there are k
		if len(top) == k {
			last = &hs[top[k-1]].ranked
			if pl.sortBy != byScore {
				if l, decided := less(pl.sortBy, &h.ranked, last); decided && !l {
					continue
				}
			} else if bound && !(h.ub > last.score) {
				continue
			}
		}
		h.score = st.base[h.si] // in sum's order
		for _, l := range liveScores {
			if w := ws[l.k]; w != 0 {
				h.score += w * l.s.rowScore(pl, h)
			}
		}
		if last != nil {
			if !pl.better(&h.ranked, last) {
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
	return top
}
