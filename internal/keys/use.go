package keys

import (
	"context"
	"time"
)

// Use is how much of a key's limits its current windows hold, read
// without changing them: requests admitted in the last minute and in
// flight, tokens reserved or used in the last minute, and the budget
// spent and reserved this period. A limit of 0 is no limit.
type Use struct {
	RPM, Requests           int
	MaxConcurrent, InFlight int
	TPM, Tokens             int
	// BudgetUSD, SpentUSD (settled plus reserved) and PeriodEnd
	// describe the budget; Loaded is false while the limiter has not
	// read this period's spend yet (no request of the key this period):
	// SpentUSD is then 0, and the ledger (Ring.Usage) knows better.
	BudgetUSD, SpentUSD float64
	PeriodEnd           time.Time
	Loaded              bool
}

// UseReader is a Limiter that can report a key's window use
// (NewMemoryLimiter's does).
type UseReader interface {
	Use(id string, p Policy, now time.Time) Use
}

// Use reports how much of key k's limits are used now; ok is false when
// the Ring's limiter cannot say (it is not a UseReader).
func (r *Ring) Use(k Key) (Use, bool) {
	ur, ok := r.limiter.(UseReader)
	if !ok {
		return Use{}, false
	}
	return ur.Use(k.ID, k.Policy, r.now()), true
}

// Use implements UseReader: it counts the windows as Acquire and Reserve
// would at now, without trimming them.
func (m *memLimiter) Use(id string, p Policy, now time.Time) Use {
	u := Use{RPM: p.RPM, MaxConcurrent: p.MaxConcurrent, TPM: p.TPM}
	if p.Budget != nil {
		u.BudgetUSD = p.Budget.USD
		u.PeriodEnd = periodEnd(p.Period(), PeriodStart(p.Period(), now))
	}
	m.mu.Lock()
	b, tb := m.keys[id], m.tokens[id]
	m.mu.Unlock()
	cut := now.Add(-time.Minute)
	if b != nil {
		b.mu.Lock()
		for _, t := range b.times {
			if t.After(cut) {
				u.Requests++
			}
		}
		u.InFlight = b.inFlight
		b.mu.Unlock()
	}
	if tb != nil {
		m.tmu.Lock()
		for _, t := range tb.log {
			if t.at.After(cut) {
				u.Tokens += t.tokens
			}
		}
		if tb.loaded && tb.period.Equal(PeriodStart(p.Period(), now)) {
			u.SpentUSD, u.Loaded = tb.spent+tb.reserved, true
		}
		m.tmu.Unlock()
	}
	return u
}

// Spent is what key k spent and holds reserved this budget period, as its
// budget counts it: the limiter's figure once it has read the period's
// spend, else the ledger's (Usage).
func (r *Ring) Spent(ctx context.Context, k Key) (float64, error) {
	if u, ok := r.Use(k); ok && u.Loaded {
		return u.SpentUSD, nil
	}
	u, err := r.Usage(ctx, k.ID)
	return u.SpendUSD, err
}
