package router

import (
	"github.com/tiergate/tiergate/internal/config"
)

// Every routing rule is a small type in its own file (filter_*.go,
// score_*.go) behind one of the interfaces below, listed once in registry.
// The full path (explain, errors, pinned models) runs each rule's exclude
// or score on every backend; the fast paths are derived from the same
// declarations:
//
//   - a fixedFilter depends only on the profile, the task needs, the route
//     object and the catalog, so a profile's static sets (static.go) call
//     its exclude once per backend when the router is built, and a route
//     object parsed by Router.ParseRoute once per distinct object;
//   - a liveFilter reads live state or the request's size: it provides
//     mark, the form the scan runs over a static set on every decision;
//   - a fixedScorer's weighted part is summed into a static set's base;
//   - a liveScorer provides the scan's forms: bounds on its score over
//     any live state and over a block of a static set (so that a scan
//     skips the blocks that cannot beat the k-th best), and its exact
//     score on a row, one row or a block's rows at once.
//
// Each rule's test holds its forms to the same verdicts.

// A rule is one routing rule: a filter or a scorer.
type rule interface {
	// name is what explain and errors call the rule.
	name() string
}

// A filter excludes candidates that must not serve a request, whatever
// their score. Explain lists which one excluded what.
type filter interface {
	rule
	// exclude returns why c is out under pl, "" when it may serve; the
	// word excluded when !pl.explain.
	exclude(pl *plan, c *cand) string
}

// A fixedFilter's verdict never depends on live state (see registry).
type fixedFilter interface {
	filter
	// binds reports whether p or rt sets the rule's bound: when neither
	// does, the rule admits every backend and need not run.
	binds(p *config.Profile, rt *Route) bool
}

// A liveFilter reads live state or the request's size (see registry).
type liveFilter interface {
	filter
	// binds reports whether the rule can exclude anything under pl.
	binds(pl *plan) bool
	// mark sets out[i] for each backend i of the static set that exclude
	// would exclude, ls[i] being its live state (and leaves the others).
	mark(pl *plan, st *staticSet, ls []*live, out []bool)
}

// A scorer rates a candidate from 0 (worst) to 1 (best) on one component,
// weighed by the profile.
type scorer interface {
	rule
	weight(pl *plan) float64
	score(pl *plan, c *cand) float64
}

// A fixedScorer's score depends only on the profile and the catalog (the
// best price being a static set's): it reads no live state.
type fixedScorer interface {
	scorer
	fixed()
}

// A liveScorer reads the request or live state (see registry).
type liveScorer interface {
	scorer
	// rowScore is score on a scan row.
	rowScore(pl *plan, h *hot) float64
	// addScore adds w × rowScore to every row's score: a scan scores the
	// rows it reads a scorer at a time, with no call per row.
	addScore(pl *plan, w float64, hs []hot)
	// staticBound is a bound on weight × rowScore for b under any request
	// of profile p and any live state, when the weight is not negative: a
	// static set is ordered by it (static.go), so that a scan can stop
	// where nothing left can beat the k-th best.
	staticBound(p *config.Profile, b *backend) float64
}

// A blockScorer is a liveScorer that can also bound its score over a
// block of a static set from the block's summary (static.go).
type blockScorer interface {
	liveScorer
	// blockBound is w × a bound on rowScore for any backend that ranks
	// no better than bb on each field (w >= 0).
	blockBound(pl *plan, w float64, bb *ranked) float64
}

// registry lists every rule once: filters in the order they run (the first
// that objects names the reason), scorers in the order explain and
// reasons read them (the first of equals names the reason).
var registry = []rule{
	availability{}, openness{}, deployment{}, task{}, params{}, contextWindow{}, onlyIgnore{}, minTier{}, maxTTFT{}, maxPrice{},
	prefer{}, domainFit{}, speed{}, price{}, quality{},
}

// nScorers is how many scorers registry holds (a cand keeps one part each).
const nScorers = 5

// The registry, split by kind. Scores are summed fixed scorers first,
// then live ones, each in registry's order, on every path, so that the fast
// and the full path agree to the last bit.
var (
	filters      = kinds[filter](registry)
	filterKinds  = filterKindsOf(filters)
	fixedFilters = kinds[fixedFilter](registry)
	liveFilters  = kinds[liveFilter](registry)
	scorers      = scorersOf(registry)
	fixedScores  = indexes[fixedScorer](scorers)
	liveScores   = livesOf(scorers)
)

func kinds[T rule](rs []rule) []T {
	var out []T
	for _, r := range rs {
		if t, ok := r.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func scorersOf(rs []rule) [nScorers]scorer {
	s := kinds[scorer](rs)
	if len(s) != nScorers {
		panic("router: nScorers is not the number of scorers in registry")
	}
	return [nScorers]scorer(s)
}

// indexes returns the positions in s of the scorers of kind T.
func indexes[T scorer](s [nScorers]scorer) []int {
	var out []int
	for i, x := range s {
		if _, ok := x.(T); ok {
			out = append(out, i)
		}
	}
	return out
}

// liveAt is a live scorer and its position in scorers.
type liveAt struct {
	k int
	s liveScorer
}

func livesOf(s [nScorers]scorer) []liveAt {
	var out []liveAt
	for i, x := range s {
		if l, ok := x.(liveScorer); ok {
			out = append(out, liveAt{i, l})
		}
	}
	return out
}

// excluded is what a filter says when words are not needed.
const excluded = "excluded"

// noProfile is the profile of a rule's route part alone.
var noProfile = &config.Profile{}

// active returns the filters that can object to anything under pl: a
// rule whose bound is not set is skipped (a decision over hundreds of
// backends pays only for the rules in play). Explain runs them all.
func (pl *plan) active(buf []filter) []filter {
	if pl.explain {
		return append(buf[:0], filters...) // a copy: buf is reused
	}
	buf = buf[:0]
	for _, k := range filterKinds {
		if k.fixed != nil && k.fixed.binds(pl.p, pl.q.Route) || k.live != nil && k.live.binds(pl) {
			buf = append(buf, k.f)
		}
	}
	return buf
}

// filterKind is a filter with its kind resolved once, so that choosing
// the active filters makes no type assertions.
type filterKind struct {
	f     filter
	fixed fixedFilter // nil for a live filter
	live  liveFilter  // nil for a fixed filter
}

func filterKindsOf(fs []filter) []filterKind {
	out := make([]filterKind, len(fs))
	for i, f := range fs {
		out[i].f = f
		out[i].fixed, _ = f.(fixedFilter)
		out[i].live, _ = f.(liveFilter)
	}
	return out
}
