package redisstate_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/limitertest"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newStore makes a Store on srv with a prefix of its own (a fresh state)
// unless o gives one.
func newStore(t testing.TB, srv *redistest.Server, o redisstate.Options) *redisstate.Store {
	t.Helper()
	o.URL = srv.URL
	if o.Prefix == "" {
		o.Prefix = "t" + strconv.FormatInt(prefixes.Add(1), 10) + ":"
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second // a loaded test machine is not what this tests
	}
	st, err := redisstate.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var prefixes atomic.Int64

// TestLimiterSemantics: the Redis limiter passes the memory limiter's
// suite, on a real server.
func TestLimiterSemantics(t *testing.T) {
	srv := redistest.Start(t)
	limitertest.Run(t, func(t *testing.T, spent keys.SpendSource) keys.Limiter {
		return newStore(t, srv, redisstate.Options{Spent: spent})
	})
}
