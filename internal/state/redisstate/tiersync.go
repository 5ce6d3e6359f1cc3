package redisstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiergate/tiergate/internal/tiers"
)

// tiersKey holds the published tiers file; the channel of the same name
// announces a new one.
func (s *Store) tiersKey() string { return s.o.Prefix + "tiers" }

// publishTimeout bounds publishing tiers: a one-off call from bench, not
// the request path, so it may wait longer than Options.Timeout.
const publishTimeout = 10 * time.Second

// Check reaches Redis once, so that bench finds a wrong -publish before
// it measures rather than after.
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	return nil
}

// PublishTiers merges f into the tiers published before (tiers.Merge:
// models not measured now keep their entries), stores the result as the
// tiers every replica routes on and announces it (bench -publish). Two
// benches publishing at once: the last one's merge wins. It returns the
// file published.
func (s *Store) PublishTiers(ctx context.Context, f *tiers.File) (*tiers.File, error) {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	var old *tiers.File
	switch b, err := s.rdb.Get(ctx, s.tiersKey()).Bytes(); {
	case err == nil:
		old = &tiers.File{}
		if json.Unmarshal(b, old) != nil {
			old = nil // a broken entry is replaced
		}
	case !errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("reading the published tiers from redis: %w", err)
	}
	merged := tiers.Merge(old, f)
	b, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.tiersKey(), b, 0)
		p.Publish(ctx, s.tiersKey(), s.id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("publishing the tiers to redis: %w", err)
	}
	return merged, nil
}

// FollowTiers calls apply with the published tiers file at start, each
// time one is announced, and every interval (the safety net for a
// message missed while the store was down); a file equal to the last one
// applied is not applied again. A published file that does not
// decode is logged and skipped, keeping the tiers in use. It returns
// when ctx is done.
func (s *Store) FollowTiers(ctx context.Context, interval time.Duration, apply func(*tiers.File)) {
	ps := s.rdb.Subscribe(ctx, s.tiersKey())
	defer ps.Close()
	msgs := ps.Channel(goredisHealthCheck(s.o.Interval))
	full := time.NewTicker(interval)
	defer full.Stop()
	var last []byte
	fetch := func() {
		var b []byte
		err := s.call(func(ctx context.Context) error {
			var err error
			b, err = s.rdb.Get(ctx, s.tiersKey()).Bytes()
			return err
		})
		switch {
		case errors.Is(err, redis.Nil):
			return // nothing published yet
		case err != nil:
			if ctx.Err() == nil {
				s.log.Debug("reading the published tiers", "err", err)
			}
			return
		case bytes.Equal(b, last):
			return
		}
		var f tiers.File
		if err := json.Unmarshal(b, &f); err != nil {
			s.log.Warn("the tiers published in redis do not decode; keeping the tiers in use", "err", err)
			last = b
			return
		}
		last = b
		apply(&f)
	}
	fetch()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-msgs:
			if !ok {
				return
			}
			fetch()
		case <-full.C:
			fetch()
		}
	}
}
