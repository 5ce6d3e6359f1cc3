package router

import (
	"fmt"
	"time"
)

// availability admits a backend whose circuit is not open, which is not
// cooling down after a Retry-After, and whose provider's own health
// (provider_health.go) admits it (its provider is enabled, or it would
// not be in the set).
type availability struct{}

func (availability) name() string     { return "availability" }
func (availability) binds(*plan) bool { return true }
func (availability) exclude(pl *plan, c *cand) string {
	switch {
	case c.snap.prov != "":
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

// mark: a circuit shows open until open_for has passed (then half-open,
// which admits its one trial in Router.Begin), as snapshot says; so does
// the provider's.
func (availability) mark(pl *plan, st *staticSet, ls []*live, out []bool) {
	now, openFor := pl.nowNs, pl.openFor
	out = out[:len(ls)]
	for i, l := range ls {
		if l.open && now-l.openedAtNs < openFor || now < l.cooldownNs {
			out[i] = true
		}
	}
	if pl.provExact && pl.provBlocked == 0 {
		return // every provider admits
	}
	for i, b := range st.backends[:len(ls)] {
		if !out[i] && pl.provOut(b) {
			out[i] = true
		}
	}
}
