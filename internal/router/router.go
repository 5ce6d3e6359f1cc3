// Package router decides which backends serve a request, in the order to
// try them, and learns from every attempt. It applies the framework's
// rules in two stages, each rule a small type in its own file, listed
// once in rules.go:
//
//   - hard eligibility (filter_*.go): availability (breaker, Retry-After),
//     openness, deployment, task, context window, only/ignore, min tier,
//     max TTFT, max price. A candidate that fails one is out.
//   - ranking (score_*.go): the profile's preferred setups, domain fit,
//     speed (measured tier and live PeakEWMA latency), price, quality;
//     then a sort key if asked, then the power of two choices between
//     near-equal leaders so load spreads.
//
// Route resolves the query against its profile (resolve), takes a path
// (choose) and builds the decision (decide). The full path runs every
// rule on every backend: explain, errors and pinned models take it. The
// fast path is derived from the same rules: each profile's static sets
// hold what its fixed rules admit and their fixed score parts, computed
// once (static.go); a decision then scans live state only, one atomic
// load per backend, and a route object's fixed rules are applied once
// per distinct object (Router.ParseRoute). A test holds the two paths to
// the same choices, and each rule's test its own forms to one verdict.
//
// It keeps per-backend live state (state.go) and offers it as a status
// source (Router.Status); it performs no I/O except the optional active
// probes. It must not import the gateway.
package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

// Options configure a Router.
type Options struct {
	Backends  *backends.Set
	Config    config.Router
	Profiles  map[string]*config.Profile
	Domains   map[string]*config.Domain
	TierRules []config.TierRule
	// Now and Rand replace the clock and the random source in tests.
	Now  func() time.Time
	Rand func(n int) int
	// OnState is told when a backend's breaker changes state.
	OnState func(model, state string)
	// OnProviderState is told when a provider's breaker changes state.
	OnProviderState func(provider, state string)
	// OnShare is told what this replica's attempts change that the other
	// replicas should apply (shared.go): a circuit opened or closed by a
	// trial, a cool-down started. It is called on the request path: it
	// must not block.
	OnShare func(Shared)
}

// Router routes requests over one backends set.
type Router struct {
	set      *backends.Set
	cfg      config.Router
	profiles map[string]*config.Profile
	rules    []config.TierRule
	cls      *classifier
	now      func() time.Time
	rand     func(int) int
	onState  func(model, state string)
	// backends by catalog id; the map is built once and never written.
	backends map[string]*backend
	order    []*backend
	provs    provSet
	enabled  int
	// scratch holds per-decision buffers, so a decision allocates little.
	scratch sync.Pool
	// prefer holds each profile's prefer score by backend index.
	prefer map[string][]float64
	// domainBits numbers the catalog's domains.
	domainBits map[string]uint64
	// reasons caches the reason strings decisions give.
	reasons sync.Map
	// statics holds, per profile and task need, the backends the profile
	// admits and their fixed score parts (see staticSet).
	statics map[staticKey]*staticSet
	// named holds each profile with its prefer scores and static sets, so
	// that a decision finds them with one lookup.
	named map[string]*named
	// drift tabulates how idle latency averages drift back.
	drift *drift
	// noPolicy is the profile of a pinned model with none asked for;
	// unprofiled that of "auto" when the config has no profiles. Both
	// are read only.
	noPolicy, unprofiled config.Profile
	// routes caches parsed route objects by their bytes (ParseRoute):
	// read without a lock, replaced whole under routesMu.
	routes   atomic.Pointer[map[string]*Route]
	routesMu sync.Mutex
	// sh is what replicas share (shared.go).
	sh sharing
}

// New returns a router over o.Backends.
func New(o Options) *Router {
	r := &Router{set: o.Backends, cfg: o.Config, profiles: o.Profiles, rules: o.TierRules,
		cls: newClassifier(o.Domains), now: o.Now, rand: o.Rand, onState: o.OnState, backends: map[string]*backend{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.IntN
	}
	if r.profiles == nil {
		r.profiles = map[string]*config.Profile{}
	}
	r.cfg.ApplyDefaults()
	r.sh.out = o.OnShare
	r.drift = newDrift(r.cfg.EWMADecay)
	r.unprofiled = config.Profile{Weights: config.Weights{Quality: 1, Speed: 1, Price: 1}}
	r.enabled = len(o.Backends.Providers())
	r.scratch.New = func() any { return &scratch{} }
	now := r.now()
	for _, m := range o.Backends.Catalog().All() {
		p, _ := o.Backends.Provider(m.Provider)
		b := newBackend(m, p, now)
		b.idx = len(r.order)
		r.backends[m.ID] = b
		r.order = append(r.order, b)
	}
	r.provs = attachProviders(r.order, now, o.OnProviderState) // provider_health.go
	// Domains as bits, so that scoring a domain is one AND per backend.
	r.domainBits = map[string]uint64{}
	for _, b := range r.order {
		for _, d := range b.model.Domains {
			if _, ok := r.domainBits[d]; !ok && len(r.domainBits) < 64 {
				r.domainBits[d] = 1 << len(r.domainBits)
			}
			b.domains |= r.domainBits[d]
		}
	}
	r.prefer = map[string][]float64{}
	for name, prof := range r.profiles {
		sc := make([]float64, len(r.order))
		for i, b := range r.order {
			sc[i] = preferScore(prof.Prefer, b.model.ID)
		}
		r.prefer[name] = sc
	}
	r.statics = map[staticKey]*staticSet{}
	for name, prof := range r.profiles {
		for _, need := range []taskSet{taskBits[catalog.Chat], taskBits[catalog.Chat] | taskBits[catalog.Vision],
			taskBits[catalog.Chat] | taskBits[catalog.Tools], taskBits[catalog.Chat] | taskBits[catalog.Vision] | taskBits[catalog.Tools],
			taskBits[catalog.Embeddings]} {
			need |= tasksOf(prof.Require)
			r.statics[staticKey{name, need}] = r.buildStatic(name, prof, need)
		}
	}
	for _, st := range r.statics {
		st.ix.join()
	}
	r.named = map[string]*named{}
	for name, prof := range r.profiles {
		n := &named{p: prof, prefer: r.prefer[name]}
		for k, st := range r.statics {
			if k.profile == name {
				n.statics = append(n.statics, needStatic{k.need, st})
			}
		}
		r.named[name] = n
	}
	return r
}

// named is a profile with what the router derived from it.
type named struct {
	p       *config.Profile
	prefer  []float64
	statics []needStatic // a handful: searched in order
}

// needStatic is a profile's static set for one task need.
type needStatic struct {
	need taskSet
	st   *staticSet
}

// static is n's static set for need, nil for none.
func (n *named) static(need taskSet) *staticSet {
	for _, s := range n.statics {
		if s.need == need {
			return s.st
		}
	}
	return nil
}

// Config returns the routing settings in force.
func (r *Router) Config() config.Router { return r.cfg }

// SetMeasured installs the bench's tiers file: each backend it measured
// takes its tier from it (source "bench") until live traffic moves it.
func (r *Router) SetMeasured(f *tiers.File) {
	for _, b := range r.order {
		if e, ok := f.Lookup(b.model); ok {
			b.setMeasured(e)
		}
	}
}

// Candidate is one backend to try.
type Candidate struct {
	Model    *catalog.Model
	Provider providers.Provider
	// Tier and TierSource as they were when the decision was made.
	Tier       catalog.Tier
	TierSource string
	b          *backend
}

// Considered is one model as the decision saw it, for explain.
type Considered struct {
	Model      string             `json:"model"`
	Provider   string             `json:"provider"`
	Eligible   bool               `json:"eligible"`
	ExcludedBy string             `json:"excluded_by,omitempty"`
	Why        string             `json:"why,omitempty"`
	Score      float64            `json:"score"`
	Components map[string]float64 `json:"components,omitempty"`
	Tier       catalog.Tier       `json:"tier"`
	TierSource string             `json:"tier_source"`
	MeasuredAt *time.Time         `json:"measured_at,omitempty"`
	TTFTms     float64            `json:"ttft_ms,omitempty"`
	TokensPerS float64            `json:"tokens_per_s,omitempty"`
	InFlight   int64              `json:"in_flight"`
	Breaker    string             `json:"breaker"`
}

// Decision is the ordered list of candidates and why.
type Decision struct {
	Profile      string       `json:"profile"`
	Domain       string       `json:"domain,omitempty"`
	DomainSource string       `json:"domain_source,omitempty"`
	Pinned       bool         `json:"pinned"`
	Reason       string       `json:"reason"`
	Chosen       string       `json:"chosen,omitempty"`
	Candidates   []Candidate  `json:"-"`
	Considered   []Considered `json:"candidates"`
}

func errStatus(status int, typ, code, param, msg string) *providers.Error {
	return &providers.Error{Status: status, Type: typ, Code: code, Param: param, Message: msg}
}

// Route chooses the backends for q. Its errors are *providers.Error
// with the status the gateway should answer with.
func (r *Router) Route(q *Query) (*Decision, error) {
	if r.enabled == 0 {
		return nil, r.noBackends()
	}
	sc := r.scratch.Get().(*scratch)
	defer r.scratch.Put(sc)
	pl, d, err := r.resolve(q, sc)
	if err != nil {
		return nil, err
	}
	eligible, pool := r.choose(pl, sc)
	if len(eligible) == 0 {
		return d, r.explainNone(pl, d, pool, sc)
	}
	return r.decide(pl, d, eligible, pool), nil
}

// resolve reads q against its profile into sc's plan: the policy, the
// domain, what a model must do, the static set if one applies, and how
// many candidates to return.
func (r *Router) resolve(q *Query, sc *scratch) (*plan, *Decision, error) {
	profile, p, n, pinned, err := r.policy(q)
	if err != nil {
		return nil, nil, err
	}
	pl := &sc.plan
	now := r.now()
	*pl = plan{q: q, profile: profile, p: p, now: now, nowNs: now.UnixNano(), openFor: int64(r.cfg.Breaker.OpenFor), cfg: &r.cfg,
		sort: p.Sort, reasons: &r.reasons, explain: q.Explain, pinned: pinned, want: r.cfg.MaxAttempts}
	if q.Route != nil && q.Route.Sort != "" {
		pl.sort = q.Route.Sort
	}
	pl.sortBy = sortKeyOf(pl.sort)
	pl.provBlocked, pl.provExact = r.provs.blocked(pl.nowNs, &r.cfg)
	d := newDecision(r.cfg.MaxAttempts)
	d.Profile, d.Pinned = profile, pinned != nil
	pl.domain, d.DomainSource = r.domainOf(q, p)
	d.Domain = pl.domain
	pl.domainBit = r.domainBits[pl.domain]
	pl.need = append(sc.need[:0], q.Task)
	if q.Vision {
		pl.need = append(pl.need, catalog.Vision)
	}
	if q.Tools {
		pl.need = append(pl.need, catalog.Tools)
	}
	pl.need = append(pl.need, p.Require...)
	sc.need = pl.need
	pl.needSet = tasksOf(pl.need)
	if n != nil {
		pl.preferScore = n.prefer
		if pinned == nil {
			pl.st = n.static(pl.needSet)
		}
	}
	if pl.st != nil && q.Route != nil {
		pl.routeExcluded = q.Route.excluded
	}
	if q.Route != nil && q.Route.AllowFallbacks != nil && !*q.Route.AllowFallbacks {
		pl.want = 1
	}
	return pl, d, nil
}

// policy names q's profile and returns it (and what the router derived
// from it when it is configured), and the model q pins if any.
func (r *Router) policy(q *Query) (string, *config.Profile, *named, *catalog.Model, error) {
	profile, pinned := r.profileFor(q)
	if pinned != nil && q.Profile == "" {
		// A pinned model with no profile asked for: no policy applies,
		// only what the model can do and whether it is up.
		return profile, &r.noPolicy, r.named[profile], pinned, nil
	}
	if n, ok := r.named[profile]; ok {
		return profile, n.p, n, pinned, nil
	}
	if profile == "auto" && len(r.profiles) == 0 {
		return profile, &r.unprofiled, nil, pinned, nil
	}
	names := make([]string, 0, len(r.profiles))
	for n := range r.profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return "", nil, nil, nil, errStatus(http.StatusBadRequest, providers.TypeInvalidRequest, "unknown_profile", "model",
		fmt.Sprintf("unknown routing profile %q; profiles: %s", profile, strings.Join(names, ", ")))
}

// domainOf is q's domain and where it came from: the route object, the
// header, the classifier or the profile.
func (r *Router) domainOf(q *Query, p *config.Profile) (string, string) {
	switch {
	case q.Route != nil && q.Route.Domain != "":
		return q.Route.Domain, "route.domain"
	case q.Domain != "":
		return q.Domain, "X-Tiergate-Domain"
	case p.Domain == "detect" && q.Task == catalog.Chat:
		if dom := r.cls.classify(q.Text); dom != "" {
			return dom, "classifier"
		}
	case p.Domain != "" && p.Domain != "detect":
		return p.Domain, "profile"
	}
	return "", ""
}

// choose takes the path: the scan over the static set when there is one
// and words are not needed, else the full path over the pinned model and
// its fallbacks or over every backend. It returns the eligible, the first
// few in order, and the pool the full path looked at.
func (r *Router) choose(pl *plan, sc *scratch) ([]*cand, []cand) {
	k := pl.want + 1 // one more than tried, for the two choices
	switch {
	case pl.st != nil && !pl.explain:
		return r.scan(pl, pl.st, sc, k), nil
	case pl.pinned != nil:
		pool := r.pinnedPool(pl.pinned, sc)
		return r.filter(pl, pool, sc), pool
	}
	pool := candsOf(r.order, sc)
	eligible := r.filter(pl, pool, sc)
	if len(eligible) > 0 {
		r.rank(pl, eligible, k)
	}
	return eligible, pool
}

// decide builds the decision from the eligible candidates, best first:
// the two choices among near-equal leaders, then the candidates to try.
func (r *Router) decide(pl *plan, d *Decision, eligible []*cand, pool []cand) *Decision {
	k := pl.want + 1
	first := eligible[0]
	if pl.pinned == nil {
		r.twoChoices(pl, eligible[:min(k, len(eligible))])
		first = eligible[0]
		if pool == nil {
			// The scan scored the first as a sum: the reason names its
			// best component.
			for k, s := range scorers {
				first.parts[k] = s.score(pl, first)
			}
		}
	}
	want := min(pl.want, len(eligible))
	if cap(d.Candidates) < want {
		d.Candidates = make([]Candidate, want)
	}
	d.Candidates = d.Candidates[:want:want]
	for i := range d.Candidates {
		c := eligible[i]
		d.Candidates[i] = Candidate{Model: c.model(), Provider: c.b.provider, Tier: c.snap.l.tier, TierSource: c.snap.l.tierSource, b: c.b}
	}
	d.Chosen = first.model().ID
	switch {
	case pl.pinned == nil:
		d.Reason = reason(pl, first)
	case first.model().ID != pl.pinned.ID:
		d.Reason = "pinned to " + pl.pinned.ID + ", using its fallback " + first.model().ID
	default:
		d.Reason = first.b.pinnedWhy
	}
	if pl.explain {
		d.Considered = considered(pool, eligible)
	}
	return d
}

// inlineCands is how many candidates a decision holds in its own
// allocation: max_attempts' default.
const inlineCands = 3

// decisionBuf is a decision with room for its candidates: a decision is
// one allocation.
type decisionBuf struct {
	d     Decision
	cands [inlineCands]Candidate
}

// newDecision returns an empty decision with room for want candidates
// in the same allocation when want is small.
func newDecision(want int) *Decision {
	buf := &decisionBuf{}
	if want <= inlineCands {
		buf.d.Candidates = buf.cands[:0:want]
	}
	return &buf.d
}

// explainNone says why no backend is eligible, in words, of every backend
// (not only those a static set kept), so that errors read alike on every
// path.
func (r *Router) explainNone(pl *plan, d *Decision, pool []cand, sc *scratch) error {
	pl.explain = true
	if pl.pinned == nil {
		pool = candsOf(r.order, sc)
	}
	for i := range pool {
		c := &pool[i]
		c.snap, c.why = c.b.snapshotNs(pl.nowNs, &r.cfg), ""
		for _, f := range filters {
			if why := f.exclude(pl, c); why != "" {
				c.why = f.name() + "\x00" + why
				break
			}
		}
	}
	d.Considered = considered(pool, nil)
	return r.withRetryAfter(r.noneEligible(pl.q, pl, d, pl.pinned), pool, pl) // order.go
}

// candsOf makes a candidate of each backend, in sc's reused memory.
func candsOf(bs []*backend, sc *scratch) []cand {
	if cap(sc.cands) < len(bs) {
		sc.cands = make([]cand, len(bs))
	}
	pool := sc.cands[:len(bs)]
	for i, b := range bs {
		pool[i] = cand{b: b}
	}
	return pool
}

// filter applies the active filters to the pool (the full path): it
// returns the eligible candidates, their live state read and priced, and
// marks the others with why they are out.
func (r *Router) filter(pl *plan, pool []cand, sc *scratch) []*cand {
	nowNs := pl.nowNs
	sc.filters = pl.active(sc.filters)
	eligible := sc.elig[:0]
	for i := range pool {
		c := &pool[i]
		c.snap = c.b.snapshotNs(nowNs, &r.cfg)
		for _, f := range sc.filters {
			if why := f.exclude(pl, c); why != "" {
				c.why = why
				if pl.explain {
					c.why = f.name() + "\x00" + why
				}
				break
			}
		}
		if c.why == "" {
			c.snap.price(nowNs, r.drift)
			eligible = append(eligible, c)
		}
	}
	sc.elig = eligible
	return eligible
}

// rank scores the eligible candidates (the full path) and moves the k
// best to the front, in order; explain orders them all.
func (r *Router) rank(pl *plan, eligible []*cand, k int) {
	pl.bestCost, pl.bestPrice = eligible[0].snap.cost, eligible[0].b.price
	for _, c := range eligible {
		pl.bestCost = min(pl.bestCost, c.snap.cost)
		pl.bestPrice = min(pl.bestPrice, c.b.price)
	}
	if pl.st != nil {
		// Prices compare within what the profile admits, whatever is up
		// right now, so fixed score parts stay fixed.
		pl.bestPrice = pl.st.bestPrice
	}
	ws := pl.weights()
	for _, c := range eligible {
		c.parts = [nScorers]float64{}
		for k, s := range scorers {
			if ws[k] != 0 {
				c.parts[k] = s.score(pl, c)
			}
		}
		c.score = sum(&ws, &c.parts)
	}
	if pl.explain {
		k = len(eligible)
	}
	topK(eligible, k, func(a, b *cand) bool {
		ra, rb := a.ranked(), b.ranked()
		return pl.better(&ra, &rb)
	})
}

// scratch is a decision's working memory.
type scratch struct {
	plan    plan
	cands   []cand
	elig    []*cand
	ls      []*live
	adm     []*live
	at      []int32
	out     []bool
	cost    []float64
	rows    []rowSpan
	loaded  []bool
	floor   []float64
	marks   []filterKind
	lives   []weighed
	view    staticSet
	hot     []hot
	top     []int32
	probe   cand
	pinned  []cand
	filters []filter
	need    []catalog.Task
}

// topK moves the k best of c (by better) to its front, in order, in one
// pass: a decision needs only the few it will try.
func topK[T any](c []T, k int, better func(a, b T) bool) {
	if k > len(c) {
		k = len(c)
	}
	if k >= len(c)/4 {
		sort.SliceStable(c, func(i, j int) bool { return better(c[i], c[j]) })
		return
	}
	// Sort c[:k] by insertion (k is small), then keep it the k best:
	// each later element either loses to the k-th (the common case: one
	// comparison) or is inserted in place.
	for j := 1; j < k; j++ {
		for i := j; i > 0 && better(c[i], c[i-1]); i-- {
			c[i], c[i-1] = c[i-1], c[i]
		}
	}
	for j := k; j < len(c); j++ {
		if !better(c[j], c[k-1]) {
			continue
		}
		x := c[j]
		c[j] = c[k-1]
		i := k - 1
		for i > 0 && better(x, c[i-1]) {
			c[i] = c[i-1]
			i--
		}
		c[i] = x
	}
}

// considered lists every candidate for explain: eligible ones first, in
// the order they would be tried, then the excluded with the rule and why.
func considered(pool []cand, eligible []*cand) []Considered {
	out := make([]Considered, 0, len(pool))
	add := func(c *cand) {
		con := Considered{Model: c.model().ID, Provider: c.model().Provider, Tier: c.snap.l.tier, TierSource: c.snap.l.tierSource,
			TTFTms: float64(c.snap.l.ttft) / 1e6, TokensPerS: c.snap.l.tps, InFlight: c.snap.inflight, Breaker: c.snap.state,
			Eligible: c.why == "", Score: round3(c.score)}
		if !c.snap.l.measuredAt.IsZero() {
			t := c.snap.l.measuredAt
			con.MeasuredAt = &t
		}
		if c.why != "" {
			con.ExcludedBy, con.Why, _ = strings.Cut(c.why, "\x00")
		} else {
			con.Components = map[string]float64{}
			for k, s := range scorers {
				con.Components[s.name()] = round3(c.parts[k])
			}
		}
		out = append(out, con)
	}
	for _, c := range eligible {
		add(c)
	}
	for i := range pool {
		if pool[i].why != "" {
			add(&pool[i])
		}
	}
	return out
}

// profileFor reads the profile from the model name ("auto",
// "auto:<profile>") or the header, and the pinned model when the client
// named one.
func (r *Router) profileFor(q *Query) (string, *catalog.Model) {
	profile := q.Profile
	switch {
	case q.Model == "auto" || q.Model == "":
		if profile == "" {
			profile = r.cfg.DefaultProfile
		}
		return profile, nil
	case strings.HasPrefix(q.Model, "auto:"):
		return strings.TrimPrefix(q.Model, "auto:"), nil
	}
	m, ok := r.set.Lookup(q.Model)
	if !ok {
		return profile, &catalog.Model{ID: q.Model} // resolved as unknown below
	}
	if profile == "" {
		profile = "pinned"
	}
	return profile, m
}

// pinnedPool is the pinned model and its configured fallbacks.
func (r *Router) pinnedPool(m *catalog.Model, sc *scratch) []cand {
	b, ok := r.backends[m.ID]
	if !ok {
		if m.Provider == "" {
			return nil
		}
		// provider/model outside the catalog: a one-off backend.
		p, _ := r.set.Provider(m.Provider)
		b = newBackend(m, p, r.now())
	}
	pool := append(sc.pinned[:0], cand{b: b})
	for _, id := range m.Fallbacks {
		if fb, ok := r.backends[id]; ok {
			pool = append(pool, cand{b: fb})
		}
	}
	sc.pinned = pool
	return pool
}

// twoChoices looks at the leaders (c: the few a decision keeps) whose
// scores are within NearEqual of the best, picks two at random and puts
// the less loaded first (the power of two choices): load spreads without
// herding on one backend.
func (r *Router) twoChoices(pl *plan, c []*cand) {
	if pl.sort != "" || len(c) < 2 {
		return
	}
	n := 1
	for n < len(c) && c[0].score-c[n].score <= r.cfg.NearEqual {
		n++
	}
	if n < 2 {
		return
	}
	i := r.rand(n)
	j := r.rand(n - 1)
	if j >= i {
		j++
	}
	pick := i
	if c[j].snap.cost < c[i].snap.cost {
		pick = j
	}
	if pick != 0 {
		c[0], c[pick] = c[pick], c[0]
	}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func (r *Router) noBackends() error {
	var hints []string
	for _, d := range r.set.Disabled() {
		hints = append(hints, d.Name+": "+d.Hint)
	}
	msg := "no backend is enabled"
	if len(hints) > 0 {
		msg += "; to enable one: " + strings.Join(hints, "; ")
	}
	return errStatus(http.StatusServiceUnavailable, providers.TypeUnavailable, "no_backend", "", msg)
}

func (r *Router) noneEligible(q *Query, pl *plan, d *Decision, pinned *catalog.Model) error {
	if pinned != nil && pinned.Provider == "" {
		return errStatus(http.StatusNotFound, providers.TypeInvalidRequest, "model_not_found", "model",
			fmt.Sprintf("The model `%s` does not exist or no enabled provider serves it: GET /v1/models lists the models you can use", q.Model))
	}
	// The first few reasons, those of backends the profile's policy
	// admits first: "llama3-70b: does not do vision" tells more than
	// "gpt-4o: openness proprietary is not allowed".
	var whys []string
	byRule := map[string]int{}
	for _, c := range d.Considered {
		byRule[c.ExcludedBy]++
	}
	for _, policy := range []bool{false, true} {
		for _, c := range d.Considered {
			if len(whys) < 4 && (c.ExcludedBy == "openness" || c.ExcludedBy == "deployment") == policy {
				whys = append(whys, c.Model+": "+c.Why)
			}
		}
	}
	status, code := http.StatusServiceUnavailable, "no_eligible_backend"
	// A request no backend could ever serve is the client's to fix.
	if byRule["task"] == len(d.Considered) || byRule["context_window"] == len(d.Considered) {
		status, code = http.StatusBadRequest, "unsupported_request"
	}
	msg := fmt.Sprintf("no backend can serve this request under profile %s", pl.profile)
	if len(pl.p.Openness) > 0 || len(pl.p.Deployment) > 0 {
		msg += fmt.Sprintf(" (it admits only openness %v on deployment %v; it never falls back to other models)", pl.p.Openness, pl.p.Deployment)
	}
	if len(whys) > 0 {
		msg += ": " + strings.Join(whys, "; ")
	}
	e := errStatus(status, providers.TypeUnavailable, code, "", msg)
	if status == http.StatusBadRequest {
		e.Type = providers.TypeInvalidRequest
	}
	return e
}

// Attempt is one try of a candidate; Done must be called once.
type Attempt struct {
	r      *Router
	b      *backend
	start  time.Time
	stream bool // set by FirstByteDeadline (deadline.go)
}

// Begin starts an attempt on c. It returns false when c's circuit is
// half-open and its one trial request is already out: try the next.
func (r *Router) Begin(c Candidate) (*Attempt, bool) {
	b := c.b
	if b == nil {
		b = r.backends[c.Model.ID]
	}
	if b == nil {
		return &Attempt{r: r, start: r.now()}, true
	}
	if !b.ph.admit(r.now(), &r.cfg) {
		return nil, false // the provider's circuit is half-open and its trial is out
	}
	if !b.admit(r.now(), &r.cfg) {
		b.ph.release()
		return nil, false
	}
	b.inflight.Add(1)
	return &Attempt{r: r, b: b, start: r.now()}, true
}

// Done records how the attempt went. err is nil on success; a cancelled
// client is not held against the backend.
func (a *Attempt) Done(res *providers.Result, err error, canceled bool) {
	if a.b == nil {
		return
	}
	a.b.inflight.Add(-1)
	if canceled {
		a.b.release() // a trial whose client went away decides nothing
		return
	}
	now := a.r.now()
	o := outcome{start: a.start, latency: now.Sub(a.start), stream: a.stream}
	if res != nil {
		t := res.Timing
		if !t.FirstToken.IsZero() {
			o.latency = t.FirstToken.Sub(a.start)
			o.ttft = o.latency
			if !t.End.IsZero() {
				o.genTime = t.End.Sub(t.FirstToken)
			}
		} else if !t.FirstByte.IsZero() && err == nil {
			o.latency = t.FirstByte.Sub(a.start)
		}
		if res.Usage != nil {
			o.tokens = res.Usage.CompletionTokens
		} else {
			o.tokens = t.Chunks
		}
	}
	if err != nil {
		pe := providers.AsError(a.b.model.Provider, err)
		o.err = pe
		switch pe.Status {
		case 400, 404, 409, 413, 422:
			o.clientFault = true
		}
	}
	bl, pl := a.b.lives()
	a.b.ph.record(o.err, o.err != nil && !o.clientFault && ProviderFault(o.err), now, &a.r.cfg)
	before := a.b.stateNow()
	after := a.b.record(o, now, &a.r.cfg, a.r.rules)
	if after != before && a.r.onState != nil {
		a.r.onState(a.b.model.ID, after)
	}
	a.r.changed(a.b, bl, pl) // shared.go
}

// BackendStatus is a backend's state, as the status page and the
// metrics collector read it.
type BackendStatus struct {
	Model      string        `json:"model"`
	Provider   string        `json:"provider"`
	Tier       catalog.Tier  `json:"tier"`
	TierSource string        `json:"tier_source"` // SourcePrior, SourceBench or SourceLive
	MeasuredAt time.Time     `json:"measured_at"` // zero while the tier is the prior
	TTFT       time.Duration `json:"ttft"`        // live average, or the bench's p50
	TokensPerS float64       `json:"tokens_per_s"`
	Breaker    string        `json:"breaker"` // Closed, Open or HalfOpen
	InFlight   int64         `json:"in_flight"`
	LastError  string        `json:"last_error,omitempty"`
}

// Status is the router's status source: every backend's state, in
// catalog order, as of now. It takes no lock (one atomic load of each
// backend's published state and one of its in-flight count) and
// allocates one slice, so a Prometheus collector can call it on every
// scrape instead of copying state into gauges: an open circuit past
// open_for shows half-open, as the next decision sees it.
func (r *Router) Status() []BackendStatus {
	now := r.now().UnixNano()
	out := make([]BackendStatus, len(r.order))
	for i, b := range r.order {
		s := b.snapshotNs(now, &r.cfg)
		out[i] = BackendStatus{Model: b.model.ID, Provider: b.model.Provider, Tier: s.l.tier, TierSource: s.l.tierSource,
			MeasuredAt: s.l.measuredAt, TTFT: s.l.ttft, TokensPerS: s.l.tps, Breaker: s.state, InFlight: s.inflight, LastError: s.l.lastError}
	}
	return out
}

// Tier returns a catalog model's current tier and its source.
func (r *Router) Tier(id string) (catalog.Tier, string, time.Time) {
	b, ok := r.backends[id]
	if !ok {
		return "", "", time.Time{}
	}
	s := b.snapshot(r.now(), &r.cfg)
	return s.l.tier, s.l.tierSource, s.l.measuredAt
}
