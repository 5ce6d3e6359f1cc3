package router

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// The helpers each rule's table test uses: a backend in a given live
// state, a plan, and the checks that a rule's forms agree.

// t0 is the rule tests' clock.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testOpenFor is how long a circuit stays open in the rule tests.
const testOpenFor = 30 * time.Second

// ruleModel is a chat model with the fields the rules read.
func ruleModel(id string, edit func(m *catalog.Model)) *catalog.Model {
	m := &catalog.Model{ID: id, Provider: "p", Openness: catalog.OpenWeight, Deployment: catalog.Local,
		Tasks: []catalog.Task{catalog.Chat}, ContextWindow: 8192, TierPrior: catalog.Fast, Quality: 50,
		Price: catalog.Price{Input: 1, Output: 3}}
	if edit != nil {
		edit(m)
	}
	return m
}

// ruleBackend is a backend of m whose live state is l with edit applied
// (l starts as a fresh backend's).
func ruleBackend(m *catalog.Model, edit func(l *live)) *backend {
	b := newBackend(m, nil, t0)
	l := *b.live.Load()
	if edit != nil {
		edit(&l)
	}
	b.live.Store(&l)
	return b
}

// rulePlan is a plan at t0 under profile p (none when nil) for q.
func rulePlan(p *config.Profile, q *Query) *plan {
	if p == nil {
		p = noProfile
	}
	if q == nil {
		q = &Query{Task: catalog.Chat}
	}
	pl := &plan{q: q, profile: "test", p: p, now: t0, nowNs: t0.UnixNano(), openFor: int64(testOpenFor)}
	pl.need = append(pl.need, q.Task)
	if q.Vision {
		pl.need = append(pl.need, catalog.Vision)
	}
	if q.Tools {
		pl.need = append(pl.need, catalog.Tools)
	}
	pl.need = append(pl.need, p.Require...)
	pl.needSet = tasksOf(pl.need)
	return pl
}

// candOf is b as the full path sees it under pl.
func candOf(pl *plan, b *backend) *cand {
	cfg := config.Router{Breaker: config.Breaker{OpenFor: time.Duration(pl.openFor)}}
	return &cand{b: b, snap: b.snapshotNs(pl.nowNs, &cfg)}
}

// excludes runs f's full form on b, with and without words, and checks
// that both say the same.
func excludes(t *testing.T, f filter, pl *plan, b *backend) (bool, string) {
	t.Helper()
	pl.explain = false
	quiet := f.exclude(pl, candOf(pl, b))
	pl.explain = true
	why := f.exclude(pl, candOf(pl, b))
	pl.explain = false
	if (quiet == "") != (why == "") {
		t.Errorf("%s on %s: %q without words, %q with", f.name(), b.model.ID, quiet, why)
	}
	return why != "", why
}

// filterCase is one row of a filter's table test.
type filterCase struct {
	name string
	pl   *plan
	b    *backend
	out  bool   // whether the filter excludes b
	why  string // what its reason says, when out
}

// runFilter checks each case's verdict and words, and that the rule's
// fast form agrees with its full form: a live filter's mark marks exactly
// what exclude excludes; a fixed filter excludes exactly what its profile
// part or its route part alone excludes, and nothing when it does not
// bind.
func runFilter(t *testing.T, f filter, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, why := excludes(t, f, tc.pl, tc.b)
			if out != tc.out || !strings.Contains(why, tc.why) {
				t.Fatalf("%s excludes %s: %v %q, want %v %q", f.name(), tc.b.model.ID, out, why, tc.out, tc.why)
			}
			switch f := f.(type) {
			case liveFilter:
				if !f.binds(tc.pl) && out {
					t.Errorf("excluded while it does not bind")
				}
				marked := []bool{false}
				f.mark(tc.pl, &staticSet{backends: []*backend{tc.b}}, []*live{tc.b.live.Load()}, marked)
				if f.binds(tc.pl) && marked[0] != out {
					t.Errorf("mark says out=%v, exclude says out=%v", marked[0], out)
				}
			case fixedFilter:
				if !f.binds(tc.pl.p, tc.pl.q.Route) && out {
					t.Errorf("excluded while it does not bind")
				}
				byProfile, _ := excludes(t, f, rulePlan(tc.pl.p, &Query{Task: tc.pl.q.Task, Vision: tc.pl.q.Vision, Tools: tc.pl.q.Tools}), tc.b)
				byRoute, _ := excludes(t, f, rulePlan(nil, &Query{Task: catalog.Chat, Route: tc.pl.q.Route}), tc.b)
				if f.name() == (task{}).name() {
					byRoute = false // the task needs are the request's, not the route's
				}
				if out != (byProfile || byRoute) {
					t.Errorf("out=%v, but the profile part says %v and the route part %v", out, byProfile, byRoute)
				}
			default:
				t.Fatalf("%s is neither a fixed nor a live filter", f.name())
			}
		})
	}
}

// TestMarkOverASet: a live filter's mark, over many backends in mixed
// states, marks exactly those its exclude excludes and leaves the marks
// already made.
func TestMarkOverASet(t *testing.T) {
	pl := rulePlan(&config.Profile{MinTier: catalog.Fast}, &Query{Task: catalog.Chat, PromptTokens: 5000,
		Route: &Route{MaxTTFTMs: 500}})
	st := &staticSet{}
	var ls []*live
	for i := range 40 {
		b := ruleBackend(ruleModel(fmt.Sprint("m", i), func(m *catalog.Model) { m.ContextWindow = 4000 + 100*i }), func(l *live) {
			l.rank = i % 4
			l.ttft = time.Duration(i*20) * time.Millisecond
			if i%7 == 0 {
				l.state, l.open, l.openedAtNs = Open, true, pl.nowNs-int64(time.Second)
			}
			if i%5 == 0 {
				l.cooldownNs = pl.nowNs + 1
			}
		})
		st.backends = append(st.backends, b)
		ls = append(ls, b.live.Load())
	}
	for _, f := range liveFilters {
		var want, got []int
		out := make([]bool, len(ls))
		out[3] = true // already marked by another rule
		f.mark(pl, st, ls, out)
		for i, b := range st.backends {
			if x, _ := excludes(t, f, pl, b); x || i == 3 {
				want = append(want, i)
			}
			if out[i] {
				got = append(got, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s marked %v, want %v", f.name(), got, want)
		}
	}
}

// scoreCase is one row of a scorer's table test.
type scoreCase struct {
	name string
	pl   *plan
	c    *cand
	want float64
}

// runScorer checks each case's score, and for a live scorer that its
// row form scores the same and its bound is never below it.
func runScorer(t *testing.T, s scorer, cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.snap.l == nil {
				tc.c.snap = candOf(tc.pl, tc.c.b).snap
			}
			got := s.score(tc.pl, tc.c)
			if diff := got - tc.want; diff > 1e-9 || diff < -1e-9 {
				t.Fatalf("%s = %v, want %v", s.name(), got, tc.want)
			}
			switch s := s.(type) {
			case liveScorer:
				h := []hot{{ranked: tc.c.ranked(), b: tc.c.b}}
				if row := s.rowScore(tc.pl, &h[0]); row != got {
					t.Errorf("rowScore = %v, score = %v", row, got)
				}
				s.addScore(tc.pl, 1, h)
				if h[0].score != got {
					t.Errorf("addScore = %v, score = %v", h[0].score, got)
				}
			case fixedScorer:
			default:
				t.Fatalf("%s is neither a fixed nor a live scorer", s.name())
			}
		})
	}
}

// TestRegistry: every rule is a filter or a scorer of one kind, named
// once.
func TestRegistry(t *testing.T) {
	names := map[string]bool{}
	for _, r := range registry {
		if names[r.name()] {
			t.Errorf("two rules are named %s", r.name())
		}
		names[r.name()] = true
		_, ff := r.(fixedFilter)
		_, lf := r.(liveFilter)
		_, fs := r.(fixedScorer)
		_, ls := r.(liveScorer)
		n := 0
		for _, k := range []bool{ff, lf, fs, ls} {
			if k {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is of %d kinds, want exactly one", r.name(), n)
		}
	}
	if len(filters) != len(fixedFilters)+len(liveFilters) || len(fixedScores)+len(liveScores) != nScorers {
		t.Error("a rule is missing from its kind")
	}
}
