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
	// rest is ub without the blockScorers' bounds.
	rest []float64
	ix   *blockIndex
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
	ub, rest := make([]float64, len(st.backends)), make([]float64, len(st.backends))
	for i, b := range st.backends {
		ub[i], rest[i] = st.base[i], st.base[i]
		for _, l := range liveScores {
			ub[i] += l.s.staticBound(prof, b)
			if _, ok := l.s.(blockScorer); !ok {
				rest[i] += l.s.staticBound(prof, b)
			}
		}
	}
	perm := make([]int, len(ub))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(i, j int) bool { return ub[perm[i]] > ub[perm[j]] })
	bs, base := make([]*backend, len(perm)), make([]float64, len(perm))
	st.ub, st.rest = make([]float64, len(perm)), make([]float64, len(perm))
	for i, p := range perm {
		bs[i], base[i], st.ub[i], st.rest[i] = st.backends[p], st.base[p], ub[p], rest[p]
	}
	st.backends, st.base = bs, base
}

// bestFirst is how many blocks the search for the best cost takes lowest
// floor first before it takes the rest in order.
const bestFirst = 4

// blockSize is how many backends of a static set share a summary.
const blockSize = 32

// blockIndex keeps, per block of blockSize backends of a static set (in
// its order), what the best of them could reach on each thing a scan
// orders by: the lowest cost floor (costFloor), the fastest tier, the
// most tokens/s (live, kept by each member's publish: merged at once
// when a member gets better, worked out anew when one that may have held
// a best gets worse), the lowest price and the highest quality (fixed).
// A scan skips the blocks that cannot hold the best cost or beat the
// k-th best.
type blockIndex struct {
	st    *staticSet
	sum   []atomic.Pointer[blockLive]
	mu    []sync.Mutex // serialises each block's updates
	fixed []ranked     // price and quality
	// rest is the highest of the members' rest: with each blockScorer's
	// blockBound, a bound on their scores.
	rest []float64
	// first is the lowest catalog index among the members.
	first []int
}

// loses reports whether every member of block j, none of whose scores is
// over ub, ranks after last on the score (ties to the catalog's first).
func (x *blockIndex) loses(j int, ub float64, last *hot) bool {
	return ub < last.score || ub == last.score && x.first[j] > last.b.idx
}

// blockLive is the live part of a block's summary, replaced whole.
type blockLive struct {
	floor, tps float64
	rank       int32
}

// liveOf is what a member adds to its block's summary.
func liveOf(l *live) blockLive {
	return blockLive{floor: l.costFloor(), tps: l.tps, rank: int32(l.rank)}
}

func (s blockLive) merge(m blockLive) blockLive {
	return blockLive{floor: min(s.floor, m.floor), tps: max(s.tps, m.tps), rank: min(s.rank, m.rank)}
}

// blockRef is a block a backend is a member of.
type blockRef struct {
	x   *blockIndex
	blk int
}

func newBlockIndex(st *staticSet) *blockIndex {
	nb := (len(st.backends) + blockSize - 1) / blockSize
	x := &blockIndex{st: st, sum: make([]atomic.Pointer[blockLive], nb), mu: make([]sync.Mutex, nb), fixed: make([]ranked, nb), rest: make([]float64, nb), first: make([]int, nb)}
	for j := range nb {
		x.recompute(j)
		f := &x.fixed[j]
		x.rest[j] = math.Inf(-1)
		x.first[j] = math.MaxInt
		for i, b := range x.members(j) {
			x.first[j] = min(x.first[j], b.idx)
			x.rest[j] = max(x.rest[j], st.rest[j*blockSize+i])
			if i == 0 || b.price < f.price {
				f.price = b.price
			}
			f.quality = max(f.quality, b.quality)
		}
	}
	return x
}

func (x *blockIndex) members(j int) []*backend {
	return x.st.backends[j*blockSize : min((j+1)*blockSize, len(x.st.backends))]
}

// join makes the set's backends members of their blocks: from now on
// their publish keeps the summaries (the router is not yet in use).
func (x *blockIndex) join() {
	for i, b := range x.st.backends {
		b.in = append(b.in, blockRef{x, i / blockSize})
	}
}

func (x *blockIndex) floorOf(j int) float64 { return x.sum[j].Load().floor }

// bestOf is the best block j's members could rank on each key: a row no
// member can beat on the sort key asked for.
func (x *blockIndex) bestOf(j int) ranked {
	s := x.sum[j].Load()
	r := x.fixed[j]
	r.cost, r.tps, r.rank = s.floor, s.tps, s.rank
	return r
}

// bound is a bound on the score of block j's members under pl (the
// weights ws non-negative): their highest rest plus each blockScorer's
// blockBound (a hair under the bound's rounding is left to the margin
// the caller keeps).
func (x *blockIndex) bound(pl *plan, ws *[nScorers]float64, j int) float64 {
	// The block's best row lives in the plan: a pointer to a local
	// handed to an interface method would move it to the heap, one
	// allocation per block bounded.
	pl.bb = x.bestOf(j)
	s := x.rest[j]
	for _, l := range liveScores {
		if b, ok := l.s.(blockScorer); ok && ws[l.k] != 0 {
			s += b.blockBound(pl, ws[l.k], &pl.bb)
		}
	}
	return s
}

// recompute works out block j's summary from its members' published
// state; the block's mutex must be held (or the set not yet shared).
func (x *blockIndex) recompute(j int) {
	var s blockLive
	for i, b := range x.members(j) {
		m := liveOf(b.live.Load())
		if i == 0 {
			s = m
		}
		s = s.merge(m)
	}
	x.sum[j].Store(&s)
}

// note is told by a member of block j that its part moved from old to m
// (after it published the state m is of).
func (x *blockIndex) note(j int, old, m blockLive) {
	x.mu[j].Lock()
	defer x.mu[j].Unlock()
	cur := *x.sum[j].Load()
	if m.floor > old.floor && old.floor <= cur.floor || m.tps < old.tps && old.tps >= cur.tps || m.rank > old.rank && old.rank <= cur.rank {
		x.recompute(j) // it may have held a best
		return
	}
	if s := cur.merge(m); s != cur {
		x.sum[j].Store(&s)
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
	nb := len(st.ix.sum)
	if cap(sc.ls) < n {
		sc.ls, sc.out, sc.cost, sc.hot = make([]*live, n), make([]bool, n), make([]float64, n), make([]hot, 0, n)
	}
	if cap(sc.loaded) < nb {
		sc.loaded, sc.floor = make([]bool, nb), make([]float64, nb)
	}
	sc.loaded, sc.floor = sc.loaded[:nb], sc.floor[:nb]
	clear(sc.loaded)
	for j := range nb {
		sc.floor[j] = st.ix.floorOf(j)
	}
	sc.marks = pl.marks(sc.marks)
	ws := pl.weights()
	bounded := true // ub bounds every score
	lives := sc.lives[:0]
	for _, l := range liveScores {
		bounded = bounded && ws[l.k] >= 0
		if ws[l.k] != 0 {
			lives = append(lives, weighed{ws[l.k], l.s})
		}
	}
	sc.lives = lives
	prune := bounded && pl.sortBy == byScore
	// The best cost: the blocks of the lowest floors first (a few, then
	// in order), so that the best found soon skips the others.
	bestCost := math.Inf(1)
	for pick := 0; ; pick++ {
		j := -1
		if pick < bestFirst {
			f := bestCost
			for b, fb := range sc.floor {
				if !sc.loaded[b] && fb < f {
					j, f = b, fb
				}
			}
		} else {
			for b, fb := range sc.floor {
				if !sc.loaded[b] && fb < bestCost {
					j = b
					break
				}
			}
		}
		if j < 0 {
			break
		}
		bestCost = min(bestCost, r.load(pl, st, sc, j))
	}
	pl.bestCost, pl.bestPrice = bestCost, st.bestPrice
	hs, top := sc.hot[:0], sc.top[:0]
	for j := range nb {
		if len(top) == k {
			lastRow := &hs[top[k-1]]
			last := &lastRow.ranked
			if prune && st.ub[j*blockSize] < last.score {
				break // the set is in ub's order: nothing left can win
			}
			if prune && st.ix.loses(j, st.ub[j*blockSize], lastRow) {
				continue
			}
			if prune && st.ix.bound(pl, &ws, j) < last.score*(1-1e-12) {
				continue
			}
			if pl.sortBy != byScore {
				// No member beats last on the key unless bb does; one
				// that ties is ranked by its score.
				bb := st.ix.bestOf(j)
				if l, decided := less(pl.sortBy, last, &bb); decided && l || !decided && bounded && st.ix.loses(j, st.ub[j*blockSize], lastRow) {
					continue
				}
			}
		}
		if !sc.loaded[j] {
			r.load(pl, st, sc, j)
		}
		lo, hi := j*blockSize, min((j+1)*blockSize, n)
		from := len(hs)
		// Under a sort key, a row worse on its fields than the k-th
		// best loses to it (best would say so after a call).
		last1, last2 := math.Inf(1), math.Inf(1)
		if len(top) == k && pl.sortBy != byScore {
			last1, last2 = pl.sortBy.fields(&hs[top[k-1]].ranked)
		}
		// The block's rows as locals of one length, so that the loop
		// reads them without reloading or bounds checks.
		bs := st.backends[lo:hi]
		out, ls, cost, base := sc.out[lo:hi], sc.ls[lo:hi], sc.cost[lo:hi], st.base[lo:hi]
		out, ls, cost, base = out[:len(bs)], ls[:len(bs)], cost[:len(bs)], base[:len(bs)]
		for i, b := range bs {
			if out[i] {
				continue
			}
			l := ls[i]
			// Field by field into place (a composite literal would be
			// built on the stack and copied), in the row after hs's
			// last: it joins hs unless it loses on the sort key.
			h := &hs[:len(hs)+1][len(hs)]
			h.cost, h.tps, h.price, h.rank, h.quality = cost[i], l.tps, b.price, int32(l.rank), b.quality
			if !prune {
				if f1, f2 := pl.sortBy.fields(&h.ranked); f1 > last1 || f1 == last1 && f2 > last2 {
					continue
				}
			}
			hs = hs[:len(hs)+1]
			h.b, h.si, h.ub, h.score = b, int32(lo+i), base[i], 0
			if !prune {
				// No bounds to add first: the row is considered at once.
				top = best(pl, st, lives, prune, hs, len(hs)-1, top, k)
				if len(top) == k && pl.sortBy != byScore {
					last1, last2 = pl.sortBy.fields(&hs[top[k-1]].ranked)
				}
			}
		}
		if prune {
			for _, l := range liveScores {
				if w := ws[l.k]; w != 0 {
					l.s.addBound(pl, w, hs[from:])
				}
			}
			for x := from; x < len(hs); x++ {
				top = best(pl, st, lives, prune, hs, x, top, k)
			}
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

// load reads block j of st, once per decision: each backend's live state
// (one atomic load) into sc.ls, what a filter excludes into sc.out (see
// admit) and each admitted one's load cost (PeakEWMA latency as of now ×
// (in-flight + 1)) into sc.cost. It returns the lowest of those costs.
func (r *Router) load(pl *plan, st *staticSet, sc *scratch, j int) float64 {
	lo, hi := j*blockSize, min((j+1)*blockSize, len(st.backends))
	sc.loaded[j] = true
	v := &sc.view
	*v = *st
	v.backends, v.base, v.ub = st.backends[lo:hi], st.base[lo:hi], st.ub[lo:hi]
	bs := v.backends
	ls, out, cost := sc.ls[lo:hi], sc.out[lo:hi], sc.cost[lo:hi]
	ls, out, cost = ls[:len(bs)], out[:len(bs)], cost[:len(bs)]
	// The route object's fixed rules as one bit when Router.ParseRoute
	// applied them.
	if ex := pl.routeExcluded; ex != nil {
		for i, b := range bs {
			ls[i], out[i] = b.live.Load(), ex.has(b.idx)
		}
	} else {
		for i, b := range bs {
			ls[i], out[i] = b.live.Load(), false
		}
	}
	admit(pl, v, ls, out, sc)
	best := math.Inf(1)
	d, now := r.drift, pl.nowNs
	for i, b := range bs {
		if !out[i] {
			c := d.latency(ls[i], now) * float64(b.inflight.Load()+1)
			cost[i] = c
			best = min(best, c)
		}
	}
	return best
}

// marks returns the filters a scan runs on each block under pl: a route
// object's fixed filters when Router.ParseRoute did not apply them, and
// the live filters that bind.
func (pl *plan) marks(buf []filterKind) []filterKind {
	buf = buf[:0]
	if rt := pl.q.Route; rt != nil && pl.routeExcluded == nil {
		for _, k := range filterKinds {
			if k.fixed != nil && k.fixed.binds(noProfile, rt) {
				buf = append(buf, k)
			}
		}
	}
	for _, k := range filterKinds {
		if k.live != nil && k.live.binds(pl) {
			buf = append(buf, k)
		}
	}
	return buf
}

// admit marks in out what sc.marks exclude of st's backends, ls being
// their live state: a fixed filter through its exclude, a live filter
// through its mark.
func admit(pl *plan, st *staticSet, ls []*live, out []bool, sc *scratch) {
	for _, k := range sc.marks {
		if k.live != nil {
			k.live.mark(pl, st, ls, out)
		} else {
			markFixed(pl, k.f, st, out, &sc.probe)
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

// weighed is a live scorer with its weight under a plan (not 0).
type weighed struct {
	w float64
	s liveScorer
}

// best considers row x of hs for top, the indexes in hs of the k best so
// far, in order (ties to the earlier in the catalog, as the full path's
// stable sort): most rows lose to the k-th at once, on the sort key or
// on a bound of their score (the fixed part plus each live scorer's
// bound, when bound), before they are scored exactly.
func best(pl *plan, st *staticSet, lives []weighed, bound bool, hs []hot, x int, top []int32, k int) []int32 {
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
	for _, l := range lives {
		h.score += l.w * l.s.rowScore(pl, h)
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
// earlier in the catalog. (It is better(a, b) || !better(b, a) && the
// catalog order, with the sort key compared once: scores are never NaN.)
func (pl *plan) before(a, b *hot) bool {
	if pl.sortBy != byScore {
		if l, decided := less(pl.sortBy, &a.ranked, &b.ranked); decided {
			return l
		}
	}
	if a.score != b.score {
		return a.score > b.score
	}
	return a.b.idx < b.b.idx
}
