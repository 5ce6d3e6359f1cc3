package redisstate

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// What replicas share beside the limits: breakers and cool-downs, as
// events, and live estimates, as snapshots. The payloads are the
// caller's (app's JSON of the router's types); this file only carries
// them, each prefixed with this replica's id so that a replica skips its
// own.
//
//   - An event is kept in the hash <prefix>breakers, one field per
//     breaker (the caller names it), until its expiry: the hash's TTL is
//     the latest expiry of its fields (PEXPIRE NX, then GT), so a replica
//     that starts later or comes back reads the set in force. It is
//     announced on the channel of the same name; a close removes the
//     field. Readers ignore a field whose expiry passed (the caller's
//     payload says when).
//   - A snapshot is announced on <prefix>estimates every interval; it is
//     not kept (the next one comes within the interval).
//
// Neither is on the request path: Share only queues (never blocking: an
// event that does not fit is dropped), RunSharing publishes, FollowShared
// applies on its own goroutine. A failure to publish is logged once, and
// again only after a publish succeeded. An event whose publish failed
// (the store down) is kept, the latest per field, and sent again every
// interval until it goes through, a newer one of its field does, or its
// expiry passes: the replicas that missed it during an outage learn the
// breakers still open once the store is back.

func (s *Store) breakersKey() string      { return s.o.Prefix + "breakers" }
func (s *Store) estimatesChannel() string { return s.o.Prefix + "estimates" }

// shareQueue is how many events wait to be published.
const shareQueue = 256

// outEvent is one queued event.
type outEvent struct {
	field   string
	until   time.Time // zero: a close, the field is removed
	payload []byte
}

// sharer is the Store's publishing side.
type sharer struct {
	queue chan outEvent
	// unsent is RunSharing's own: the events whose publish failed, the
	// latest per field, to send again.
	unsent  map[string]outEvent
	failing atomic.Bool // a publish failed and none succeeded since
	dropped atomic.Bool // an event was dropped and none published since
}

// Share queues an event for the other replicas: payload is kept under
// field until until (zero: field is removed, a close) and announced.
// It never blocks; with the queue full the event is dropped (logged
// once).
func (s *Store) Share(field string, until time.Time, payload []byte) {
	select {
	case s.sh.queue <- outEvent{field: field, until: until, payload: payload}:
	default:
		if !s.sh.dropped.Swap(true) {
			s.log.Warn("breaker events are not reaching the shared store fast enough: some are not shared", "store", "redis")
		}
	}
}

// RunSharing publishes what Share queued and, every interval, the
// snapshot snapshot returns (nil: nothing to share), until ctx is done.
func (s *Store) RunSharing(ctx context.Context, interval time.Duration, snapshot func() []byte) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.sh.queue:
			s.sendEvent(ev)
			s.sh.dropped.Store(false)
		case <-t.C:
			s.resend()
			if b := snapshot(); b != nil {
				s.published("the live estimates", s.call(func(ctx context.Context) error {
					return s.rdb.Publish(ctx, s.estimatesChannel(), s.stamp(b)).Err()
				}))
			}
		}
	}
}

// sendEvent publishes ev, keeping it in unsent if that fails (and
// dropping the one it replaces either way).
func (s *Store) sendEvent(ev outEvent) {
	err := s.call(func(ctx context.Context) error { return s.publishEvent(ctx, ev) })
	s.published("a breaker event", err)
	if err == nil {
		delete(s.sh.unsent, ev.field)
		return
	}
	if s.sh.unsent == nil {
		s.sh.unsent = map[string]outEvent{}
	}
	s.sh.unsent[ev.field] = ev
}

// resend sends the unsent events again, dropping those expired (a close
// does not expire).
func (s *Store) resend() {
	now := time.Now()
	for field, ev := range s.sh.unsent {
		if !ev.until.IsZero() && !ev.until.After(now) {
			delete(s.sh.unsent, field)
			continue
		}
		s.sendEvent(ev)
		if _, still := s.sh.unsent[field]; still {
			return // the store is still down: the rest next interval
		}
	}
}

// stamp prefixes payload with this replica's id.
func (s *Store) stamp(payload []byte) string { return s.id + " " + string(payload) }

func (s *Store) publishEvent(ctx context.Context, ev outEvent) error {
	msg := s.stamp(ev.payload)
	key := s.breakersKey()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if ev.until.IsZero() {
			p.HDel(ctx, key, ev.field)
		} else {
			ms := max(time.Until(ev.until).Milliseconds(), 1)
			p.HSet(ctx, key, ev.field, msg)
			p.Do(ctx, "pexpire", key, ms, "NX") // a new hash: its first expiry
			p.Do(ctx, "pexpire", key, ms, "GT") // else only ever later
		}
		p.Publish(ctx, key, msg)
		return nil
	})
	return err
}

// published logs the first failure of a spell, and the success after it.
func (s *Store) published(what string, err error) {
	switch {
	case err != nil && !s.sh.failing.Swap(true):
		s.log.Warn("sharing with the other replicas failed; routing goes on on this replica's own breakers and estimates (logged once until it works again)",
			"store", "redis", "what", what, "err", err)
	case err == nil && s.sh.failing.Swap(false):
		s.log.Info("sharing with the other replicas again", "store", "redis")
	}
}

// FollowShared calls onBreaker with each event another replica shares:
// those kept in the store at start, when the store comes back and every
// reload (the safety net for one missed meanwhile), and each announced;
// and onEstimates with each other replica's snapshot. It returns when
// ctx is done. Both run on this goroutine.
func (s *Store) FollowShared(ctx context.Context, reload time.Duration, onBreaker func([]byte), onEstimates func(from string, payload []byte)) {
	ps := s.rdb.Subscribe(ctx, s.breakersKey(), s.estimatesChannel())
	defer ps.Close()
	msgs := ps.Channel(goredisHealthCheck(s.o.Interval))
	full := time.NewTicker(reload)
	defer full.Stop()
	check := time.NewTicker(s.o.Interval)
	defer check.Stop()
	load := func() {
		var kept map[string]string
		err := s.call(func(ctx context.Context) error {
			var err error
			kept, err = s.rdb.HGetAll(ctx, s.breakersKey()).Result()
			return err
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() == nil {
				s.log.Debug("reading the shared breakers", "err", err)
			}
			return
		}
		for _, v := range kept {
			if from, payload, ok := strings.Cut(v, " "); ok && from != s.id {
				onBreaker([]byte(payload))
			}
		}
	}
	load()
	up := s.Up()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			from, payload, ok := strings.Cut(m.Payload, " ")
			if !ok || from == s.id {
				continue
			}
			if m.Channel == s.estimatesChannel() {
				onEstimates(from, []byte(payload))
			} else {
				onBreaker([]byte(payload))
			}
		case <-full.C:
			load()
		case <-check.C:
			if now := s.Up(); now != up {
				up = now
				if up {
					load()
				}
			}
		}
	}
}
