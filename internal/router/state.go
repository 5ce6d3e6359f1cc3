package router

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

// Breaker states.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half-open"
)

// Tier sources, shown wherever a tier is.
const (
	SourcePrior = "prior" // the catalog's prior from the framework's speed matrix
	SourceBench = "bench" // the bench's tiers file
	SourceLive  = "live"  // measured from live traffic
)

// priorLatency seeds the latency average from a tier, so an untried
// backend is neither free nor shunned.
var priorLatency = map[catalog.Tier]time.Duration{
	catalog.UltraFast: 200 * time.Millisecond, catalog.Fast: 500 * time.Millisecond,
	catalog.Moderate: 1500 * time.Millisecond, catalog.Slow: 4 * time.Second,
}

// backend is one catalog model's live state. Its own mutex guards it, so
// requests to different backends never contend.
type backend struct {
	// What a decision reads, first, so that it shares a cache line.
	live      atomic.Pointer[live]
	inflight  atomic.Int64
	ctxWindow int
	domains   uint64 // the model's domains as bits (see Router.domainBits)
	// domainFit is the score of a model whose domains match a request's:
	// 0.5, plus 0.25 if fine-tuned, plus 0.25 if RAG-grounded.
	domainFit float64
	// Fixed facts, computed once: the model's tasks as a bit set, its
	// blended price and its position in the router's order.
	price    float64
	quality  int32 // the catalog's quality rank
	tasks    taskSet
	idx      int
	model    *catalog.Model
	provider providers.Provider
	ph       *provHealth            // the provider's health, shared by its models (provider_health.go)
	pbit     uint64                 // its provider's bit in provSet.blocked's mask (0: none)
	caps     providers.Capabilities // what its adapter refuses or drops (filter_params.go)
	// pinnedWhy is the reason of a decision that pins the model.
	pinnedWhy string
	// in lists the static sets' blocks b is a member of, whose summaries
	// publish keeps (static.go); part is what b last added to them. Both
	// under mu.
	in   []blockRef
	part blockLive

	mu sync.Mutex
	// Peak-sensitive EWMA of latency (ns) and when it was last updated.
	ewma     float64
	ewmaAt   time.Time
	ttftEWMA float64 // ns, single-stream-ish live TTFT
	tpsEWMA  float64 // output tokens/s
	samples  int
	unary    float64  // ns, peak-sensitive average of successful unary answers (deadline.go)
	obs      int      // latency samples taken
	peers    *peerSet // the other replicas' figures (shared.go; nil: none)

	tier       catalog.Tier
	tierSource string
	measuredAt time.Time
	candidate  catalog.Tier // a different tier the live figures point at
	candSince  time.Time

	breakerState
}

// breakerState is a circuit breaker's bookkeeping, the same for a backend
// and for a provider (provider_health.go): counts in the current and the
// previous window, when it opened, whether its half-open trial is out, a
// Retry-After cool-down and the last error.
type breakerState struct {
	state              string
	winStart           time.Time
	curTotal, curErr   int
	prevTotal, prevErr int
	openedAt           time.Time
	trialOut           bool
	cooldownUntil      time.Time
	lastError          string
}

func newBackend(m *catalog.Model, p providers.Provider, now time.Time) *backend {
	t := m.TierPrior
	if t == "" {
		t = catalog.Moderate
	}
	b := &backend{model: m, provider: p, caps: providers.CapabilitiesOf(p), tier: t, tierSource: SourcePrior, breakerState: breakerState{state: Closed, winStart: now},
		ewma: float64(priorLatency[t]), ewmaAt: now, tasks: tasksOf(m.Tasks), price: blended(m), quality: int32(m.Quality), idx: -1,
		ctxWindow: m.ContextWindow, domainFit: domainFitOf(m), pinnedWhy: "pinned to " + m.ID}
	b.publish()
	return b
}

// live is what a decision reads of a backend: an immutable value
// replaced (under the backend's mutex) after every change, so that a
// decision reads every backend with one atomic load and no lock.
type live struct {
	// What every decision reads, first and together in one cache line
	// (see liveSize): the latency average and when it was taken, the
	// tier's typical latency it drifts back to, the breaker and
	// Retry-After instants as Unix nanoseconds, the tier's rank, the
	// output tokens/s and whether the circuit is open.
	ewma                   float64
	ewmaAtNs               int64
	prior                  float64
	openedAtNs, cooldownNs int64
	rank                   int
	tps                    float64
	open                   bool
	// Then what some requests read.
	ttft  time.Duration // live TTFT average
	unary time.Duration // successful unary answers' average (deadline.go)
	// Then what is shown.
	tier       catalog.Tier
	tierSource string
	measuredAt time.Time
	state      string
	lastError  string
	// pad makes the size liveSize, whose allocations start on a cache
	// line, so that the fields a decision reads share one.
	_ [liveSize - liveFields]byte
}

// liveSize is live's size: a multiple of 64 (and a size class of the Go
// allocator), over the size of its fields (liveFields, checked by
// TestLiveLayout).
const (
	liveSize   = 192
	liveFields = 168
)

// publish replaces the backend's live value; b.mu must be held.
func (b *backend) publish() {
	l := &live{tier: b.tier, tierSource: b.tierSource, measuredAt: b.measuredAt, state: b.state, lastError: b.lastError,
		ewma: b.ewma, ttft: time.Duration(b.ttftEWMA), tps: b.tpsEWMA, unary: time.Duration(b.unary),
		openedAtNs: unixNs(b.openedAt), cooldownNs: unixNs(b.cooldownUntil), ewmaAtNs: unixNs(b.ewmaAt), rank: b.tier.Rank(),
		open: b.state == Open, prior: float64(priorLatency[b.tier])}
	if b.peers != nil {
		b.peers.merge(l, b) // shared.go
	}
	b.live.Store(l)
	if m := liveOf(l); m != b.part {
		old := b.part
		b.part = m
		for _, in := range b.in {
			in.x.note(in.blk, old, m)
		}
	}
}

// costFloor is a bound under the load cost a decision can price l at,
// whatever the time and the requests in flight: the latency average
// drifts between the average and the tier's typical latency (see
// drift.latency), and in-flight + 1 is at least 1.
func (l *live) costFloor() float64 {
	return min(l.ewma, l.prior)
}

// snapshot is a backend as one decision sees it.
type snapshot struct {
	l        *live
	state    string        // with an open circuit past open_for shown as half-open
	cooldown time.Duration // left of a Retry-After
	cost     float64       // PeakEWMA latency × (in-flight + 1), ns; see price
	inflight int64
	prov     string // why the provider admits nothing now (provider_health.go), "" when it admits
}

func (b *backend) snapshot(now time.Time, cfg *config.Router) snapshot {
	return b.snapshotNs(now.UnixNano(), cfg)
}

func (b *backend) snapshotNs(now int64, cfg *config.Router) snapshot {
	l := b.live.Load()
	s := snapshot{l: l, state: l.state, inflight: b.inflight.Load()}
	if s.state == Open && now-l.openedAtNs >= int64(cfg.Breaker.OpenFor) {
		s.state = HalfOpen
	}
	if now < l.cooldownNs {
		s.cooldown = time.Duration(l.cooldownNs - now)
	}
	if b.ph.blockedNs(now, cfg) {
		s.prov = b.ph.why(now, cfg, true)
	}
	return s
}

// unixNs is t in Unix nanoseconds, 0 for the zero time.
func unixNs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// price sets s.cost, the PeakEWMA load cost: the latency average as of
// now (see drift) times (in-flight + 1). Only eligible candidates need it.
func (s *snapshot) price(now int64, d *drift) {
	s.cost = d.latency(s.l, now) * float64(s.inflight+1)
}

// driftSteps is how many decay constants the drift table spans: past
// them an idle backend's average is its tier's typical latency (the
// weight left, e^-10, is under 0.005%).
const driftSteps = 120

// drift is how an idle backend's latency average returns to its tier's
// typical latency: with weight w = e^(-idle/(12·decay)) on the average,
// over a few minutes at the default decay, so one bad spell does not shun
// a backend for ever when nothing else probes it. Every decision computes
// it for every candidate, so the weight is tabulated once per decay
// constant of idle time and interpolated between (error under 0.1%)
// instead of calling math.Exp 200 times a decision.
type drift struct {
	per  float64 // 1 / the decay constant in ns
	skip int64   // below this idle time the drift is under 0.1%: none
	w    [driftSteps + 1]float64
}

func newDrift(decay time.Duration) *drift {
	d := &drift{per: 1 / float64(decay), skip: int64(decay / 10)}
	for k := range d.w {
		d.w[k] = math.Exp(-float64(k) / 12)
	}
	return d
}

// latency is l's latency average as of now, ns.
func (d *drift) latency(l *live, now int64) float64 {
	ls, v := [1]*live{l}, [1]float64{}
	d.latencies(ls[:], now, v[:])
	return v[0]
}

// latencies sets v[i] to ls[i]'s latency average as of now, ns (the scan
// prices a block's admitted backends at once: the interpolation, too big
// to inline, is then not a call each).
func (d *drift) latencies(ls []*live, now int64, v []float64) {
	v = v[:len(ls)]
	for i, l := range ls {
		idle := now - l.ewmaAtNs
		if idle <= d.skip || l.ewma == l.prior {
			v[i] = l.ewma // (between the two, when they are one, is it)
			continue
		}
		x := float64(idle) * d.per
		if x >= driftSteps {
			v[i] = l.prior
			continue
		}
		k := int(x)
		w := d.w[k] + (d.w[k+1]-d.w[k])*(x-float64(k))
		e, p := l.ewma, l.prior
		// Between the two, whatever the rounding (costFloor relies on
		// it), by a clamp without a branch: whether it is needed follows
		// no pattern a predictor could learn.
		v[i] = between(e*w+p*(1-w), e, p)
	}
}

// between is v clamped to [min(a, b), max(a, b)], for v, a and b not
// negative (latencies), without a branch: such floats order as their
// bits do, and an integer min or max is a conditional move.
func between(v, a, b float64) float64 {
	vb, ab, bb := math.Float64bits(v), math.Float64bits(a), math.Float64bits(b)
	return math.Float64frombits(min(max(vb, min(ab, bb)), max(ab, bb)))
}

// updateState moves an open circuit to half-open once OpenFor passed.
func (b *backend) updateState(now time.Time, cfg *config.Router) {
	if b.state == Open && now.Sub(b.openedAt) >= cfg.Breaker.OpenFor {
		b.state, b.trialOut = HalfOpen, false
	}
}

// admit reports whether a request may go to the backend now: a closed
// circuit admits all, a half-open one exactly one trial at a time.
func (b *backend) admit(now time.Time, cfg *config.Router) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.publish()
	b.updateState(now, cfg)
	switch b.state {
	case Closed:
		return true
	case HalfOpen:
		if !b.trialOut {
			b.trialOut = true
			return true
		}
	}
	return false
}

// outcome is what one attempt tells about a backend.
type outcome struct {
	start       time.Time
	latency     time.Duration // to first token (streams) or to the answer
	ttft        time.Duration // 0 when not a stream
	tokens      int           // completion tokens
	genTime     time.Duration // first token to end
	err         *providers.Error
	clientFault bool // a 4xx caused by the request, not the backend
	stream      bool // a streamed answer
}

// record feeds an attempt's outcome into the averages, the breaker and
// the live tier. It returns the breaker state after it.
func (b *backend) record(o outcome, now time.Time, cfg *config.Router, rules []config.TierRule) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.publish()
	b.updateState(now, cfg)
	// Roll the breaker window.
	if now.Sub(b.winStart) >= cfg.Breaker.Window {
		if now.Sub(b.winStart) >= 2*cfg.Breaker.Window {
			b.prevTotal, b.prevErr = 0, 0
		} else {
			b.prevTotal, b.prevErr = b.curTotal, b.curErr
		}
		b.curTotal, b.curErr, b.winStart = 0, 0, now
	}
	failed := o.err != nil && !o.clientFault
	if o.err != nil && !failed {
		return b.state // the request was at fault, not the backend
	}
	b.curTotal++
	if failed {
		b.curErr++
		b.lastError = o.err.Message
		if o.err.RetryAfter > 0 && o.err.Status != 503 { // a 503's cools the provider (provider_health.go)
			b.cooldownUntil = now.Add(o.err.RetryAfter)
		}
		auth := o.err.Status == 401 || o.err.Status == 403
		switch {
		case b.state == HalfOpen || auth:
			b.open(now)
		default:
			frac := float64(now.Sub(b.winStart)) / float64(cfg.Breaker.Window)
			w := 1 - frac
			total := float64(b.prevTotal)*w + float64(b.curTotal)
			errs := float64(b.prevErr)*w + float64(b.curErr)
			if total >= float64(cfg.Breaker.MinRequests) && errs/total >= cfg.Breaker.ErrorRatio {
				b.open(now)
			}
		}
		// A failure is a latency sample as bad as the time it wasted, and
		// at least as bad as the deadline it would be given up at: a
		// failing fast backend stops ranking first on speed.
		b.observeLatency(max(o.latency, b.deadline(cfg, o.ttft > 0 || o.stream)), now, cfg)
		return b.state
	}
	if b.state == HalfOpen {
		b.state, b.trialOut = Closed, false
		b.curTotal, b.curErr, b.prevTotal, b.prevErr = 1, 0, 0, 0
	}
	b.observeLatency(o.latency, now, cfg)
	if !o.stream {
		b.observeUnary(o.latency, now, cfg)
	}
	if o.ttft > 0 {
		alpha := 0.3
		if b.samples == 0 {
			alpha = 1
		}
		b.ttftEWMA += alpha * (float64(o.ttft) - b.ttftEWMA)
		if o.tokens > 1 && o.genTime > 0 {
			tps := float64(o.tokens-1) / o.genTime.Seconds()
			b.tpsEWMA += alpha * (tps - b.tpsEWMA)
		}
		b.samples++
		b.moveTier(now, cfg, rules)
	}
	return b.state
}

func (b *backend) open(now time.Time) {
	b.state, b.openedAt, b.trialOut = Open, now, false
}

// observeLatency updates the peak-sensitive EWMA: a sample above the
// average replaces it at once (a slowdown is believed immediately), one
// below it is blended in with weight decaying with the time since the
// last sample (a recovery is believed gradually).
func (b *backend) observeLatency(l time.Duration, now time.Time, cfg *config.Router) {
	if l <= 0 {
		return
	}
	s := float64(l)
	if s > b.ewma {
		b.ewma = s
	} else {
		dt := now.Sub(b.ewmaAt)
		w := math.Exp(-float64(dt) / float64(cfg.EWMADecay))
		b.ewma = b.ewma*w + s*(1-w)
	}
	b.ewmaAt = now
	b.obs++
}

// moveTier feeds the live tier (b.mu held) once the live figures rest
// on three stream samples: b's own merged with the peers' (tierFigures,
// shared.go), so that a replica that served nothing follows the tier the
// others' traffic measured.
func (b *backend) moveTier(now time.Time, cfg *config.Router, rules []config.TierRule) {
	if ttft, tps, n := b.tierFigures(); n >= 3 && len(rules) > 0 && tps > 0 {
		b.liveTier(now, cfg, rules, ttft, tps)
	}
}

// liveTier applies hysteresis: a tier the live figures (ttft in ns, tps)
// point at replaces the current one only after it has held for
// TierWindow.
func (b *backend) liveTier(now time.Time, cfg *config.Router, rules []config.TierRule, ttft, tps float64) {
	t, _ := tiers.Assign(rules, time.Duration(ttft), tps)
	if t == b.tier {
		b.candidate = ""
		if b.tierSource != SourcePrior {
			b.measuredAt = now
		}
		return
	}
	if t != b.candidate {
		b.candidate, b.candSince = t, now
		return
	}
	if now.Sub(b.candSince) >= cfg.TierWindow {
		b.tier, b.tierSource, b.measuredAt, b.candidate = t, SourceLive, now, ""
	}
}

// setMeasured installs a tier from the bench's file.
func (b *backend) setMeasured(e tiers.Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.publish()
	b.tier, b.tierSource, b.measuredAt, b.candidate = e.Tier, SourceBench, e.MeasuredAt, ""
	if e.TTFTP50Ms > 0 {
		b.ttftEWMA = e.TTFTP50Ms * float64(time.Millisecond)
		if b.samples == 0 {
			b.ewma = b.ttftEWMA
		}
	}
	if e.OutputTokensPerSecP50 > 0 {
		b.tpsEWMA = e.OutputTokensPerSecP50
	}
}

func (b *backend) stateNow() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// taskSet is a set of tasks as bits.
type taskSet uint16

var taskBits = map[catalog.Task]taskSet{catalog.Chat: 1, catalog.Vision: 2, catalog.Tools: 4, catalog.Embeddings: 8,
	catalog.SpeechToText: 16, catalog.TextToSpeech: 32}

func tasksOf(ts []catalog.Task) taskSet {
	var s taskSet
	for _, t := range ts {
		s |= taskBits[t]
	}
	return s
}

func domainFitOf(m *catalog.Model) float64 {
	s := 0.5
	if m.FineTuned {
		s += 0.25
	}
	if m.RAG {
		s += 0.25
	}
	return s
}
