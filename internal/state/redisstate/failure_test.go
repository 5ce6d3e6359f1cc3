package redisstate_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/redistest"
)

// waitFor polls cond every 10ms for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// run runs st's heartbeat until the test ends.
func run(t *testing.T, st *redisstate.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestLeases: a replica that runs keeps its in-flight slots past the
// lease (it renews them); a crashed one's come back after the lease.
func TestLeases(t *testing.T) {
	srv := redistest.Start(t)
	p := keys.Policy{MaxConcurrent: 2}
	live := newStore(t, srv, redisstate.Options{Lease: time.Second, Interval: 100 * time.Millisecond})
	run(t, live)
	for range 2 {
		if l, _ := live.Acquire("k", p, time.Now()); !l.Allowed {
			t.Fatalf("refused: %+v", l)
		}
	}
	time.Sleep(2500 * time.Millisecond) // 2.5 leases: renewed meanwhile
	if l, _ := live.Acquire("k", p, time.Now()); l.Allowed || l.Refused != "max_concurrent" {
		t.Fatalf("a running replica's slots were lost: %+v", l)
	}

	crashed := newStore(t, srv, redisstate.Options{Lease: 300 * time.Millisecond}) // never runs: never renews
	for range 2 {
		if l, _ := crashed.Acquire("k", p, time.Now()); !l.Allowed {
			t.Fatalf("refused: %+v", l)
		}
	}
	if l, _ := crashed.Acquire("k", p, time.Now()); l.Allowed {
		t.Fatalf("a third in flight: %+v", l)
	}
	waitFor(t, "a crashed replica's slots come back", func() bool {
		l, release := crashed.Acquire("k", p, time.Now())
		if l.Allowed {
			release()
		}
		return l.Allowed
	})
}

// TestDown: with Redis killed, open, each replica admits its share of
// the limits (rpm and budget, the budget's from the ledger's spend) and
// Health says the store is down; closed, limited keys are refused with
// RefusedUnavailable and a Retry-After, unlimited ones pass; once Redis
// is back, the heartbeat closes the breaker and the limits are shared.
func TestDown(t *testing.T) {
	srv := redistest.Start(t)
	spent := func(context.Context, string, time.Time) (float64, error) { return 0.4, nil }
	open := newStore(t, srv, redisstate.Options{Prefix: "down:", Replicas: 2, Spent: spent, Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond})
	closed := newStore(t, srv, redisstate.Options{Prefix: "down:", Replicas: 2, OnFailure: redisstate.FailClosed, Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond})
	run(t, open)
	run(t, closed)
	srv.Kill()
	now := time.Now()
	rpm := keys.Policy{RPM: 10}
	admitted := 0
	for range 20 {
		if l, _ := open.Acquire("k", rpm, now); l.Allowed {
			admitted++
		}
	}
	if admitted != 5 {
		t.Errorf("open, Redis down: %d of 20 admitted, want 5 (10 rpm over 2 replicas)", admitted)
	}
	budget := keys.Policy{Budget: &keys.Budget{USD: 1, Period: keys.Month}}
	usd := 0.0
	for range 20 {
		tk, settle := open.Reserve("b", budget, 0, 0.1, now)
		if !tk.Allowed {
			if tk.Refused != "budget" {
				t.Errorf("refusal %+v", tk)
			}
			break
		}
		usd += 0.1
		settle(0, 0.1)
	}
	// 0.6 is left of 1; this replica's share is 0.3.
	if math.Abs(usd-0.3) > 1e-9 {
		t.Errorf("open, Redis down: $%v of the budget spent through one of 2 replicas, want $0.3 (half of what is left)", usd)
	}
	if h := open.Health(); h.Up || h.Store != "redis" || h.OnFailure != "open" || h.Replicas != 2 || h.Error == "" {
		t.Errorf("health while down: %+v", h)
	}
	for range 5 {
		l, _ := closed.Acquire("k", rpm, now)
		if l.Allowed || l.Refused != redisstate.RefusedUnavailable || l.RetryAfter < time.Second {
			t.Fatalf("closed, Redis down: %+v", l)
		}
		if tk, _ := closed.Reserve("k", budget, 0, 0.1, now); tk.Allowed || tk.Refused != redisstate.RefusedUnavailable {
			t.Fatalf("closed, Redis down: %+v", tk)
		}
	}
	if l, _ := closed.Acquire("k", keys.Policy{}, now); !l.Allowed {
		t.Errorf("closed: a key without limits refused: %+v", l)
	}

	srv.Restart()
	waitFor(t, "the stores back up", func() bool { return open.Up() && closed.Up() })
	admitted = 0
	for range 20 {
		if l, _ := open.Acquire("k", rpm, now); l.Allowed {
			admitted++
		}
		if l, _ := closed.Acquire("k", rpm, now); l.Allowed {
			admitted++
		}
	}
	if admitted != 10 {
		t.Errorf("Redis back: %d admitted through both, want the shared 10", admitted)
	}
}
