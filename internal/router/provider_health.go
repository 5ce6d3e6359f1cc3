package router

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
)

// provHealth is one provider's health, beside its models' own: failures
// that say the provider itself is in trouble (it cannot be reached, sent
// no first byte in time, answered 5xx or overloaded, refused our key)
// count against it, and a few in a row, or the error ratio rule, open a
// provider-wide circuit that excludes all its models until a half-open
// trial succeeds. A 503's Retry-After cools the whole provider.
type provHealth struct {
	name string
	live atomic.Pointer[provLive]
	// onState is told of each change of state (nil: no one).
	onState func(provider, state string)

	mu          sync.Mutex
	consecutive int
	breakerState
}

// provLive is what a decision reads of a provider, replaced whole.
type provLive struct {
	state                  string // the raw state (shared.go tells a close by it)
	open                   bool
	openedAtNs, cooldownNs int64
	lastError              string
}

func newProvHealth(name string, now time.Time) *provHealth {
	p := &provHealth{name: name, breakerState: breakerState{state: Closed, winStart: now}}
	p.publish()
	return p
}

// publish replaces the live value; p.mu must be held.
func (p *provHealth) publish() {
	p.live.Store(&provLive{state: p.state, open: p.state == Open, openedAtNs: unixNs(p.openedAt), cooldownNs: unixNs(p.cooldownUntil), lastError: p.lastError})
}

// unlock publishes the live value, releases p.mu and tells onState when
// the state is no longer before.
func (p *provHealth) unlock(before string) {
	after := p.state
	p.publish()
	p.mu.Unlock()
	if after != before && p.onState != nil {
		p.onState(p.name, after)
	}
}

// attachProviders gives every backend its provider's health, one per
// provider name, each telling onState (nil: no one) of its changes, and
// returns them numbered (see provSet).
func attachProviders(bs []*backend, now time.Time, onState func(provider, state string)) provSet {
	byName := map[string]*provHealth{}
	var set provSet
	for _, b := range bs {
		ph, ok := byName[b.model.Provider]
		if !ok {
			ph = newProvHealth(b.model.Provider, now)
			ph.onState = onState
			byName[b.model.Provider] = ph
			set = append(set, ph)
		}
		b.ph = ph
		if i := slices.Index(set, ph); i < 64 {
			b.pbit = 1 << i
		}
	}
	return set
}

// provSet is the router's providers' health, the first 64 as bits of a
// mask (backend.pbit): a decision reads each provider once, not once per
// backend.
type provSet []*provHealth

// blocked returns the providers that admit nothing at now as a mask, and
// whether it is exact (every provider has a bit).
func (s provSet) blocked(now int64, cfg *config.Router) (mask uint64, exact bool) {
	for i, p := range s {
		if i < 64 && p.blockedNs(now, cfg) {
			mask |= 1 << i
		}
	}
	return mask, len(s) <= 64
}

// provOut reports whether b's provider admits nothing at pl's time: one
// bit when the plan holds the providers' mask, else its health read.
func (pl *plan) provOut(b *backend) bool {
	if pl.provExact {
		return pl.provBlocked&b.pbit != 0
	}
	return b.ph.blockedNs(pl.nowNs, pl.cfg)
}

// blockedNs reports whether the provider admits no request at now: its
// circuit is open and not yet due for a trial, or it is cooling down.
func (p *provHealth) blockedNs(now int64, cfg *config.Router) bool {
	if p == nil {
		return false
	}
	l := p.live.Load()
	return (l.open && now-l.openedAtNs < int64(cfg.ProviderBreaker.OpenFor)) || now < l.cooldownNs
}

// why says why the provider admits nothing now, "" when it admits.
func (p *provHealth) why(now int64, cfg *config.Router, explain bool) string {
	if !p.blockedNs(now, cfg) {
		return ""
	}
	if !explain {
		return excluded
	}
	l := p.live.Load()
	if l.open && now-l.openedAtNs < int64(cfg.ProviderBreaker.OpenFor) {
		left := time.Duration(int64(cfg.ProviderBreaker.OpenFor) - (now - l.openedAtNs)).Round(time.Millisecond)
		return fmt.Sprintf("provider %s: circuit open after failures of the provider (last: %s); a trial in %v", p.name, l.lastError, left)
	}
	return fmt.Sprintf("provider %s: cooling down for %v after its 503 Retry-After", p.name, time.Duration(l.cooldownNs-now).Round(time.Millisecond))
}

// cooldownLeft is how long the provider is still cooling down.
func (p *provHealth) cooldownLeft(now int64) time.Duration {
	if p == nil {
		return 0
	}
	if l := p.live.Load(); now < l.cooldownNs {
		return time.Duration(l.cooldownNs - now)
	}
	return 0
}

// admit reports whether a request may go to the provider now: closed
// admits all, half-open (open past OpenFor) one trial at a time.
func (p *provHealth) admit(now time.Time, cfg *config.Router) bool {
	if p == nil {
		return true
	}
	p.mu.Lock()
	defer p.unlock(p.state)
	p.updateState(now, cfg)
	switch p.state {
	case Closed:
		return true
	case HalfOpen:
		if !p.trialOut {
			p.trialOut = true
			return true
		}
	}
	return false
}

// release hands back a trial admit gave that was never used (or whose
// client went away): the next request may be the trial.
func (p *provHealth) release() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.state == HalfOpen {
		p.trialOut = false
	}
	p.mu.Unlock()
}

func (p *provHealth) updateState(now time.Time, cfg *config.Router) {
	if p.state == Open && now.Sub(p.openedAt) >= cfg.ProviderBreaker.OpenFor {
		p.state, p.trialOut = HalfOpen, false
	}
}

// record feeds one attempt's outcome: providerFault says the failure is
// the provider's (see ProviderFault); other failures (a 429, a request
// at fault) neither count for nor against it.
func (p *provHealth) record(pe *providers.Error, providerFault bool, now time.Time, cfg *config.Router) {
	if p == nil {
		return
	}
	if pe != nil && !providerFault {
		p.release() // a trial that failed for its own reasons decides nothing
		return
	}
	p.mu.Lock()
	defer p.unlock(p.state)
	p.updateState(now, cfg)
	w := cfg.Breaker.Window
	if now.Sub(p.winStart) >= w {
		if now.Sub(p.winStart) >= 2*w {
			p.prevTotal, p.prevErr = 0, 0
		} else {
			p.prevTotal, p.prevErr = p.curTotal, p.curErr
		}
		p.curTotal, p.curErr, p.winStart = 0, 0, now
	}
	p.curTotal++
	if pe == nil {
		p.consecutive = 0
		if p.state == HalfOpen {
			p.state, p.trialOut = Closed, false
			p.curTotal, p.curErr, p.prevTotal, p.prevErr = 1, 0, 0, 0
		}
		return
	}
	p.curErr++
	p.consecutive++
	p.lastError = pe.Message
	if pe.Status == http.StatusServiceUnavailable && pe.RetryAfter > 0 {
		p.cooldownUntil = now.Add(pe.RetryAfter)
	}
	frac := float64(now.Sub(p.winStart)) / float64(w)
	total := float64(p.prevTotal)*(1-frac) + float64(p.curTotal)
	errs := float64(p.prevErr)*(1-frac) + float64(p.curErr)
	switch {
	case p.state == HalfOpen, pe.Status == http.StatusUnauthorized, pe.Status == http.StatusForbidden,
		p.consecutive >= cfg.ProviderBreaker.Consecutive,
		total >= float64(cfg.Breaker.MinRequests) && errs/total >= cfg.Breaker.ErrorRatio:
		if p.state != Open {
			p.state, p.openedAt, p.trialOut = Open, now, false
		}
	}
}

// pass closes the circuit, open or half-open, when it opened before
// sent: a probe sent then answered (it is the trial a half-open circuit
// would wait open_for to send).
func (p *provHealth) pass(now, sent time.Time) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.unlock(p.state)
	if p.state != Closed && !p.openedAt.After(sent) {
		p.state, p.trialOut, p.consecutive, p.winStart = Closed, false, 0, now
		p.curTotal, p.curErr, p.prevTotal, p.prevErr = 0, 0, 0, 0
	}
}

func (p *provHealth) stateAt(now time.Time, cfg *config.Router) string {
	if p == nil {
		return Closed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == Open && now.Sub(p.openedAt) >= cfg.ProviderBreaker.OpenFor {
		return HalfOpen
	}
	return p.state
}

// ProviderFault reports whether err says the provider itself is in
// trouble rather than one model or the request: it could not be reached
// (connection refused or reset, TLS, DNS), sent no first byte in time,
// answered 5xx or overloaded, or refused the key (401/403). A 429, a
// 4xx caused by the request and a client that went away are not.
func ProviderFault(err error) bool {
	if err == nil {
		return false
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return true // not reached in the providers' vocabulary: a transport failure
	}
	switch {
	case pe.Status == http.StatusUnauthorized, pe.Status == http.StatusForbidden:
		return true
	case pe.Status >= 500:
		return true
	}
	return false
}

// ProviderStatus is one provider's health for the status page.
type ProviderStatus struct {
	Provider  string `json:"provider"`
	Breaker   string `json:"breaker"`
	LastError string `json:"last_error,omitempty"`
	// CoolingFor is what is left of a 503's Retry-After.
	CoolingFor time.Duration `json:"cooling_for,omitempty"`
}

// Providers returns every provider's health, in catalog order.
func (r *Router) Providers() []ProviderStatus {
	now := r.now()
	var out []ProviderStatus
	seen := map[*provHealth]bool{}
	for _, b := range r.order {
		if b.ph == nil || seen[b.ph] {
			continue
		}
		seen[b.ph] = true
		l := b.ph.live.Load()
		out = append(out, ProviderStatus{Provider: b.ph.name, Breaker: b.ph.stateAt(now, &r.cfg), LastError: l.lastError,
			CoolingFor: b.ph.cooldownLeft(now.UnixNano())})
	}
	return out
}
