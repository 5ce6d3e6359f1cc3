package router

import (
	"math"
	"sync"
	"time"
)

// What replicas share (the app carries it over the shared state store;
// the router does no I/O):
//
//   - Breakers and cool-downs, as events (Shared). When an attempt's
//     outcome opens a model's or a provider's circuit, starts a model's
//     cool-down (a 429's Retry-After) or a provider's (a 503's), or a
//     half-open trial closes a circuit, Options.OnShare is told, with the
//     expiry as an absolute time. Router.ApplyShared applies another
//     replica's event: the circuit opens until that instant (its
//     half-open trial comes then, as the sender's does) or the cool-down
//     runs until it, without counting a failure here and without telling
//     OnShare (no echo). A close applies to a circuit that opened before
//     the trial that closed it succeeded. A probe that closes a circuit
//     before its open_for ends (trialPassed) is not shared: every
//     replica probes on its own.
//   - Live estimates, as snapshots (Estimate): each replica's own latency
//     average, TTFT and tokens/s per backend with their sample counts and
//     ages. Router.ApplyEstimates keeps each peer's, and what decisions
//     read (the backend's live value) is the merge of this replica's own
//     figures and the peers': see peerSet.merge. The merge is done when a
//     figure changes (a local sample, a peer's snapshot), never on a
//     decision. A replica shares only its own figures, never the merge.
//     The live tier is moved from the merged TTFT and tokens/s (with the
//     usual hysteresis, once own and peers' stream samples reach three),
//     so a replica that served nothing shows the tier the others
//     measured.

// Shared kinds and the state a cool-down is shared as.
const (
	SharedModel    = "model"
	SharedProvider = "provider"
	Cooldown       = "cooldown"
)

// Shared is a breaker or a cool-down one replica tells the others of.
type Shared struct {
	Kind string `json:"kind"` // SharedModel or SharedProvider
	Name string `json:"name"` // the catalog id or the provider's name
	// State is Open, Cooldown or Closed.
	State string `json:"state"`
	// Until is when the circuit is due for its half-open trial, or the
	// cool-down ends (zero for Closed).
	Until time.Time `json:"until,omitzero"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Reason is the error that opened it or the Retry-After's.
	Reason string `json:"reason,omitempty"`
}

// sharing is a router's side of what replicas share: whom to tell of a
// change and what it applied or told last, per breaker, so that a change
// is told once and an applied one never (see mark).
type sharing struct {
	out  func(Shared)
	last sync.Map // shareKey -> int64: the instant (ns) last applied or told
}

type shareKey struct {
	kind, name, state string
}

// mark records v as the last instant of k, and reports whether it is new.
func (s *sharing) mark(k shareKey, v int64) bool {
	old, ok := s.last.Swap(k, v)
	return !ok || old.(int64) != v
}

// changed tells OnShare what an attempt's outcome changed on b and its
// provider: bl and pl are their live values before it. Only changes this
// replica made are told: a value equal to one applied from a peer is not.
func (r *Router) changed(b *backend, bl *live, pl *provLive) {
	s := &r.sh
	if s.out == nil {
		return
	}
	if b.idx >= 0 { // a catalog backend, not a one-off provider/model
		l := b.live.Load()
		if l.open && l.openedAtNs != bl.openedAtNs && s.mark(shareKey{SharedModel, b.model.ID, Open}, l.openedAtNs) {
			s.out(Shared{Kind: SharedModel, Name: b.model.ID, State: Open, At: time.Unix(0, l.openedAtNs),
				Until: time.Unix(0, l.openedAtNs).Add(r.cfg.Breaker.OpenFor), Reason: l.lastError})
		}
		if l.cooldownNs > bl.cooldownNs && s.mark(shareKey{SharedModel, b.model.ID, Cooldown}, l.cooldownNs) {
			s.out(Shared{Kind: SharedModel, Name: b.model.ID, State: Cooldown, At: r.now(), Until: time.Unix(0, l.cooldownNs), Reason: l.lastError})
		}
		if bl.state != Closed && l.state == Closed && s.mark(shareKey{SharedModel, b.model.ID, Closed}, l.openedAtNs) {
			s.out(Shared{Kind: SharedModel, Name: b.model.ID, State: Closed, At: r.now()})
		}
	}
	if b.ph == nil || pl == nil {
		return
	}
	p, l := b.ph, b.ph.live.Load()
	if l.open && l.openedAtNs != pl.openedAtNs && s.mark(shareKey{SharedProvider, p.name, Open}, l.openedAtNs) {
		s.out(Shared{Kind: SharedProvider, Name: p.name, State: Open, At: time.Unix(0, l.openedAtNs),
			Until: time.Unix(0, l.openedAtNs).Add(r.cfg.ProviderBreaker.OpenFor), Reason: l.lastError})
	}
	if l.cooldownNs > pl.cooldownNs && s.mark(shareKey{SharedProvider, p.name, Cooldown}, l.cooldownNs) {
		s.out(Shared{Kind: SharedProvider, Name: p.name, State: Cooldown, At: r.now(), Until: time.Unix(0, l.cooldownNs), Reason: l.lastError})
	}
	if pl.state != Closed && l.state == Closed && s.mark(shareKey{SharedProvider, p.name, Closed}, l.openedAtNs) {
		s.out(Shared{Kind: SharedProvider, Name: p.name, State: Closed, At: r.now()})
	}
}

// lives is b's live value and its provider's (nil: none), as an
// attempt's outcome finds them.
func (b *backend) lives() (*live, *provLive) {
	if b.ph == nil {
		return b.live.Load(), nil
	}
	return b.live.Load(), b.ph.live.Load()
}

// sharedPrefix starts the last error of a circuit opened or cooled by
// another replica's event.
const sharedPrefix = "another replica: "

// ApplyShared applies another replica's event (see Shared) and reports
// whether it changed anything: an unknown model or provider, an expiry
// already past, or a circuit already open (a cool-down already running)
// at least as long change nothing. It takes the backend's or provider's
// lock, as an attempt's outcome does; decisions keep reading without one.
func (r *Router) ApplyShared(ev Shared) bool {
	now := r.now()
	if ev.State != Closed && !ev.Until.After(now) {
		return false
	}
	switch ev.Kind {
	case SharedModel:
		b := r.backends[ev.Name]
		if b == nil {
			return false
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if !r.applyBreaker(&b.breakerState, ev, r.cfg.Breaker.OpenFor, now) {
			return false
		}
		b.publish()
		return true
	case SharedProvider:
		var p *provHealth
		for _, q := range r.provs {
			if q.name == ev.Name {
				p = q
			}
		}
		if p == nil {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !r.applyBreaker(&p.breakerState, ev, r.cfg.ProviderBreaker.OpenFor, now) {
			return false
		}
		if ev.State == Closed {
			p.consecutive = 0
		}
		p.publish()
		return true
	}
	return false
}

// applyBreaker applies ev to bs (its owner's lock held), with openFor
// the owner's open_for, and marks what it applied.
func (r *Router) applyBreaker(bs *breakerState, ev Shared, openFor time.Duration, now time.Time) bool {
	k := shareKey{ev.Kind, ev.Name, ev.State}
	switch ev.State {
	case Open:
		// Open until ev.Until: as if it had opened open_for before.
		if bs.state == Open && !ev.Until.After(bs.openedAt.Add(openFor)) {
			return false
		}
		bs.state, bs.openedAt, bs.trialOut = Open, ev.Until.Add(-openFor), false
		bs.lastError = sharedPrefix + ev.Reason
		r.sh.mark(k, bs.openedAt.UnixNano())
	case Cooldown:
		if !ev.Until.After(bs.cooldownUntil) {
			return false
		}
		bs.cooldownUntil = ev.Until
		bs.lastError = sharedPrefix + ev.Reason
		r.sh.mark(k, ev.Until.UnixNano())
	case Closed:
		// A trial passed elsewhere: a circuit that opened before it
		// closes (one that opened since stays open).
		if bs.state == Closed || bs.openedAt.After(ev.At) {
			return false
		}
		bs.state, bs.trialOut, bs.winStart = Closed, false, now
		bs.curTotal, bs.curErr, bs.prevTotal, bs.prevErr = 0, 0, 0, 0
		r.sh.mark(k, unixNs(bs.openedAt))
	default:
		return false
	}
	return true
}

// Estimate is one backend's live figures on one replica, as shared.
type Estimate struct {
	Model string `json:"model"`
	// Latency is the peak-sensitive latency average (what the load cost
	// prices), TTFT the streams' time to first token, TPS their output
	// tokens per second.
	Latency time.Duration `json:"latency_ns"`
	TTFT    time.Duration `json:"ttft_ns,omitempty"`
	TPS     float64       `json:"tps,omitempty"`
	// Samples is how many latency samples the replica took, TTFTSamples
	// how many of them were streams with a first token.
	Samples     int `json:"samples"`
	TTFTSamples int `json:"ttft_samples,omitempty"`
	// Age is the time since the last sample, when the snapshot was taken.
	Age time.Duration `json:"age_ns"`
}

// Merge settings: a source's sample count counts up to samplesCap (an
// average with decay remembers about that many), and a peer's figures
// older than horizon half-lives are dropped.
const (
	samplesCap = 20
	horizon    = 10
)

// Estimates is this replica's own figures (never the peers') for every
// backend it has sampled within the merge horizon, for its snapshot.
func (r *Router) Estimates() []Estimate {
	now := r.now()
	h := r.cfg.EWMADecay * horizon
	var out []Estimate
	for _, b := range r.order {
		b.mu.Lock()
		if age := now.Sub(b.ewmaAt); b.obs > 0 && age < h {
			out = append(out, Estimate{Model: b.model.ID, Latency: time.Duration(b.ewma), TTFT: time.Duration(b.ttftEWMA), TPS: b.tpsEWMA,
				Samples: b.obs, TTFTSamples: b.samples, Age: max(age, 0)})
		}
		b.mu.Unlock()
	}
	return out
}

// ApplyEstimates keeps peer from's snapshot (taken now, give or take the
// transport) in place of its previous one, and publishes every backend
// it names with the merged figures. Unknown models are skipped.
func (r *Router) ApplyEstimates(from string, es []Estimate) {
	now := r.now()
	for _, e := range es {
		b := r.backends[e.Model]
		if b == nil || e.Samples <= 0 {
			continue
		}
		b.mu.Lock()
		if b.peers == nil {
			b.peers = &peerSet{now: r.now, halfLife: float64(r.cfg.EWMADecay), by: map[string]peerFig{}}
		}
		b.peers.by[from] = peerFig{e: e, atNs: now.Add(-e.Age).UnixNano()}
		b.peers.sum(now.UnixNano())
		b.moveTier(now, &r.cfg, r.rules)
		b.publish()
		b.mu.Unlock()
	}
}

// peerSet is the other replicas' figures for one backend, under its
// mutex, and their weighted sums as of atNs (see sum).
type peerSet struct {
	now      func() time.Time
	halfLife float64 // ns: router.ewma_decay
	by       map[string]peerFig

	atNs, freshest int64   // when summed; the freshest peer sample
	streams        int     // the peers' stream samples (TTFTSamples) with a TTFT and a tokens/s
	wl, wt, ws     float64 // the weights of latency, TTFT and tokens/s
	lat, ttft, tps float64 // their weighted sums
}

// peerFig is one peer's figures and when (here, in Unix ns) its last
// sample was taken.
type peerFig struct {
	e    Estimate
	atNs int64
}

// weight is a source's weight in the merge: its sample count, at most
// samplesCap, halved for every half-life since its last sample.
func weight(n int, ageNs int64, halfLife float64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(min(n, samplesCap)) * math.Exp2(-float64(max(ageNs, 0))/halfLife)
}

// sum drops the peers past the horizon and sums the others' weighted
// figures as of now: every weight halves at the same rate, so merge
// brings them all to its own time with one factor.
func (ps *peerSet) sum(now int64) {
	ps.atNs, ps.freshest, ps.streams = now, 0, 0
	ps.wl, ps.wt, ps.ws, ps.lat, ps.ttft, ps.tps = 0, 0, 0, 0, 0, 0
	for id, p := range ps.by {
		age := now - p.atNs
		if float64(age) > horizon*ps.halfLife {
			delete(ps.by, id)
			continue
		}
		w := weight(p.e.Samples, age, ps.halfLife)
		ps.wl += w
		ps.lat += w * float64(p.e.Latency)
		if p.e.TTFT > 0 {
			w := weight(p.e.TTFTSamples, age, ps.halfLife)
			ps.wt += w
			ps.ttft += w * float64(p.e.TTFT)
			if p.e.TPS > 0 {
				ps.ws += w
				ps.tps += w * p.e.TPS
				ps.streams += p.e.TTFTSamples
			}
		}
		ps.freshest = max(ps.freshest, p.atNs)
	}
}

// merge sets l's latency average, TTFT and tokens/s to the weighted mean
// of b's own (b.mu held) and the peers': each source weighs
// weight(samples, age) as of now — its latency samples for the latency
// average, its stream samples for TTFT and tokens/s. The latency's time
// is the freshest source's, so that an idle average still drifts back to
// the tier's. Peers all past the horizon count no more; with no weight
// anywhere l keeps b's own figures, and merge reports false.
func (ps *peerSet) merge(l *live, b *backend) bool {
	now := ps.now().UnixNano()
	if ps.wl == 0 || float64(now-ps.freshest) > horizon*ps.halfLife {
		return false
	}
	d := math.Exp2(-float64(max(now-ps.atNs, 0)) / ps.halfLife) // the peers' weights, now
	var wl, wt float64
	freshest := ps.freshest
	if b.obs > 0 {
		own := now - unixNs(b.ewmaAt)
		wl = weight(b.obs, own, ps.halfLife)
		wt = wl * float64(min(b.samples, samplesCap)) / float64(min(b.obs, samplesCap))
		freshest = max(freshest, unixNs(b.ewmaAt))
	}
	ws := 0.0
	if b.tpsEWMA > 0 {
		ws = wt
	}
	if tw := wl + d*ps.wl; tw > 0 {
		l.ewma, l.ewmaAtNs = (wl*b.ewma+d*ps.lat)/tw, freshest
	}
	if tw := wt + d*ps.wt; tw > 0 {
		l.ttft = time.Duration((wt*b.ttftEWMA + d*ps.ttft) / tw)
	}
	if tw := ws + d*ps.ws; tw > 0 {
		l.tps = (ws*b.tpsEWMA + d*ps.tps) / tw
	}
	return true
}

// tierFigures is what b's live tier is decided from (b.mu held): the
// TTFT (ns) and tokens/s merged as decisions read them, and how many
// stream samples they rest on, b's own and the peers' within the
// horizon. Without peers they are b's own.
func (b *backend) tierFigures() (ttft, tps float64, n int) {
	if b.peers == nil {
		return b.ttftEWMA, b.tpsEWMA, b.samples
	}
	l := live{ttft: time.Duration(b.ttftEWMA), tps: b.tpsEWMA}
	if !b.peers.merge(&l, b) {
		return b.ttftEWMA, b.tpsEWMA, b.samples
	}
	return float64(l.ttft), l.tps, b.samples + b.peers.streams
}

// clone is a copy of ps for a new router generation (CarryFrom) on its
// clock and half-life, summed again; nil for nil.
func (ps *peerSet) clone(now func() time.Time, halfLife float64) *peerSet {
	if ps == nil {
		return nil
	}
	c := &peerSet{now: now, halfLife: halfLife, by: make(map[string]peerFig, len(ps.by))}
	for id, p := range ps.by {
		c.by[id] = p
	}
	c.sum(now().UnixNano())
	return c
}
