package keys_test

import (
	"context"
	"testing"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/storetest"
)

// TestSQLiteStoreSuite: the SQLite store passes the store suite (the
// same cases the Postgres store passes).
func TestSQLiteStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Open {
		dir := t.TempDir()
		return func(ctx context.Context) (keys.Store, error) { return keys.OpenSQLite(ctx, dir) }
	})
}
