package redisstate

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// channel is where key changes are announced.
func (s *Store) channel() string { return s.o.Prefix + "keys" }

// Publish announces that key id was created, changed or revoked through
// this replica (keys.RingOptions.OnChange), so that the others reload
// their rings now. It waits at most the call timeout; when the store is
// down the others see the change at their next periodic reload.
func (s *Store) Publish(id string) {
	err := s.call(func(ctx context.Context) error {
		return s.rdb.Publish(ctx, s.channel(), s.id+" "+id).Err()
	})
	if err != nil {
		s.log.Warn("key change not announced to the other replicas: they see it at their next reload", "key_id", id, "err", err)
	}
}

// Follow calls reload whenever another replica announces a key change,
// every interval whatever happens (the safety net: a message missed while
// the store was down), and when the store comes back, until ctx is done.
// A failed reload is logged; the ring keeps the keys it has.
func (s *Store) Follow(ctx context.Context, interval time.Duration, reload func(context.Context) error) {
	ps := s.rdb.Subscribe(ctx, s.channel())
	defer ps.Close()
	// go-redis resubscribes on its own after a lost connection.
	msgs := ps.Channel(goredisHealthCheck(s.o.Interval))
	full := time.NewTicker(interval)
	defer full.Stop()
	check := time.NewTicker(s.o.Interval)
	defer check.Stop()
	up := s.Up()
	do := func(why string) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := reload(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reloading the keys failed; keeping the keys in use", "why", why, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if from, _, _ := strings.Cut(m.Payload, " "); from != s.id {
				do("announced")
			}
		case <-full.C:
			do("periodic")
		case <-check.C:
			if now := s.Up(); now != up {
				up = now
				if up {
					do("store back")
				}
			}
		}
	}
}

// goredisHealthCheck pings the subscription every d, so that a dead
// connection is noticed and replaced.
func goredisHealthCheck(d time.Duration) redis.ChannelOption {
	return redis.WithChannelHealthCheckInterval(d)
}
