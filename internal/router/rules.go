package router

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// cand is one catalog model being considered for one request.
type cand struct {
	b     *backend
	snap  snapshot
	score float64
	parts [nScorers]float64 // one per scorer, in scorers' order
	why   string            // the filter that excluded it, "" when eligible
	si    int               // index in the static set, when one is used
}

func (c *cand) model() *catalog.Model { return c.b.model }

// ranked is what ordering two candidates reads. It holds no pointers, so
// that the scan's working arrays cost the garbage collector nothing.
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

// minTier is the slowest tier the request admits, "" for any: the
// stricter of the profile's and the route object's (a route narrows).
func (pl *plan) minTier() catalog.Tier {
	if r := pl.q.Route; r != nil && r.MinTier != "" && (pl.p.MinTier == "" || r.MinTier.Rank() < pl.p.MinTier.Rank()) {
		return r.MinTier
	}
	return pl.p.MinTier
}

// maxPrice is the highest blended price the request admits, 0 for any:
// the lower of the profile's and the route object's.
func (pl *plan) maxPrice() float64 {
	if r := pl.q.Route; r != nil && r.MaxPricePerMTok > 0 && (pl.p.MaxPricePerMTok == 0 || r.MaxPricePerMTok < pl.p.MaxPricePerMTok) {
		return r.MaxPricePerMTok
	}
	return pl.p.MaxPricePerMTok
}

// plan is a request resolved against a profile: what every rule reads.
type plan struct {
	q       *Query
	profile string
	p       *config.Profile
	domain  string // "" or "general" for general work
	sort    string
	sortBy  sortKey // sort as a number
	now     time.Time
	explain bool // build reasons in words (explain, errors)
	static  bool // the pool is a staticSet: profile rules already applied
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
	// Across the eligible pool, for relative scores.
	bestCost, bestPrice float64
}

// excluded is what a filter says when words are not needed.
const excluded = "excluded"

// A filter excludes candidates that must not serve a request, whatever
// their score. Each is one rule; explain lists which one excluded what.
type filter interface {
	name() string
	// exclude returns why c is out, "" when it may serve.
	exclude(pl *plan, c *cand) string
}

// A scorer rates a candidate from 0 (worst) to 1 (best) on one component.
type scorer interface {
	name() string
	weight(pl *plan) float64
	score(pl *plan, c *cand) float64
}

// filters run in this order; the first that objects names the reason.
var filters = [...]filter{
	availability{}, openness{}, deployment{}, task{}, contextWindow{}, onlyIgnore{}, minTier{}, maxTTFT{}, maxPrice{},
}

// active returns the filters that can object to anything under pl: a
// rule whose bound is not set is skipped (a decision over hundreds of
// backends pays only for the rules in play). Explain runs them all.
func (pl *plan) active(buf []filter) []filter {
	if pl.explain {
		return append(buf[:0], filters[:]...) // a copy: buf is reused
	}
	// A static set has applied the profile's fixed rules (the !pl.static
	// terms below), and a route object parsed by Router.ParseRoute
	// carries what its fixed rules exclude (pl.routeExcluded): then only
	// its live rules, min tier and max TTFT, are left to filter on.
	p, r := pl.p, pl.q.Route
	if r == nil || pl.routeExcluded != nil {
		r = &Route{MinTier: r.minTier(), MaxTTFTMs: r.maxTTFT()}
	}
	buf = append(buf[:0], availability{})
	if (!pl.static && len(p.Openness) > 0) || len(r.Openness) > 0 {
		buf = append(buf, openness{})
	}
	if (!pl.static && len(p.Deployment) > 0) || len(r.Deployment) > 0 {
		buf = append(buf, deployment{})
	}
	if !pl.static {
		buf = append(buf, task{})
	}
	if pl.q.PromptTokens+pl.q.MaxTokens > 0 {
		buf = append(buf, contextWindow{})
	}
	if len(r.Only) > 0 || len(r.Ignore) > 0 {
		buf = append(buf, onlyIgnore{})
	}
	if p.MinTier != "" || r.MinTier != "" {
		buf = append(buf, minTier{})
	}
	if r.MaxTTFTMs > 0 {
		buf = append(buf, maxTTFT{})
	}
	if (!pl.static && p.MaxPricePerMTok > 0) || r.MaxPricePerMTok > 0 {
		buf = append(buf, maxPrice{})
	}
	return buf
}

// nScorers is len(scorers).
const nScorers = 5

var scorers = [nScorers]scorer{prefer{}, domainFit{}, speed{}, price{}, quality{}}

// availability: the provider is enabled (it is, or it would not be in
// the set), its circuit is not open and it is not cooling down after a
// Retry-After.
type availability struct{}

func (availability) name() string { return "availability" }
func (availability) exclude(pl *plan, c *cand) string {
	switch {
	case c.snap.prov != "": // the provider's own health (provider_health.go)
		if !pl.explain {
			return excluded
		}
		return c.snap.prov
	case c.snap.state == Open:
		return "circuit open after recent failures"
	case c.snap.cooldown > 0:
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("cooling down for %v after the provider's Retry-After", c.snap.cooldown.Round(time.Millisecond))
	}
	return ""
}

// openness admits only the openness the profile and the request allow.
type openness struct{}

func (openness) name() string { return "openness" }
func (openness) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Openness) > 0 && !slices.Contains(pl.p.Openness, m.Openness) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("openness %s is not allowed by profile %s", orUnknown(string(m.Openness)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Openness) > 0 && !slices.Contains(r.Openness, m.Openness) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("openness %s is not in route.openness", orUnknown(string(m.Openness)))
	}
	return ""
}

// deployment admits only the deployments the profile and request allow.
type deployment struct{}

func (deployment) name() string { return "deployment" }
func (deployment) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Deployment) > 0 && !slices.Contains(pl.p.Deployment, m.Deployment) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("deployment %s is not allowed by profile %s", orUnknown(string(m.Deployment)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Deployment) > 0 && !slices.Contains(r.Deployment, m.Deployment) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("deployment %s is not in route.deployment", orUnknown(string(m.Deployment)))
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// task: the model can do what the request needs.
type task struct{}

func (task) name() string { return "task" }
func (task) exclude(pl *plan, c *cand) string {
	if c.b.tasks&pl.needSet == pl.needSet {
		return ""
	}
	m := c.model()
	for _, t := range pl.need {
		if !m.Has(t) {
			if !pl.explain {
				return excluded
			}
			return "cannot do " + string(t)
		}
	}
	return ""
}

// contextWindow: the prompt and the requested output fit.
type contextWindow struct{}

func (contextWindow) name() string { return "context_window" }
func (contextWindow) exclude(pl *plan, c *cand) string {
	w := c.b.ctxWindow
	if w <= 0 {
		return ""
	}
	need := pl.q.PromptTokens + pl.q.MaxTokens
	if need > w {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("needs ~%d tokens (prompt ~%d + output %d), window is %d", need, pl.q.PromptTokens, pl.q.MaxTokens, w)
	}
	return ""
}

// onlyIgnore applies route.only and route.ignore (providers or model ids).
type onlyIgnore struct{}

func (onlyIgnore) name() string { return "only_ignore" }
func (onlyIgnore) exclude(pl *plan, c *cand) string {
	r := pl.q.Route
	if r == nil {
		return ""
	}
	m := c.model()
	if len(r.Only) > 0 && !slices.Contains(r.Only, m.ID) && !slices.Contains(r.Only, m.Provider) {
		return "not in route.only"
	}
	if slices.Contains(r.Ignore, m.ID) || slices.Contains(r.Ignore, m.Provider) {
		return "in route.ignore"
	}
	return ""
}

// minTier admits only backends at least as fast as asked.
type minTier struct{}

func (minTier) name() string { return "min_tier" }
func (minTier) exclude(pl *plan, c *cand) string {
	if want := pl.minTier(); want != "" && c.snap.l.rank > want.Rank() {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("tier %s (%s) is slower than %s", c.snap.l.tier, c.snap.l.tierSource, want)
	}
	return ""
}

// maxTTFT admits only backends whose live or measured TTFT is under the bound.
type maxTTFT struct{}

func (maxTTFT) name() string { return "max_ttft" }
func (maxTTFT) exclude(pl *plan, c *cand) string {
	r := pl.q.Route
	if r == nil || r.MaxTTFTMs <= 0 || c.snap.l.ttft <= 0 {
		return ""
	}
	if ms := float64(c.snap.l.ttft) / 1e6; c.snap.l.ttft > time.Duration(r.MaxTTFTMs*1e6) {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("TTFT %.0f ms is over route.max_ttft_ms %.0f", ms, r.MaxTTFTMs)
	}
	return ""
}

// blended is a model's price per million tokens, input and output averaged
// 3:1 as chat traffic usually is.
func blended(m *catalog.Model) float64 { return (3*m.Price.Input + m.Price.Output) / 4 }

// maxPrice admits only backends under the price bound.
type maxPrice struct{}

func (maxPrice) name() string { return "max_price" }
func (maxPrice) exclude(pl *plan, c *cand) string {
	if limit := pl.maxPrice(); limit > 0 && c.b.price > limit {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("blended price $%.2f/Mtok is over $%.2f", blended(c.model()), limit)
	}
	return ""
}

// prefer scores the framework's recommended setups for the profile, in order.
type prefer struct{}

func (prefer) name() string            { return "prefer" }
func (prefer) weight(pl *plan) float64 { return pl.p.Weights.Prefer }
func (prefer) score(pl *plan, c *cand) float64 {
	if pl.preferScore != nil && c.b.idx >= 0 {
		return pl.preferScore[c.b.idx]
	}
	for i, id := range pl.p.Prefer {
		if id == c.model().ID {
			return 1 - float64(i)/float64(len(pl.p.Prefer))
		}
	}
	return 0
}

// domainFit scores models whose catalog domains include the request's
// domain, fine-tuned or RAG-grounded ones highest.
type domainFit struct{}

func (domainFit) name() string { return "domain" }
func (domainFit) weight(pl *plan) float64 {
	if pl.domain == "" || pl.domain == "general" {
		return 0
	}
	return pl.p.Weights.Domain
}
func (domainFit) score(pl *plan, c *cand) float64 { return domainScore(pl, c.b) }

func domainScore(pl *plan, b *backend) float64 {
	if pl.domainBit != 0 {
		if b.domains&pl.domainBit == 0 {
			return 0
		}
	} else if !slices.Contains(b.model.Domains, pl.domain) {
		return 0
	}
	return b.domainFit
}

// speed scores the tier (measured, else the prior) and the live latency
// relative to the best candidate.
type speed struct{}

func (speed) name() string            { return "speed" }
func (speed) weight(pl *plan) float64 { return pl.p.Weights.Speed }
func (speed) score(pl *plan, c *cand) float64 {
	return speedScore(c.snap.l.rank, c.snap.cost, pl.bestCost)
}

// speedScore is half the tier (ultra-fast 1, slow 0), half the load cost
// relative to the best candidate's.
func speedScore(rank int, cost, bestCost float64) float64 {
	tierScore := float64(3-rank) / 3
	live := 1.0
	if cost > 0 {
		live = bestCost / cost
	}
	return 0.5*tierScore + 0.5*live
}

// price scores the cheapest candidate 1 and the others by ratio.
type price struct{}

func (price) name() string            { return "price" }
func (price) weight(pl *plan) float64 { return pl.p.Weights.Price }
func (price) score(pl *plan, c *cand) float64 {
	p := c.b.price
	if p == 0 {
		return 1
	}
	best := pl.bestPrice
	// 1 for the cheapest; halves with every doubling of price.
	r := best / p
	if best == 0 {
		r = 0.5 / (1 + p)
	}
	return r
}

// quality scores the catalog's quality rank for general reasoning.
type quality struct{}

func (quality) name() string            { return "quality" }
func (quality) weight(pl *plan) float64 { return pl.p.Weights.Quality }
func (quality) score(pl *plan, c *cand) float64 {
	return float64(c.model().Quality) / 100
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

// less orders two candidates by a sort key; false when they tie.
func less(key sortKey, a, b *ranked) (bool, bool) {
	switch key {
	case byLatency:
		if a.rank != b.rank {
			return a.rank < b.rank, true
		}
		if a.cost != b.cost {
			return a.cost < b.cost, true
		}
	case byThroughput:
		if a.tps != b.tps {
			return a.tps > b.tps, true
		}
		if a.rank != b.rank {
			return a.rank < b.rank, true
		}
	case byPrice:
		if a.price != b.price {
			return a.price < b.price, true
		}
	case byQuality:
		if a.quality != b.quality {
			return a.quality > b.quality, true
		}
	}
	return false, false
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
