package redisstate

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// Acquire implements keys.Limiter: rpm is an exact sliding minute (a
// sorted set of the minute's admissions per key), max_concurrent a set of
// leases that this replica renews while its requests run (a crashed
// replica's come back after Options.Lease). The answer is the memory
// limiter's, for the same headers and Retry-After.
func (s *Store) Acquire(id string, p keys.Policy, now time.Time) (keys.Limit, func()) {
	if p.RPM <= 0 && p.MaxConcurrent <= 0 {
		return keys.Limit{Allowed: true}, func() {}
	}
	m := s.member()
	ks := []string{s.key(id, "rpm"), s.key(id, "inflight")}
	var res []any
	err := s.call(func(ctx context.Context) error {
		var err error
		res, err = acquire.Run(ctx, s.rdb, ks, micros(now), p.RPM, p.MaxConcurrent, m, s.o.Lease.Milliseconds()).Slice()
		return err
	})
	if err != nil {
		return s.downAcquire(id, p, now)
	}
	l := keys.Limit{RPM: p.RPM, Allowed: num(res[0]) == 1, Refused: str(res[1]), Remaining: int(num(res[2])), Reset: time.Duration(num(res[3])) * time.Microsecond}
	switch l.Refused {
	case "rpm":
		l.RetryAfter = l.Reset
	case "max_concurrent":
		l.RetryAfter = time.Second
	}
	if !l.Allowed {
		return l, nil
	}
	if p.MaxConcurrent <= 0 {
		return l, func() {}
	}
	ls := lease{ks[1], m}
	s.hold(ls)
	var once sync.Once
	return l, func() {
		once.Do(func() {
			s.drop(ls)
			// When this fails, the lease runs out on its own.
			_ = s.call(func(ctx context.Context) error { return release.Run(ctx, s.rdb, ks[1:], m).Err() })
		})
	}
}

// Reserve implements keys.Limiter: tpm is a sliding minute of
// reservations (a sorted set and their tokens), each replaced by the real
// usage when it settles; a budget is the period's spend (seeded from
// Options.Spent when Redis has no figure for the period) plus the
// reservations in flight (leases, as in Acquire). Same answers as the
// memory limiter's.
func (s *Store) Reserve(id string, p keys.Policy, tokens int, usd float64, now time.Time) (keys.Tokens, keys.Settle) {
	budget := 0.0
	if p.Budget != nil {
		budget = p.Budget.USD
	}
	if p.TPM <= 0 && budget <= 0 {
		return keys.Tokens{Allowed: true}, func(int, float64) {}
	}
	tokens, usd = max(tokens, 0), max(usd, 0)
	start := keys.PeriodStart(p.Period(), now)
	end := periodEnd(p.Period(), start)
	ks := []string{s.key(id, "tpm"), s.key(id, "tpm:tokens"), s.key(id, "spent:"+strconv.FormatInt(start.Unix(), 10)),
		s.key(id, "reserved"), s.key(id, "reserved:usd")}
	m := s.member()
	ttl := int64(end.Sub(now)/time.Second) + 86400
	run := func(seed string, store bool) ([]any, error) {
		var res []any
		err := s.call(func(ctx context.Context) error {
			var err error
			res, err = reserve.Run(ctx, s.rdb, ks, micros(now), p.TPM, tokens, budget, usd, m, s.o.Lease.Milliseconds(), seed, flag(store), ttl).Slice()
			return err
		})
		return res, err
	}
	res, err := run("", false)
	if err == nil && num(res[0]) == -1 {
		// No figure for the period in Redis: the ledger's (the memory
		// limiter's 5s bound), stored unless the ledger failed.
		spent := 0.0
		var serr error
		if s.o.Spent != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			spent, serr = s.o.Spent(ctx, id, start)
			cancel()
		}
		res, err = run(strconv.FormatFloat(spent, 'f', -1, 64), serr == nil)
	}
	if err != nil {
		return s.downReserve(id, p, tokens, usd, now)
	}
	t := keys.Tokens{TPM: p.TPM, BudgetUSD: budget, Allowed: num(res[0]) == 1, Refused: str(res[1]), Remaining: int(num(res[2])),
		Reset: time.Duration(num(res[3])) * time.Microsecond}
	t.SpentUSD, _ = strconv.ParseFloat(str(res[4]), 64)
	if budget > 0 {
		t.PeriodEnd = end
	}
	if t.Refused == "tpm" {
		t.RetryAfter = max(t.Reset, time.Second)
	}
	if !t.Allowed {
		return t, nil
	}
	ls := lease{ks[3], m}
	if budget > 0 {
		s.hold(ls)
	}
	var once sync.Once
	return t, func(actual int, cost float64) {
		once.Do(func() {
			if budget > 0 {
				s.drop(ls)
			}
			// When this fails, the reservation runs out on its own (its
			// tokens count until they leave the window: never fewer).
			_ = s.call(func(ctx context.Context) error {
				return settle.Run(ctx, s.rdb, ks, m, max(actual, 0), strconv.FormatFloat(max(cost, 0), 'f', -1, 64), flag(p.TPM > 0), flag(budget > 0)).Err()
			})
		})
	}
}

// downAcquire and downReserve answer while the store is unreachable:
// closed, a refusal that says so; open, the local share.
func (s *Store) downAcquire(id string, p keys.Policy, now time.Time) (keys.Limit, func()) {
	if s.o.OnFailure == FailClosed {
		return keys.Limit{RPM: p.RPM, Refused: RefusedUnavailable, RetryAfter: s.br.RetryAfter(time.Now())}, nil
	}
	return s.fallback().Acquire(id, s.localPolicy(p), now)
}

func (s *Store) downReserve(id string, p keys.Policy, tokens int, usd float64, now time.Time) (keys.Tokens, keys.Settle) {
	if s.o.OnFailure == FailClosed {
		t := keys.Tokens{TPM: p.TPM, Refused: RefusedUnavailable, RetryAfter: s.br.RetryAfter(time.Now())}
		return t, nil
	}
	return s.fallback().Reserve(id, s.localPolicy(p), tokens, usd, now)
}

// fallback is the current outage's local limiter: a memory limiter over
// this replica's share, made fresh for each outage. Its budget starts
// from this replica's share of the ledger's spend, so that the replicas
// together stay within what is left.
func (s *Store) fallback() keys.Limiter {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.local == nil {
		n := float64(s.share())
		var spent keys.SpendSource
		if s.o.Spent != nil {
			spent = func(ctx context.Context, id string, since time.Time) (float64, error) {
				v, err := s.o.Spent(ctx, id, since)
				return v / n, err
			}
		}
		s.local = keys.NewMemoryLimiter(spent)
	}
	return s.local
}

// localPolicy is this replica's share of p's limits: each divided by the
// replicas, at least 1 (the budget: its share, in USD).
func (s *Store) localPolicy(p keys.Policy) keys.Policy {
	n := s.share()
	part := func(v int) int {
		if v <= 0 {
			return v
		}
		return max(v/n, 1)
	}
	p.RPM, p.TPM, p.MaxConcurrent = part(p.RPM), part(p.TPM), part(p.MaxConcurrent)
	if p.Budget != nil {
		b := *p.Budget
		b.USD /= float64(n)
		p.Budget = &b
	}
	return p
}

func periodEnd(period string, start time.Time) time.Time {
	if period == keys.Day {
		return start.AddDate(0, 0, 1)
	}
	return start.AddDate(0, 1, 0)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func num(v any) int64 {
	n, _ := v.(int64)
	return n
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

var _ keys.Limiter = (*Store)(nil)
