package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/pgstore"
	"github.com/tiergate/tiergate/internal/observe/metrics"
)

// openPostgres opens the key store the replicas share when state.postgres
// (TIERGATE_POSTGRES_URL) is set: the keys, their policies and the spend
// ledger in Postgres instead of SQLite, the migrations applied by
// whichever replica starts first. Its health is the gauge
// tiergate_state_up{store="postgres"} and the key_store part of /readyz.
// Nil, nil when none is configured.
func (a *App) openPostgres(ctx context.Context) (keys.Store, error) {
	s := a.cfg.State
	if s.Postgres == "" {
		return nil, nil
	}
	st, err := pgstore.Open(ctx, pgstore.Options{URL: s.Postgres, Timeout: s.PostgresTimeout, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("gateway keys: %w (state.postgres)", err)
	}
	if err := metrics.RegisterState(a.o.Registry, "postgres", st.Up); err != nil {
		st.Close()
		return nil, fmt.Errorf("state metrics: %w", err)
	}
	a.pg = st
	a.log.Info("gateway keys and spend ledger shared in postgres", "timeout", s.PostgresTimeout)
	return st, nil
}

// runPostgres runs the key store's heartbeat (the probe that closes its
// breaker) beside the server, and, without Redis, the follower that
// reloads the keys when another replica changes one (LISTEN/NOTIFY, and
// every keysReloadInterval whatever happens). With Redis, key changes
// are announced there (runState) and the ring reloads from Postgres.
func (a *App) runPostgres(ctx context.Context, bg *sync.WaitGroup) {
	if a.pg == nil {
		return
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		a.pg.Run(ctx)
	}()
	if a.state != nil {
		return
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		a.pg.Follow(ctx, keysReloadInterval, a.keys.Reload)
	}()
}

// KeyStoreHealth is the shared key store's health (false: none is
// configured, the keys are in SQLite).
func (a *App) KeyStoreHealth() (pgstore.Health, bool) {
	if a.pg == nil {
		return pgstore.Health{}, false
	}
	return a.pg.Health(), true
}

// keyStoreReady is the key_store part of /readyz: up or down, never the
// store's address (it may hold credentials; the log has the error whole).
// A down key store leaves the gateway ready: the keys in memory keep
// serving, and the spend ledger keeps what it cannot write.
func (a *App) keyStoreReady() pgstore.Health {
	h := a.pg.Health()
	if h.Error != "" {
		h.Error = "unreachable; the gateway's log has the error"
	}
	return h
}
