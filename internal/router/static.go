package router

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

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
	// ub is each backend's bound on its score (order), best first.
	ub []float64
	ix *blockIndex
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
	st.order(prof)
	st.ix = newBlockIndex(st)
	return st
}

// order sorts the set by the best score each backend could reach (ub):
// the base plus each live scorer's static bound, in sum's order; ties in
// catalog order. The scan then reads it best first and stops where
// nothing left can beat the k-th best.
func (st *staticSet) order(prof *config.Profile) {
	ub := make([]float64, len(st.backends))
	for i, b := range st.backends {
		ub[i] = st.base[i]
		for _, l := range liveScores {
			ub[i] += l.s.staticBound(prof, b)
		}
	}
	perm := make([]int, len(ub))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(i, j int) bool { return ub[perm[i]] > ub[perm[j]] })
	bs, base := make([]*backend, len(perm)), make([]float64, len(perm))
	st.ub = make([]float64, len(perm))
	for i, p := range perm {
		bs[i], base[i], st.ub[i] = st.backends[p], st.base[p], ub[p]
	}
	st.backends, st.base = bs, base
}

// blockSize is how many backends of a static set share a cost floor.
const blockSize = 64

// blockIndex keeps, per block of blockSize backends of a static set (in
// its order), a floor under their load costs, so that finding the best
// cost skips the blocks that cannot hold it. Each member's publish keeps
// it (note): lowered at once when a member's floor falls, worked out
// anew when the member that held it rises.
type blockIndex struct {
	st    *staticSet
	floor []atomic.Uint64 // float64 bits
	mu    []sync.Mutex    // serialises each block's updates
}

// blockRef is a block a backend is a member of.
type blockRef struct {
	x   *blockIndex
	blk int
}

func newBlockIndex(st *staticSet) *blockIndex {
	nb := (len(st.backends) + blockSize - 1) / blockSize
	x := &blockIndex{st: st, floor: make([]atomic.Uint64, nb), mu: make([]sync.Mutex, nb)}
	for j := range nb {
		x.recompute(j)
	}
	return x
}

// join makes the set's backends members of their blocks: from now on
// their publish keeps the floors (the router is not yet in use).
func (x *blockIndex) join() {
	for i, b := range x.st.backends {
		b.in = append(b.in, blockRef{x, i / blockSize})
	}
}

func (x *blockIndex) floorOf(j int) float64 { return math.Float64frombits(x.floor[j].Load()) }

// recompute sets block j's floor from its members' published state; the
// block's mutex must be held (or the set not yet shared).
func (x *blockIndex) recompute(j int) {
	f := math.Inf(1)
	for _, b := range x.st.backends[j*blockSize : min((j+1)*blockSize, len(x.st.backends))] {
		f = min(f, b.live.Load().costFloor())
	}
	x.floor[j].Store(math.Float64bits(f))
}

// note is told by a member of block j that its floor moved from old to
// f (after it published the state f is of).
func (x *blockIndex) note(j int, old, f float64) {
	x.mu[j].Lock()
	defer x.mu[j].Unlock()
	cur := x.floorOf(j)
	switch {
	case f < cur:
		x.floor[j].Store(math.Float64bits(f))
	case f > old && old <= cur:
		x.recompute(j) // it may have held the floor
	}
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
//
// It reads the set a block at a time and only the blocks it needs: first
// those whose cost floor is below the best cost found so far (the speed
// score divides by the best cost among all admitted), then, best bound
// first, those until the k-th best beats the bound of every backend left.
func (r *Router) scan(pl *plan, st *staticSet, sc *scratch, k int) []*cand {
	n := len(st.backends)
	nb := len(st.ix.floor)
	if cap(sc.ls) < n {
		sc.ls, sc.out, sc.cost, sc.hot = make([]*live, n), make([]bool, n), make([]float64, n), make([]hot, 0, n)
	}
	if cap(sc.loaded) < nb {
		sc.loaded = make([]bool, nb)
	}
	sc.loaded = sc.loaded[:nb]
	clear(sc.loaded)
	ws := pl.weights()
	prune := pl.sortBy == byScore
	for _, l := range liveScores {
		prune = prune && ws[l.k] >= 0
	}
	bestCost := math.Inf(1)
	for j := range nb {
		if st.ix.floorOf(j) >= bestCost {
			continue
		}
		lo, hi := r.load(pl, st, sc, j)
		for i := lo; i < hi; i++ {
			if !sc.out[i] {
				bestCost = min(bestCost, sc.cost[i])
			}
		}
	}
	pl.bestCost, pl.bestPrice = bestCost, st.bestPrice
	hs, top := sc.hot[:0], sc.top[:0]
	for j := range nb {
		if prune && len(top) == k && st.ub[j*blockSize] < hs[top[k-1]].score {
			break
		}
		lo, hi := r.load(pl, st, sc, j)
		from := len(hs)
		for i := lo; i < hi; i++ {
			if sc.out[i] {
				continue
			}
			b, l := st.backends[i], sc.ls[i]
			hs = hs[:len(hs)+1]
			// Field by field into place: a composite literal would be
			// built on the stack and copied.
			h := &hs[len(hs)-1]
			h.cost, h.tps, h.price, h.rank, h.quality = sc.cost[i], l.tps, b.price, int32(l.rank), b.quality
			h.b, h.si, h.ub, h.score = b, int32(i), st.base[i], 0
		}
		if prune {
			for _, l := range liveScores {
				if w := ws[l.k]; w != 0 {
					l.s.addBound(pl, w, hs[from:])
				}
			}
		}
		for x := from; x < len(hs); x++ {
			top = best(pl, st, &ws, prune, hs, x, top, k)
		}
	}
	sc.hot, sc.top = hs, top
	if len(top) == 0 {
		return nil
	}
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

// load reads block j of st once per decision: each backend's live state
// (one atomic load) into sc.ls, what a filter excludes into sc.out (see
// admit) and each admitted one's load cost (PeakEWMA latency as of now ×
// (in-flight + 1)) into sc.cost. It returns the block's bounds in st.
func (r *Router) load(pl *plan, st *staticSet, sc *scratch, j int) (lo, hi int) {
	lo, hi = j*blockSize, min((j+1)*blockSize, len(st.backends))
	if sc.loaded[j] {
		return lo, hi
	}
	sc.loaded[j] = true
	v := &sc.view
	*v = *st
	v.backends, v.base, v.ub = st.backends[lo:hi], st.base[lo:hi], st.ub[lo:hi]
	ls, out := sc.ls[lo:hi], sc.out[lo:hi]
	for i, b := range v.backends {
		ls[i] = b.live.Load()
	}
	admit(pl, v, ls, out, &sc.probe)
	for i, b := range v.backends {
		if !out[i] {
			sc.cost[lo+i] = r.drift.latency(ls[i], pl.nowNs) * float64(b.inflight.Load()+1)
		}
	}
	return lo, hi
}

// admit marks in out what a filter excludes of st's backends, ls being
// their live state: the route object's fixed filters as one bit when
// Router.ParseRoute applied them (else through their exclude), the live
// filters through their mark.
func admit(pl *plan, st *staticSet, ls []*live, out []bool, probe *cand) {
	clear(out)
	if ex := pl.routeExcluded; ex != nil {
		for i, b := range st.backends {
			out[i] = ex.has(b.idx)
		}
	} else if rt := pl.q.Route; rt != nil {
		for _, f := range fixedFilters {
			if f.binds(noProfile, rt) {
				markFixed(pl, f, st, out, probe)
			}
		}
	}
	for _, f := range liveFilters {
		if f.binds(pl) {
			f.mark(pl, st, ls, out)
		}
	}
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

// best considers row x of hs for top, the indexes in hs of the k best so
// far, in order (ties to the earlier in the catalog, as the full path's
// stable sort): most rows lose to the k-th at once, on the sort key or
// on a bound of their score (the fixed part plus each live scorer's
// bound, when bound), before they are scored exactly.
func best(pl *plan, st *staticSet, ws *[nScorers]float64, bound bool, hs []hot, x int, top []int32, k int) []int32 {
	h := &hs[x]
	var last *hot // the k-th so far, once there are k
	if len(top) == k {
		last = &hs[top[k-1]]
		if pl.sortBy != byScore {
			if l, decided := less(pl.sortBy, &h.ranked, &last.ranked); decided && !l {
				return top
			}
		} else if bound && (!(h.ub >= last.score) || h.ub == last.score && h.b.idx > last.b.idx) {
			return top
		}
	}
	h.score = st.base[h.si] // in sum's order
	for _, l := range liveScores {
		if w := ws[l.k]; w != 0 {
			h.score += w * l.s.rowScore(pl, h)
		}
	}
	if last != nil {
		if !pl.before(h, last) {
			return top
		}
		top = top[:k-1]
	}
	i := len(top)
	top = append(top, int32(x))
	for ; i > 0 && pl.before(h, &hs[top[i-1]]); i-- {
		top[i] = top[i-1]
	}
	top[i] = int32(x)
	return top
}

// before orders scan rows as the full path does: better, ties to the
// earlier in the catalog.
func (pl *plan) before(a, b *hot) bool {
	if pl.better(&a.ranked, &b.ranked) {
		return true
	}
	return !pl.better(&b.ranked, &a.ranked) && a.b.idx < b.b.idx
}
