package redisstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/redistest"
)

// BenchmarkLimiter is the cost of sharing a key's limits: one request's
// Acquire (rpm and max_concurrent), Reserve (tpm and budget), settle and
// release, in memory and against a real Redis on loopback (two round
// trips a request more than memory: Acquire and Reserve, plus the
// release and settle). The clock moves 2s a request so that the rpm
// window stays full but never refuses.
func BenchmarkLimiter(b *testing.B) {
	p := keys.Policy{RPM: 60, MaxConcurrent: 4, TPM: 1_000_000, Budget: &keys.Budget{USD: 1e9, Period: keys.Month}}
	srv := redistest.Start(b)
	for _, c := range []struct {
		name string
		l    func(b *testing.B) keys.Limiter
	}{
		{"memory", func(*testing.B) keys.Limiter { return keys.NewMemoryLimiter(nil) }},
		{"redis", func(b *testing.B) keys.Limiter { return newStore(b, srv, redisstate.Options{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := c.l(b)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(2 * time.Second)
				lim, release := l.Acquire("k", p, now)
				if !lim.Allowed {
					b.Fatalf("refused: %+v", lim)
				}
				tk, settle := l.Reserve("k", p, 1000, 0.01, now)
				if !tk.Allowed {
					b.Fatalf("refused: %+v", tk)
				}
				settle(500, 0.005)
				release()
			}
		})
	}
	// The floor: one PING round trip on the same connection pool kind.
	b.Run("redis-ping", func(b *testing.B) {
		opt, err := redis.ParseURL(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		c := redis.NewClient(opt)
		defer c.Close()
		for b.Loop() {
			if err := c.Ping(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
