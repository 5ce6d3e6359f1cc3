package keys_test

import (
	"testing"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/limitertest"
)

// TestMemoryLimiter: the memory limiter passes the Limiter suite (the
// same cases the shared, Redis-backed limiter passes).
func TestMemoryLimiter(t *testing.T) {
	limitertest.Run(t, func(_ *testing.T, spent keys.SpendSource) keys.Limiter { return keys.NewMemoryLimiter(spent) })
}
