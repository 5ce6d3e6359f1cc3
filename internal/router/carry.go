package router

// CarryFrom takes over old's live state for every backend both routers
// have (by model id) and every provider both have (by name): breakers
// with their windows, latency and TTFT averages, live tiers, cool-downs,
// last errors and the peers' figures (shared.go). A router built to
// replace another (a provider came up, models were added) calls it
// before it serves, so that an outage, a cool-down, a measured speed or
// a peer's is not forgotten by the swap. Requests
// in flight on old keep recording there; a half-open trial out on old
// is not out here. Backends and providers new to r keep their priors.
func (r *Router) CarryFrom(old *Router) {
	if old == nil || old == r {
		return
	}
	done := map[*provHealth]bool{}
	oldProv := map[string]*provHealth{}
	for _, ob := range old.order {
		if ob.ph != nil {
			oldProv[ob.ph.name] = ob.ph
		}
	}
	for _, b := range r.order {
		if ob, ok := old.backends[b.model.ID]; ok && ob != b {
			b.carry(ob, r)
		}
		if b.ph != nil && !done[b.ph] {
			done[b.ph] = true
			if op := oldProv[b.ph.name]; op != nil && op != b.ph {
				b.ph.carry(op)
			}
		}
	}
}

// carry copies ob's live state into b, whose router is r. It holds both
// mutexes, old's first; b's router is not serving yet, so nothing locks
// the other way.
func (b *backend) carry(ob *backend, r *Router) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ewma, b.ewmaAt, b.ttftEWMA, b.tpsEWMA, b.samples, b.unary, b.obs = ob.ewma, ob.ewmaAt, ob.ttftEWMA, ob.tpsEWMA, ob.samples, ob.unary, ob.obs
	b.tier, b.tierSource, b.measuredAt, b.candidate, b.candSince = ob.tier, ob.tierSource, ob.measuredAt, ob.candidate, ob.candSince
	b.breakerState = ob.breakerState.carried()
	b.peers = ob.peers.clone(r.now, float64(r.cfg.EWMADecay))
	b.publish()
}

// carry copies op's state into p (its onState stays p's own).
func (p *provHealth) carry(op *provHealth) {
	op.mu.Lock()
	bs, consecutive := op.breakerState.carried(), op.consecutive
	op.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.breakerState, p.consecutive = bs, consecutive
	p.publish()
}

// carried is the breaker as a new router takes it over: all of it but a
// trial that was out on the old router.
func (s breakerState) carried() breakerState {
	s.trialOut = false
	return s
}
