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

// fusedMax is the largest static set a scan under a sort key reads whole
// rather than a block at a time: it reads every block whose cost floor
// is under the best cost, which in a set this small is all of them, and
// one pass over the set costs less than passes over each block. On
// scores, the blocks' bounds skip blocks of any set over two blocks.
const fusedMax = 8 * blockSize

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
// Reading a block (load) makes its admitted backends rows at once; a
// block it takes is scored a live scorer at a time (addScore), and its
// rows then race for the k best (topOf).
func (r *Router) scan(pl *plan, st *staticSet, sc *scratch, k int) []*cand {
	n := len(st.backends)
	nb := len(st.ix.sum)
	if cap(sc.hot) < n {
		sc.hot = make([]hot, 0, n)
	}
	if m := max(blockSize, fusedMax); cap(sc.ls) < m {
		sc.ls, sc.adm, sc.out, sc.cost, sc.at = make([]*live, m), make([]*live, m), make([]bool, m), make([]float64, m), make([]int32, m)
	}
	sc.hot = sc.hot[:0]
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
	if n <= 2*blockSize || !prune && n <= fusedMax {
		// A set the index cannot prune: read it whole, in one pass for
		// its live state, one per live scorer for the scores and one for
		// the k best.
		pl.bestCost, pl.bestPrice = r.loadRange(pl, st, sc, 0, n), st.bestPrice
		for _, l := range lives {
			l.s.addScore(pl, l.w, sc.hot) // in sum's order, after the base
		}
		sc.top = pl.topOf(sc.hot, 0, len(sc.hot), sc.top[:0], k)
		return r.chosen(pl, sc)
	}
	if cap(sc.loaded) < nb {
		sc.loaded, sc.floor, sc.rows = make([]bool, nb), make([]float64, nb), make([]rowSpan, nb)
	}
	sc.loaded, sc.floor, sc.rows = sc.loaded[:nb], sc.floor[:nb], sc.rows[:nb]
	clear(sc.loaded)
	for j := range nb {
		sc.floor[j] = st.ix.floorOf(j)
	}
	if rb := pl.q.Route.routeBlocks(pl.routeExcluded); rb != nil {
		// A block the route's exclusions leave nothing of is read as
		// empty: its floor and bounds are its members', most of them
		// out.
		for j, holds := range rb.of(st.ix) {
			if !holds {
				sc.loaded[j], sc.rows[j] = true, rowSpan{}
			}
		}
	}
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
	top := sc.top[:0]
	for j := range nb {
		if len(top) == k {
			hs := sc.hot
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
		from, to := int(sc.rows[j].from), int(sc.rows[j].to)
		if len(top) == k && pl.sortBy != byScore {
			// Most rows of a big set lose on the key to the k-th best:
			// only the others are scored.
			to = from + pl.notWorse(sc.hot[from:to], &sc.hot[top[k-1]])
		}
		for _, l := range lives {
			l.s.addScore(pl, l.w, sc.hot[from:to]) // in sum's order, after the base
		}
		top = pl.topOf(sc.hot, from, to, top, k)
	}
	sc.top = top
	return r.chosen(pl, sc)
}

// chosen returns the rows sc.top names as candidates, in order (nil for
// none).
func (r *Router) chosen(pl *plan, sc *scratch) []*cand {
	top := sc.top
	if len(top) == 0 {
		return nil
	}
	if cap(sc.cands) < len(top) {
		sc.cands = make([]cand, len(top))
	}
	elig := sc.elig[:0]
	for i, j := range top {
		h := &sc.hot[j]
		c := &sc.cands[i]
		*c = cand{b: h.b, score: h.score}
		c.snap = c.b.snapshotNs(pl.nowNs, &r.cfg)
		c.snap.cost = h.cost
		elig = append(elig, c)
	}
	sc.elig = elig
	return elig
}

// rowSpan is where a loaded block's rows are in the scan's rows.
type rowSpan struct{ from, to int32 }

// load reads block j of st, once per decision: each backend's live state
// (one atomic load) into sc.ls, what a filter excludes into sc.out (see
// admit), and then each admitted one as a row of sc.hot, priced at its
// load cost (PeakEWMA latency as of now × (in-flight + 1)), with its
// fixed part as its bound so far. It returns the lowest of those costs.
func (r *Router) load(pl *plan, st *staticSet, sc *scratch, j int) float64 {
	sc.loaded[j] = true
	from := len(sc.hot)
	best := r.loadRange(pl, st, sc, j*blockSize, min((j+1)*blockSize, len(st.backends)))
	sc.rows[j] = rowSpan{int32(from), int32(len(sc.hot))}
	return best
}

// loadRange is load for backends lo to hi of st.
func (r *Router) loadRange(pl *plan, st *staticSet, sc *scratch, lo, hi int) float64 {
	v := &sc.view
	*v = *st
	v.backends, v.base, v.ub = st.backends[lo:hi], st.base[lo:hi], st.ub[lo:hi]
	bs := v.backends
	ls, out := sc.ls[:len(bs)], sc.out[:len(bs)]
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
	// The admitted, listed without a branch on which are out (whose
	// pattern no predictor knows), then made rows.
	at := sc.at[:len(bs)]
	m := 0
	for i := range out {
		at[m] = int32(i)
		if !out[i] {
			m++
		}
	}
	from := len(sc.hot)
	hs, adm, at := sc.hot[from:from+m], sc.adm[:m], at[:m]
	base := v.base
	for x, i := range at {
		b, l := bs[i], ls[i]
		// Field by field into place (a composite literal would be built
		// on the stack and copied).
		h := &hs[x]
		h.tps, h.price, h.rank, h.quality = l.tps, b.price, int32(l.rank), b.quality
		h.b, h.si, h.score = b, int32(lo)+i, base[i]
		adm[x] = l
	}
	cost := sc.cost[:m]
	r.drift.latencies(adm, pl.nowNs, cost)
	best := math.Inf(1)
	for x := range hs {
		h := &hs[x]
		c := cost[x] * float64(h.b.inflight.Load()+1)
		h.cost = c
		best = min(best, c)
	}
	sc.hot = sc.hot[:from+m]
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

// topOf considers rows from to to of hs for top, the indexes in hs of the
// k best so far, in order (ties to the earlier in the catalog, as the
// full path's stable sort), every row scored exactly: most lose to the
// k-th at once, compared as before compares them with the k-th's fields
// held.
func (pl *plan) topOf(hs []hot, from, to int, top []int32, k int) []int32 {
	byKey := pl.sortBy != byScore
	var last1, last2, lastScore float64
	lastIdx := -1 // none yet: every row is in until there are k
	if len(top) == k {
		last := &hs[top[k-1]]
		last1, last2 = pl.sortBy.fields(&last.ranked)
		lastScore, lastIdx = last.score, last.b.idx
	}
	for x := from; x < to; x++ {
		h := &hs[x]
		if lastIdx >= 0 {
			if byKey {
				f1, f2 := pl.sortBy.fields(&h.ranked)
				if f1 > last1 || f1 == last1 && (f2 > last2 || f2 == last2 && !(h.score > lastScore || h.score == lastScore && h.b.idx < lastIdx)) {
					continue
				}
			} else if !(h.score > lastScore || h.score == lastScore && h.b.idx < lastIdx) {
				continue
			}
			top = top[:k-1]
		}
		i := len(top)
		top = append(top, int32(x))
		for ; i > 0 && pl.before(h, &hs[top[i-1]]); i-- {
			top[i] = top[i-1]
		}
		top[i] = int32(x)
		if len(top) == k {
			last := &hs[top[k-1]]
			last1, last2 = pl.sortBy.fields(&last.ranked)
			lastScore, lastIdx = last.score, last.b.idx
		}
	}
	return top
}

// notWorse moves to the front of hs the rows that are not worse than
// last on the sort key (the others lose to it whatever their scores),
// without a branch on which, and returns how many they are.
func (pl *plan) notWorse(hs []hot, last *hot) int {
	last1, last2 := pl.sortBy.fields(&last.ranked)
	m := 0
	for x := range hs {
		f1, f2 := pl.sortBy.fields(&hs[x].ranked)
		hs[m] = hs[x]
		if !(f1 > last1 || f1 == last1 && f2 > last2) {
			m++
		}
	}
	return m
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
