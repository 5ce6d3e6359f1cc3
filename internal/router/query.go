package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
)

// Query is what the router knows of a request.
type Query struct {
	// Model is what the client wrote: a catalog id, provider/model, an
	// upstream name, "auto" or "auto:<profile>".
	Model string
	// Profile is the X-Tiergate-Profile header, "" when absent.
	Profile string
	// Domain is the X-Tiergate-Domain header, "" when absent.
	Domain string
	// Route is the body's "route" object, nil when absent.
	Route *Route
	// Task is what the endpoint needs (chat or embeddings).
	Task catalog.Task
	// Vision and Tools say that the request carries images or tools.
	Vision, Tools bool
	// Params are the restricted parameters the request uses
	// (openaiwire.Chat.Params): a backend whose adapter would refuse
	// them is not chosen (filter_params.go).
	Params providers.Params
	// PromptTokens is an estimate of the prompt's size; MaxTokens the
	// output the client asked for (0: unknown).
	PromptTokens, MaxTokens int
	// Text is the last user message's raw JSON content, for the domain
	// classifier (decoded only when a profile needs it).
	Text json.RawMessage
	// Explain asks for every candidate with its exclusion or score
	// components in Decision.Considered (slower: for /v1/route/explain).
	Explain bool
}

// Route narrows a request's choice, like OpenRouter's "provider" object.
// It is removed before the request goes upstream.
type Route struct {
	Openness        []catalog.Openness   `json:"openness,omitempty"`
	Deployment      []catalog.Deployment `json:"deployment,omitempty"`
	Domain          string               `json:"domain,omitempty"`
	MinTier         catalog.Tier         `json:"min_tier,omitempty"`
	MaxTTFTMs       float64              `json:"max_ttft_ms,omitempty"`
	MaxPricePerMTok float64              `json:"max_price_per_mtok,omitempty"`
	Sort            string               `json:"sort,omitempty"`
	Only            []string             `json:"only,omitempty"`
	Ignore          []string             `json:"ignore,omitempty"`
	AllowFallbacks  *bool                `json:"allow_fallbacks,omitempty"`

	// excluded is what the route's fixed rules (openness, deployment,
	// only/ignore, max price) exclude, by backend index: set by
	// Router.ParseRoute, so that a decision tests one bit per backend.
	excluded bitset
	// blocks says, per static set a decision took with excluded, which
	// of its blocks hold a backend excluded admits (worked out at the
	// first such decision): a scan reads no other.
	blocks *routeBlocks
}

var routeFields = []string{"allow_fallbacks", "deployment", "domain", "ignore", "max_price_per_mtok", "max_ttft_ms", "min_tier", "only", "openness", "sort"}

// ParseRoute decodes a "route" object strictly: an unknown field or
// value is a 400 that lists the valid ones.
func ParseRoute(raw json.RawMessage, domains map[string]*config.Domain) (*Route, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := func(param, msg string) error {
		return &providers.Error{Status: http.StatusBadRequest, Type: providers.TypeInvalidRequest, Param: param, Message: msg}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var r Route
	if err := dec.Decode(&r); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return nil, bad("route", fmt.Sprintf("unknown field %s in route; valid fields: %s", f, strings.Join(routeFields, ", ")))
		}
		return nil, bad("route", "invalid route object: "+msg+"; valid fields: "+strings.Join(routeFields, ", "))
	}
	for _, o := range r.Openness {
		if o != catalog.OpenSource && o != catalog.OpenWeight && o != catalog.Proprietary {
			return nil, bad("route.openness", fmt.Sprintf("openness %q is not one of open-source, open-weight, proprietary", o))
		}
	}
	for _, d := range r.Deployment {
		if d != catalog.Local && d != catalog.SaaS && d != catalog.SelfHosted {
			return nil, bad("route.deployment", fmt.Sprintf("deployment %q is not one of local, saas, self-hosted", d))
		}
	}
	if r.MinTier != "" && r.MinTier.Rank() < 0 {
		return nil, bad("route.min_tier", fmt.Sprintf("min_tier %q is not one of ultra-fast, fast, moderate, slow", r.MinTier))
	}
	if r.Sort != "" && !slices.Contains(config.SortKeys(), r.Sort) {
		return nil, bad("route.sort", fmt.Sprintf("sort %q is not one of %s", r.Sort, strings.Join(config.SortKeys(), ", ")))
	}
	if r.Domain != "" {
		if _, ok := domains[r.Domain]; !ok && r.Domain != "general" {
			names := []string{"general"}
			for n := range domains {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, bad("route.domain", fmt.Sprintf("domain %q is not one of %s", r.Domain, strings.Join(names, ", ")))
		}
	}
	if r.MaxTTFTMs < 0 || r.MaxPricePerMTok < 0 {
		return nil, bad("route", "max_ttft_ms and max_price_per_mtok must not be negative")
	}
	return &r, nil
}

// maxCachedRoutes bounds the parsed route objects a router keeps.
const maxCachedRoutes = 1024

// ParseRoute decodes a request's "route" object against this router's
// domains. Apps send the same few route objects again and again, so each
// distinct one (byte for byte) is parsed once, its fixed rules applied
// to every backend once, and kept (up to maxCachedRoutes): the result is
// shared and must not be changed.
func (r *Router) ParseRoute(raw json.RawMessage) (*Route, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if m := r.routes.Load(); m != nil {
		if rt, ok := (*m)[string(raw)]; ok {
			return rt, nil
		}
	}
	rt, err := ParseRoute(raw, r.cls.names())
	if err != nil {
		return nil, err
	}
	rt.excluded = r.routeExclusions(rt)
	rt.blocks = newRouteBlocks(rt.excluded)
	r.routesMu.Lock()
	defer r.routesMu.Unlock()
	old := r.routes.Load()
	if old == nil || len(*old) < maxCachedRoutes {
		m := make(map[string]*Route, 1+len(ptrMap(old)))
		for k, v := range ptrMap(old) {
			m[k] = v
		}
		m[string(raw)] = rt
		r.routes.Store(&m)
	}
	return rt, nil
}

func ptrMap(m *map[string]*Route) map[string]*Route {
	if m == nil {
		return nil
	}
	return *m
}

// routeExclusions applies rt's part of the fixed filters to every
// backend (under no profile). It is nil when rt binds none of them (then
// there is nothing to test).
func (r *Router) routeExclusions(rt *Route) bitset {
	var fs []filter
	for _, f := range fixedFilters {
		if f.binds(noProfile, rt) {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil
	}
	pl := &plan{q: &Query{Route: rt}, p: noProfile}
	ex := newBitset(len(r.order))
	var c cand
	for _, b := range r.order {
		c.b = b
		for _, f := range fs {
			if f.exclude(pl, &c) != "" {
				ex.set(b.idx)
				break
			}
		}
	}
	return ex
}

// routeBlocks returns rt.blocks when it goes with ex, the exclusions a
// decision applies (nil for none).
func (rt *Route) routeBlocks(ex bitset) *routeBlocks {
	if rt == nil || ex == nil || rt.blocks == nil || len(ex) == 0 || &rt.blocks.ex[0] != &ex[0] {
		return nil
	}
	return rt.blocks
}

// routeBlocks is Route.blocks: by a static set's block index, whether each
// of its blocks holds a backend the route's exclusions admit.
type routeBlocks struct {
	ex bitset
	m  sync.Map // *blockIndex -> []bool
}

func newRouteBlocks(ex bitset) *routeBlocks {
	if ex == nil {
		return nil
	}
	return &routeBlocks{ex: ex}
}

// of returns, for each block of x, whether it holds a backend rb admits.
func (rb *routeBlocks) of(x *blockIndex) []bool {
	if v, ok := rb.m.Load(x); ok {
		return v.([]bool)
	}
	holds := make([]bool, len(x.sum))
	for j := range holds {
		for _, b := range x.members(j) {
			if !rb.ex.has(b.idx) {
				holds[j] = true
				break
			}
		}
	}
	v, _ := rb.m.LoadOrStore(x, holds)
	return v.([]bool)
}

// bitset is a set of small integers.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (s bitset) set(i int)      { s[i>>6] |= 1 << (i & 63) }
func (s bitset) has(i int) bool { return s[i>>6]&(1<<(i&63)) != 0 }

// Bound returns rt (nil: no route object) narrowed to the given openness
// and deployment, a gateway key's bounds: a copy, since rt may be shared
// through the parse cache, whose lists are the intersection of rt's and
// the bounds', with its fixed-rule exclusions made anew. An empty bound
// leaves that dimension as rt has it; bounds that rt's lists do not meet
// admit nothing.
func (r *Router) Bound(rt *Route, openness []catalog.Openness, deployment []catalog.Deployment) *Route {
	if len(openness) == 0 && len(deployment) == 0 {
		return rt
	}
	var b Route
	if rt != nil {
		b = *rt
	}
	b.Openness = narrow(b.Openness, openness, "none")
	b.Deployment = narrow(b.Deployment, deployment, "none")
	b.excluded = r.routeExclusions(&b)
	b.blocks = newRouteBlocks(b.excluded)
	return &b
}

// narrow is have ∩ bound (bound when have is empty: no constraint yet);
// an empty intersection is [none], which no model has.
func narrow[T ~string](have, bound []T, none T) []T {
	if len(bound) == 0 {
		return have
	}
	if len(have) == 0 {
		return bound
	}
	var out []T
	for _, v := range have {
		if slices.Contains(bound, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return []T{none}
	}
	return out
}
