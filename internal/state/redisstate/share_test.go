package redisstate_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/redistest"
)

// inbox is what a follower received, safe to read while it runs.
type inbox struct {
	mu        sync.Mutex
	breakers  []string
	estimates []string
}

func (in *inbox) got() ([]string, []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.breakers...), append([]string(nil), in.estimates...)
}

// start runs f until the test ends.
func start(t *testing.T, f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func follow(t *testing.T, st *redisstate.Store) *inbox {
	in := &inbox{}
	start(t, func(ctx context.Context) {
		st.FollowShared(ctx, time.Hour, func(b []byte) {
			in.mu.Lock()
			in.breakers = append(in.breakers, string(b))
			in.mu.Unlock()
		}, func(from string, b []byte) {
			in.mu.Lock()
			in.estimates = append(in.estimates, from+" "+string(b))
			in.mu.Unlock()
		})
	})
	return in
}

// TestShare: an event is kept until its expiry (the hash's TTL is the
// latest expiry, never shortened), so a replica that starts later reads
// it; one announced reaches a follower at once; a close removes it; a
// snapshot reaches the others; no replica receives its own.
func TestShare(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "share:"
	a := newStore(t, srv, redisstate.Options{Prefix: prefix})
	b := newStore(t, srv, redisstate.Options{Prefix: prefix})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	start(t, func(ctx context.Context) {
		a.RunSharing(ctx, 50*time.Millisecond, func() []byte { return []byte(`[{"model":"m"}]`) })
	})
	mine := follow(t, a)

	a.Share("provider:x", time.Now().Add(5*time.Second), []byte(`{"open":"x"}`))
	waitFor(t, "the event is kept", func() bool { return rdb.HExists(ctx, prefix+"breakers", "provider:x").Val() })
	if ttl := rdb.PTTL(ctx, prefix+"breakers").Val(); ttl <= 4*time.Second || ttl > 5*time.Second {
		t.Errorf("the kept events' TTL is %v, want the expiry, 5s away", ttl)
	}
	a.Share("model:y:cooldown", time.Now().Add(time.Second), []byte(`{"cool":"y"}`))
	waitFor(t, "the second event is kept", func() bool { return rdb.HExists(ctx, prefix+"breakers", "model:y:cooldown").Val() })
	if ttl := rdb.PTTL(ctx, prefix+"breakers").Val(); ttl <= 4*time.Second {
		t.Errorf("an earlier expiry shortened the TTL to %v", ttl)
	}

	// A replica that starts now reads both, then hears the close.
	late := follow(t, b)
	waitFor(t, "the late replica reads the events kept", func() bool {
		got, _ := late.got()
		return len(got) == 2
	})
	a.Share("provider:x", time.Time{}, []byte(`{"closed":"x"}`))
	waitFor(t, "the close reaches the late replica and removes the event", func() bool {
		got, _ := late.got()
		return len(got) == 3 && got[2] == `{"closed":"x"}` && !rdb.HExists(ctx, prefix+"breakers", "provider:x").Val()
	})
	waitFor(t, "a snapshot reaches the other replica", func() bool {
		_, es := late.got()
		return len(es) > 0 && strings.HasSuffix(es[0], ` [{"model":"m"}]`)
	})
	if bs, es := mine.got(); len(bs) != 0 || len(es) != 0 {
		t.Errorf("a replica received its own events %q and snapshots %q", bs, es)
	}
}

// TestShareResent: events shared while Redis is down are sent again once
// it is back — the latest per breaker, and only those not yet expired —
// so a replica that missed them reads and hears the breakers still open.
func TestShareResent(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "resend:"
	a := newStore(t, srv, redisstate.Options{Prefix: prefix, Timeout: 200 * time.Millisecond})
	b := newStore(t, srv, redisstate.Options{Prefix: prefix})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	start(t, func(ctx context.Context) {
		a.RunSharing(ctx, 50*time.Millisecond, func() []byte { return nil })
	})

	srv.Kill()
	a.Share("provider:x", time.Now().Add(time.Minute), []byte(`{"open":"x"}`))
	a.Share("model:y", time.Now().Add(time.Minute), []byte(`{"open":"y"}`))
	a.Share("model:y", time.Time{}, []byte(`{"closed":"y"}`)) // replaces y's open
	a.Share("model:z", time.Now().Add(300*time.Millisecond), []byte(`{"cool":"z"}`))
	time.Sleep(500 * time.Millisecond) // z expires while Redis is down
	srv.Restart()
	other := follow(t, b)

	waitFor(t, "the breaker still open is kept again", func() bool { return rdb.HExists(ctx, prefix+"breakers", "provider:x").Val() })
	waitFor(t, "the other replica hears it", func() bool {
		got, _ := other.got()
		return slices.Contains(got, `{"open":"x"}`)
	})
	time.Sleep(200 * time.Millisecond) // four intervals: whatever else was left is sent
	got, _ := other.got()
	for _, g := range got {
		if g == `{"open":"y"}` || g == `{"cool":"z"}` {
			t.Errorf("re-sent %s: replaced or expired", g)
		}
	}
	if rdb.HExists(ctx, prefix+"breakers", "model:y").Val() || rdb.HExists(ctx, prefix+"breakers", "model:z").Val() {
		t.Errorf("kept %v, want provider:x alone", rdb.HKeys(ctx, prefix+"breakers").Val())
	}
}
