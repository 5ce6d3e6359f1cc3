package router

import (
	"strings"
	"sync"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// plan is a request resolved against a profile: what every rule reads.
type plan struct {
	q       *Query
	profile string
	p       *config.Profile
	domain  string // "" or "general" for general work
	sort    string
	sortBy  sortKey // sort as a number
	now     time.Time
	nowNs   int64 // now in Unix nanoseconds
	openFor int64 // how long an open circuit stays open, ns
	cfg     *config.Router
	explain bool // build reasons in words (explain, errors)
	// reasons caches reason strings (reasonKey -> string) for the router.
	reasons *sync.Map
	// domainBit is the request's domain as a bit of backend.domains (0
	// when the domain has no bit: compare names).
	domainBit uint64
	need      []catalog.Task // what the request needs a model to do
	needSet   taskSet
	// preferScore is the profile's prefer score by backend index.
	preferScore []float64
	// routeExcluded is what the route object's fixed rules exclude, by
	// backend index, when it was parsed by Router.ParseRoute and the
	// decision takes a static set; nil otherwise.
	routeExcluded bitset
	// provBlocked is the providers that admit nothing now, as bits of
	// backend.pbit, when provExact (provider_health.go).
	provBlocked uint64
	provExact   bool
	// bb is the scan's scratch for a block's best row (blockIndex.bound).
	bb ranked
	// Across the eligible pool, for relative scores.
	bestCost, bestPrice float64

	// The decision's path: the model the request pins (nil for a
	// profile), the static set that applies (nil for none) and how many
	// candidates to return.
	pinned *catalog.Model
	st     *staticSet
	want   int
}

// cand is one catalog model being considered for one request.
type cand struct {
	b     *backend
	snap  snapshot
	score float64
	parts [nScorers]float64 // one per scorer, in scorers' order
	why   string            // the filter that excluded it, "" when eligible
}

func (c *cand) model() *catalog.Model { return c.b.model }

// ranked is what ordering two candidates reads.
type ranked struct {
	score, cost, tps, price float64 // cost as snapshot.cost
	rank, quality           int32
}

func (c *cand) ranked() ranked {
	return ranked{score: c.score, cost: c.snap.cost, tps: c.snap.l.tps, price: c.b.price, rank: int32(c.snap.l.rank), quality: c.b.quality}
}

// better orders candidates: by the sort key asked for, if any and if it
// tells them apart, else by score.
func (pl *plan) better(a, b *ranked) bool {
	if pl.sortBy != byScore {
		if l, decided := less(pl.sortBy, a, b); decided {
			return l
		}
	}
	return a.score > b.score
}

// sortKey is a sort key (config.SortKeys) as a number, so that ordering
// candidates compares no strings.
type sortKey uint8

const (
	byScore sortKey = iota
	byLatency
	byThroughput
	byPrice
	byQuality
)

func sortKeyOf(s string) sortKey {
	switch s {
	case "latency":
		return byLatency
	case "throughput":
		return byThroughput
	case "price":
		return byPrice
	case "quality":
		return byQuality
	}
	return byScore
}

// fields are what key orders by, first and second, each lower better
// (exact: ranks and qualities are small integers, negation is exact).
func (key sortKey) fields(r *ranked) (float64, float64) {
	switch key {
	case byLatency:
		return float64(r.rank), r.cost
	case byThroughput:
		return -r.tps, float64(r.rank)
	case byPrice:
		return r.price, 0
	case byQuality:
		return -float64(r.quality), 0
	}
	return 0, 0
}

// less orders two candidates by a sort key; false when they tie.
func less(key sortKey, a, b *ranked) (bool, bool) {
	a1, a2 := key.fields(a)
	b1, b2 := key.fields(b)
	if a1 != b1 {
		return a1 < b1, true
	}
	if a2 != b2 {
		return a2 < b2, true
	}
	return false, false
}

// sum is a candidate's score from its parts: fixed scorers first, then
// live ones (see registry), each weighed.
func sum(ws *[nScorers]float64, parts *[nScorers]float64) float64 {
	s := 0.0
	for _, k := range fixedScores {
		s += ws[k] * parts[k]
	}
	for _, l := range liveScores {
		s += ws[l.k] * parts[l.k]
	}
	return s
}

// weights returns every scorer's weight under pl, in scorers' order.
func (pl *plan) weights() (ws [nScorers]float64) {
	for k, s := range scorers {
		ws[k] = s.weight(pl)
	}
	return ws
}

// reason says in a few words why a candidate came first.
func reason(pl *plan, c *cand) string {
	top := ""
	topV := 0.0
	for i, s := range scorers {
		if v := s.weight(pl) * c.parts[i]; v > topV {
			top, topV = s.name(), v
		}
	}
	k := reasonKey{profile: pl.profile, sort: pl.sort, domain: pl.domain, top: top, tier: c.snap.l.tier, source: c.snap.l.tierSource}
	if pl.reasons != nil {
		if r, ok := pl.reasons.Load(k); ok {
			return r.(string)
		}
	}
	var b strings.Builder
	b.WriteString("profile " + pl.profile)
	if pl.sort != "" {
		b.WriteString(", sorted by " + pl.sort)
	}
	if pl.domain != "" && pl.domain != "general" {
		b.WriteString(", domain " + pl.domain)
	}
	if top != "" {
		b.WriteString(", best on " + top)
	}
	b.WriteString(", tier " + string(c.snap.l.tier) + " (" + c.snap.l.tierSource + ")")
	r := b.String()
	if pl.reasons != nil {
		pl.reasons.Store(k, r)
	}
	return r
}

// reasonKey is what a reason's words depend on: reasons come from a small
// set, so each is built once and reused.
type reasonKey struct {
	profile, sort, domain, top, source string
	tier                               catalog.Tier
}
