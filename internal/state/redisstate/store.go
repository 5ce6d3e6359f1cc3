// Package redisstate holds the state several tiergate replicas share in
// Redis: the gateway keys' limits (a keys.Limiter whose rpm,
// max_concurrent, tpm and budget hold across every replica, each
// admission one atomic Lua script), the replicas' heartbeats (how many
// share a limit), the channel on which a key's creation, change or
// revocation reaches every replica at once, and what the routers share
// (share.go): breakers and cool-downs, kept until they expire, and
// snapshots of the live estimates. Around the store: a short
// timeout on every call, a breaker that stops calling it after a few
// failures, and what the limits do meanwhile (fail open to each
// replica's share of every limit, or closed); Health says which.
//
// The keys themselves stay in the key store (internal/keys); this package
// keeps only counters. It imports keys and go-redis; it must not import
// the gateway, the router or app (app wires it).
package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/storebreaker"
)

// What the limits do while the store is unreachable (Options.OnFailure).
const (
	// FailOpen: each replica enforces its share of every limit
	// (limit / replicas, at least 1) on its own, until the store is back.
	FailOpen = "open"
	// FailClosed: a limited key's requests are refused (429 with
	// Retry-After) until the store is back.
	FailClosed = "closed"
)

// RefusedUnavailable is the Refused of a Limit or Tokens when the store is
// down and the limits fail closed.
const RefusedUnavailable = keys.RefusedUnavailable

// Options configure a Store. Only URL is required.
type Options struct {
	// URL is the Redis URL (redis://host:port/db, rediss:// for TLS).
	URL string
	// Timeout bounds every call (default 50ms).
	Timeout time.Duration
	// OnFailure is FailOpen (default) or FailClosed.
	OnFailure string
	// Replicas is how many replicas share the limits (0: counted from
	// their heartbeats in the store).
	Replicas int
	// Prefix starts every Redis key and channel (default "tiergate:").
	Prefix string
	// Spent reads a key's spend since a time from the ledger: the
	// budget's starting figure when Redis has none for the period.
	Spent keys.SpendSource
	// Failures is how many calls in a row fail before the breaker opens
	// (default 3); Cooldown how long it stays open before one call tries
	// again (default 2s).
	Failures int
	Cooldown time.Duration
	// Interval is how often the heartbeat runs (default 1s): the
	// replica's beat, the leases' renewal and, while the breaker is
	// open, the probe that closes it.
	Interval time.Duration
	// Lease is how long an in-flight slot or a budget reservation holds
	// without its replica renewing it (default 30s): a crashed replica's
	// slots come back after it.
	Lease time.Duration
	// Logger reports the store going down and coming back (nil:
	// slog.Default).
	Logger *slog.Logger
}

// Store is the shared state on one Redis. It is a keys.Limiter.
type Store struct {
	o   Options
	rdb *redis.Client
	id  string // this replica's, in heartbeats and messages
	log *slog.Logger
	seq atomic.Uint64

	br *storebreaker.Breaker

	// replicas is the count the last heartbeat saw (at least 1).
	replicas atomic.Int64

	// local is the fail-open limiter of the current outage (nil: none).
	lmu   sync.Mutex
	local keys.Limiter

	// leases are this replica's live leases (renewed by the heartbeat):
	// lease zset key -> members.
	mu     sync.Mutex
	leases map[lease]struct{}

	lastErr atomic.Pointer[string]

	sh sharer // breakers and estimates shared with the other replicas (share.go)
}

type lease struct{ key, member string }

// New makes a Store for o.URL (no connection yet: the first call or Run
// makes it).
func New(o Options) (*Store, error) {
	ro, err := redis.ParseURL(o.URL)
	if err != nil {
		// Not err itself: it may quote the URL, password included.
		return nil, errors.New("state.redis (TIERGATE_REDIS_URL) is not a valid redis://[user:password@]host:port/db or rediss:// URL")
	}
	if o.OnFailure == "" {
		o.OnFailure = FailOpen
	}
	if o.OnFailure != FailOpen && o.OnFailure != FailClosed {
		return nil, fmt.Errorf("state.on_failure %q is not one of open, closed", o.OnFailure)
	}
	o.Timeout = cmpOr(o.Timeout, 50*time.Millisecond)
	o.Cooldown = cmpOr(o.Cooldown, 2*time.Second)
	o.Interval = cmpOr(o.Interval, time.Second)
	o.Lease = cmpOr(o.Lease, 30*time.Second)
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.Prefix == "" {
		o.Prefix = "tiergate:"
	}
	// The request path never waits longer than Timeout, and never retries.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = o.Timeout, o.Timeout, o.Timeout, o.Timeout
	ro.MaxRetries, ro.DialerRetries = -1, 1
	ro.ContextTimeoutEnabled = true
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	s := &Store{o: o, rdb: redis.NewClient(ro), id: hex.EncodeToString(b), log: o.Logger, leases: map[lease]struct{}{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.br = storebreaker.New(o.Failures, o.Cooldown)
	s.sh.queue = make(chan outEvent, shareQueue)
	s.replicas.Store(1)
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Health is the store's state for /readyz and the metrics.
type Health struct {
	// Up is false while the breaker is open (the store failed Failures
	// calls in a row and the heartbeat has not reached it since).
	Up bool `json:"up"`
	// Store is "redis".
	Store string `json:"store"`
	// OnFailure is what the limits do while it is down.
	OnFailure string `json:"on_failure"`
	// Replicas is how many replicas share the limits.
	Replicas int `json:"replicas"`
	// Error is the last failure while down (never the URL).
	Error string `json:"error,omitempty"`
}

// Health says whether the store answers, now.
func (s *Store) Health() Health {
	h := Health{Up: s.Up(), Store: "redis", OnFailure: s.o.OnFailure, Replicas: s.share()}
	if !h.Up {
		if e := s.lastErr.Load(); e != nil {
			h.Error = *e
		}
	}
	return h
}

// Up says whether the store is in use (the breaker is closed).
func (s *Store) Up() bool { return s.br.Closed() }

// share is the number of replicas a limit is divided among while the
// store is down.
func (s *Store) share() int {
	if s.o.Replicas > 0 {
		return s.o.Replicas
	}
	return int(max(s.replicas.Load(), 1))
}

// call runs f with the call timeout if the breaker lets it, recording
// the outcome; errDown when the breaker is open.
func (s *Store) call(f func(ctx context.Context) error) error {
	if !s.br.Allow(time.Now()) {
		return errDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	err := f(ctx)
	s.record(err)
	return err
}

var errDown = errors.New("the shared state store is down")

// record feeds the breaker with a call's outcome (redis.Nil is an answer).
func (s *Store) record(err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		msg := err.Error()
		s.lastErr.Store(&msg)
		if s.br.Fail(time.Now()) {
			s.log.Warn("shared state store unreachable: limits fall back", "store", "redis", "on_failure", s.o.OnFailure, "replicas", s.share(), "err", msg)
		}
		return
	}
	if s.br.Succeed() {
		s.lmu.Lock()
		s.local = nil // the next outage starts a fresh local share
		s.lmu.Unlock()
		s.log.Info("shared state store reachable again: limits are shared", "store", "redis")
	}
}

// Run beats until ctx is done: every Interval it marks this replica
// alive, counts the live ones, renews this replica's leases, and (while
// the breaker is open) is the probe that closes it again.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		s.beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Store) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.o.Timeout, s.o.Interval/2))
	defer cancel()
	n, err := heartbeat.Run(ctx, s.rdb, []string{s.o.Prefix + "replicas"}, s.id, (3 * s.o.Interval).Milliseconds()).Int64()
	if err == nil {
		s.replicas.Store(max(n, 1))
		err = s.renew(ctx)
	}
	s.record(err)
}

// renew extends this replica's leases.
func (s *Store) renew(ctx context.Context) error {
	s.mu.Lock()
	ks := make([]string, 0, len(s.leases))
	args := make([]any, 0, len(s.leases)+1)
	args = append(args, s.o.Lease.Milliseconds())
	for l := range s.leases {
		ks, args = append(ks, l.key), append(args, l.member)
	}
	s.mu.Unlock()
	if len(ks) == 0 {
		return nil
	}
	return renew.Run(ctx, s.rdb, ks, args...).Err()
}

func (s *Store) hold(l lease) {
	s.mu.Lock()
	s.leases[l] = struct{}{}
	s.mu.Unlock()
}

func (s *Store) drop(l lease) {
	s.mu.Lock()
	delete(s.leases, l)
	s.mu.Unlock()
}

// member is a unique name for one admission.
func (s *Store) member() string {
	return s.id + ":" + fmt.Sprint(s.seq.Add(1))
}

// key is the Redis key of part of key id's state. The braces keep one
// key's state in one Redis Cluster slot, so a script may touch it all.
func (s *Store) key(id, part string) string { return s.o.Prefix + "{" + id + "}:" + part }
