package keys

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Tokens is a token and budget limiter's answer to a reservation, enough
// for OpenAI's x-ratelimit-*-tokens headers and its insufficient_quota
// error.
type Tokens struct {
	Allowed bool
	// Refused names the limit that refused: "tpm" or "budget".
	Refused string
	// TPM, Remaining and Reset describe the tokens-per-minute window
	// (TPM 0: no such limit): tokens left in it after this reservation,
	// and when enough of the window's tokens leave it for this one.
	TPM, Remaining int
	Reset          time.Duration
	// RetryAfter is when to try again (refused on tpm only).
	RetryAfter time.Duration
	// BudgetUSD, SpentUSD (settled plus reserved, this period) and
	// PeriodEnd describe the budget (BudgetUSD 0: no budget).
	BudgetUSD, SpentUSD float64
	PeriodEnd           time.Time
}

// Headers sets OpenAI's x-ratelimit-*-tokens headers for t (none without
// a tpm limit).
func (t Tokens) Headers(set func(k, v string)) {
	if t.TPM <= 0 {
		return
	}
	set("x-ratelimit-limit-tokens", strconv.Itoa(t.TPM))
	set("x-ratelimit-remaining-tokens", strconv.Itoa(max(t.Remaining, 0)))
	set("x-ratelimit-reset-tokens", t.Reset.Round(time.Millisecond).String())
}

// Settle replaces a reservation with what the request used (tokens in
// and out, cost in USD). Only the first call counts.
type Settle func(tokens int, usd float64)

// SpendSource reads what key id spent since a time (the ledger), so that
// a budget survives a restart.
type SpendSource func(ctx context.Context, id string, since time.Time) (float64, error)

// tokenBucket is one key's tokens-per-minute log and budget period.
type tokenBucket struct {
	log []tokenUse // the last minute's reservations and uses, oldest first
	seq uint64
	sum int // the tokens of log, kept as it changes: a request costs O(log n), not O(n)

	period   time.Time // start of the budget period spent is for
	loaded   bool
	spent    float64 // settled this period
	reserved float64 // reserved by requests in flight
}

type tokenUse struct {
	at     time.Time
	tokens int
	seq    uint64 // which reservation, for its settle
}

func (b *tokenBucket) window(now time.Time) int {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(b.log) && !b.log[i].at.After(cut) {
		b.sum -= b.log[i].tokens
		i++
	}
	b.log = b.log[i:]
	return b.sum
}

// add logs a reservation of tokens at now and returns its seq.
func (b *tokenBucket) add(now time.Time, tokens int) uint64 {
	b.seq++
	b.log = append(b.log, tokenUse{at: now, tokens: tokens, seq: b.seq})
	b.sum += tokens
	return b.seq
}

// settle replaces reservation seq's tokens with actual, unless it has
// left the window already. The log is in seq order.
func (b *tokenBucket) settle(seq uint64, actual int) {
	i := sort.Search(len(b.log), func(i int) bool { return b.log[i].seq >= seq })
	if i < len(b.log) && b.log[i].seq == seq {
		b.sum += actual - b.log[i].tokens
		b.log[i].tokens = actual
	}
}

// resetFor is when enough of the window's tokens have left it for n more
// to fit under tpm.
func (b *tokenBucket) resetFor(now time.Time, used, n, tpm int) time.Duration {
	for _, u := range b.log {
		if used+n <= tpm {
			break
		}
		used -= u.tokens
		if used+n <= tpm {
			return u.at.Add(time.Minute).Sub(now)
		}
	}
	if used+n <= tpm {
		return 0
	}
	return time.Minute // larger than the limit: never within a window
}

func periodEnd(period string, start time.Time) time.Time {
	if period == Day {
		return start.AddDate(0, 0, 1)
	}
	return start.AddDate(0, 1, 0)
}

// Reserve implements Limiter's token half: see the interface.
func (m *memLimiter) Reserve(id string, p Policy, tokens int, usd float64, now time.Time) (Tokens, Settle) {
	budget := 0.0
	if p.Budget != nil {
		budget = p.Budget.USD
	}
	if p.TPM <= 0 && budget <= 0 {
		return Tokens{Allowed: true}, func(int, float64) {}
	}
	tokens, usd = max(tokens, 0), max(usd, 0)
	b := entry(&m.mu, m.tokens, id)

	m.tmu.Lock() // one lock for every key's tokens: loads are rare, the rest is arithmetic
	defer m.tmu.Unlock()
	t := Tokens{TPM: p.TPM, BudgetUSD: budget}
	if budget > 0 {
		start := PeriodStart(p.Period(), now)
		if !b.loaded || !b.period.Equal(start) {
			b.period, b.spent, b.loaded = start, 0, true
			if m.spent != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				s, err := m.spent(ctx, id, start)
				cancel()
				if err != nil {
					b.loaded = false // try again on the next request
				}
				b.spent = s
			}
		}
		t.SpentUSD, t.PeriodEnd = b.spent+b.reserved, periodEnd(p.Period(), start)
		if b.spent+b.reserved >= budget {
			t.Refused = "budget"
			return t, nil
		}
	}
	var seq uint64
	if p.TPM > 0 {
		used := b.window(now)
		if used+tokens > p.TPM {
			t.Refused, t.Remaining = "tpm", p.TPM-used
			t.Reset = b.resetFor(now, used, tokens, p.TPM)
			t.RetryAfter = max(t.Reset, time.Second)
			return t, nil
		}
		seq = b.add(now, tokens)
		t.Remaining = p.TPM - used - tokens
		t.Reset = b.log[0].at.Add(time.Minute).Sub(now)
	}
	stamp := now
	b.reserved += usd
	t.SpentUSD = b.spent + b.reserved
	t.Allowed = true
	var once sync.Once
	return t, func(actual int, cost float64) {
		once.Do(func() {
			m.tmu.Lock()
			defer m.tmu.Unlock()
			b.reserved -= usd
			b.reserved = max(b.reserved, 0)
			if budget > 0 && b.period.Equal(PeriodStart(p.Period(), stamp)) {
				b.spent += max(cost, 0)
			}
			// The reservation becomes the real usage, unless it has
			// left the window already.
			if seq != 0 {
				b.settle(seq, max(actual, 0))
			}
		})
	}
}
