package router

import (
	"fmt"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// cand is one catalog model being considered for one request.
type cand struct {
	b     *backend
	snap  snapshot
	score float64
	parts map[string]float64
}

func (c *cand) model() *catalog.Model { return c.b.model }

// plan is a request resolved against a profile: what every rule reads.
type plan struct {
	q       *Query
	profile string
	p       *config.Profile
	domain  string // "" or "general" for general work
	sort    string
	now     time.Time
	pool    []*cand // eligible candidates, for relative scores
}

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
var filters = []filter{
	availability{}, openness{}, deployment{}, task{}, contextWindow{}, onlyIgnore{}, minTier{}, maxTTFT{}, maxPrice{},
}

var scorers = []scorer{prefer{}, domainFit{}, speed{}, price{}, quality{}}

// availability: the provider is enabled (it is, or it would not be in
// the set), its circuit is not open and it is not cooling down after a
// Retry-After.
type availability struct{}

func (availability) name() string { return "availability" }
func (availability) exclude(pl *plan, c *cand) string {
	switch {
	case c.snap.state == Open:
		return "circuit open after recent failures"
	case c.snap.cooldown > 0:
		return fmt.Sprintf("cooling down for %v after the provider's Retry-After", c.snap.cooldown.Round(time.Millisecond))
	}
	return ""
}

// openness admits only the openness the profile and the request allow.
type openness struct{}

func (openness) name() string { return "openness" }
func (openness) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Openness) > 0 && !contains(pl.p.Openness, m.Openness) {
		return fmt.Sprintf("openness %s is not allowed by profile %s", orUnknown(string(m.Openness)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Openness) > 0 && !contains(r.Openness, m.Openness) {
		return fmt.Sprintf("openness %s is not in route.openness", orUnknown(string(m.Openness)))
	}
	return ""
}

// deployment admits only the deployments the profile and request allow.
type deployment struct{}

func (deployment) name() string { return "deployment" }
func (deployment) exclude(pl *plan, c *cand) string {
	m := c.model()
	if len(pl.p.Deployment) > 0 && !contains(pl.p.Deployment, m.Deployment) {
		return fmt.Sprintf("deployment %s is not allowed by profile %s", orUnknown(string(m.Deployment)), pl.profile)
	}
	if r := pl.q.Route; r != nil && len(r.Deployment) > 0 && !contains(r.Deployment, m.Deployment) {
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
	m := c.model()
	need := []catalog.Task{pl.q.Task}
	if pl.q.Vision {
		need = append(need, catalog.Vision)
	}
	if pl.q.Tools {
		need = append(need, catalog.Tools)
	}
	need = append(need, pl.p.Require...)
	for _, t := range need {
		if !m.Has(t) {
			return "cannot do " + string(t)
		}
	}
	return ""
}

// contextWindow: the prompt and the requested output fit.
type contextWindow struct{}

func (contextWindow) name() string { return "context_window" }
func (contextWindow) exclude(pl *plan, c *cand) string {
	w := c.model().ContextWindow
	if w <= 0 {
		return ""
	}
	need := pl.q.PromptTokens + pl.q.MaxTokens
	if need > w {
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
	if len(r.Only) > 0 && !contains(r.Only, m.ID) && !contains(r.Only, m.Provider) {
		return "not in route.only"
	}
	if contains(r.Ignore, m.ID) || contains(r.Ignore, m.Provider) {
		return "in route.ignore"
	}
	return ""
}

// minTier admits only backends at least as fast as asked.
type minTier struct{}

func (minTier) name() string { return "min_tier" }
func (minTier) exclude(pl *plan, c *cand) string {
	want := pl.p.MinTier
	if r := pl.q.Route; r != nil && r.MinTier != "" {
		want = r.MinTier
	}
	if want != "" && c.snap.tier.Rank() > want.Rank() {
		return fmt.Sprintf("tier %s (%s) is slower than %s", c.snap.tier, c.snap.tierSource, want)
	}
	return ""
}

// maxTTFT admits only backends whose live or measured TTFT is under the bound.
type maxTTFT struct{}

func (maxTTFT) name() string { return "max_ttft" }
func (maxTTFT) exclude(pl *plan, c *cand) string {
	r := pl.q.Route
	if r == nil || r.MaxTTFTMs <= 0 || c.snap.ttft <= 0 {
		return ""
	}
	if ms := float64(c.snap.ttft) / 1e6; ms > r.MaxTTFTMs {
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
	limit := pl.p.MaxPricePerMTok
	if r := pl.q.Route; r != nil && r.MaxPricePerMTok > 0 {
		limit = r.MaxPricePerMTok
	}
	if limit > 0 && blended(c.model()) > limit {
		return fmt.Sprintf("blended price $%.2f/Mtok is over $%.2f", blended(c.model()), limit)
	}
	return ""
}

// prefer scores the framework's recommended setups for the profile, in order.
type prefer struct{}

func (prefer) name() string            { return "prefer" }
func (prefer) weight(pl *plan) float64 { return pl.p.Weights.Prefer }
func (prefer) score(pl *plan, c *cand) float64 {
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
func (domainFit) score(pl *plan, c *cand) float64 {
	m := c.model()
	if !contains(m.Domains, pl.domain) {
		return 0
	}
	s := 0.5
	if m.FineTuned {
		s += 0.25
	}
	if m.RAG {
		s += 0.25
	}
	return s
}

// speed scores the tier (measured, else the prior) and the live latency
// relative to the best candidate.
type speed struct{}

func (speed) name() string            { return "speed" }
func (speed) weight(pl *plan) float64 { return pl.p.Weights.Speed }
func (speed) score(pl *plan, c *cand) float64 {
	tierScore := float64(3-c.snap.tier.Rank()) / 3
	best := c.snap.cost
	for _, o := range pl.pool {
		if o.snap.cost < best {
			best = o.snap.cost
		}
	}
	live := 1.0
	if c.snap.cost > 0 {
		live = best / c.snap.cost
	}
	return 0.5*tierScore + 0.5*live
}

// price scores the cheapest candidate 1 and the others by ratio.
type price struct{}

func (price) name() string            { return "price" }
func (price) weight(pl *plan) float64 { return pl.p.Weights.Price }
func (price) score(pl *plan, c *cand) float64 {
	p := blended(c.model())
	if p == 0 {
		return 1
	}
	best := p
	for _, o := range pl.pool {
		if bp := blended(o.model()); bp < best {
			best = bp
		}
	}
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

// less orders two candidates by a sort key; false when they tie.
func less(key string, a, b *cand) (bool, bool) {
	switch key {
	case "latency":
		if a.snap.tier != b.snap.tier {
			return a.snap.tier.Rank() < b.snap.tier.Rank(), true
		}
		if a.snap.cost != b.snap.cost {
			return a.snap.cost < b.snap.cost, true
		}
	case "throughput":
		if a.snap.tps != b.snap.tps {
			return a.snap.tps > b.snap.tps, true
		}
		if a.snap.tier != b.snap.tier {
			return a.snap.tier.Rank() < b.snap.tier.Rank(), true
		}
	case "price":
		pa, pb := blended(a.model()), blended(b.model())
		if pa != pb {
			return pa < pb, true
		}
	case "quality":
		if a.model().Quality != b.model().Quality {
			return a.model().Quality > b.model().Quality, true
		}
	}
	return false, false
}

// reason says in a few words why a candidate came first.
func reason(pl *plan, c *cand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %s", pl.profile)
	if pl.sort != "" {
		fmt.Fprintf(&b, ", sorted by %s", pl.sort)
	}
	if pl.domain != "" && pl.domain != "general" {
		fmt.Fprintf(&b, ", domain %s", pl.domain)
	}
	top, topV := "", 0.0
	for _, s := range scorers {
		if v := s.weight(pl) * c.parts[s.name()]; v > topV {
			top, topV = s.name(), v
		}
	}
	if top != "" {
		fmt.Fprintf(&b, ", best on %s", top)
	}
	fmt.Fprintf(&b, ", tier %s (%s)", c.snap.tier, c.snap.tierSource)
	return b.String()
}
