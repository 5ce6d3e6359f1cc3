// Package pgstore is the gateway keys' Store (internal/keys) on
// PostgreSQL, for replicas that share their keys, policies and spend
// ledger: the same schema as the SQLite store, from the same migrations
// (keys.Migrations rendered for Postgres), applied once by whichever
// replica starts first (under an advisory lock, recorded in
// schema_migrations).
//
// Around the database: a short timeout on every call, a breaker that
// stops calling it after a few failures in a row (calls then fail at
// once, and a heartbeat tries again each second), and the pool's own
// reconnection. A key's creation, change or revocation is announced with
// NOTIFY in its own transaction; Follow LISTENs and reloads the ring, so
// the request path never reads Postgres: the ring is in memory.
//
// The driver is github.com/jackc/pgx/v5 (pgxpool): the maintained Go
// driver for Postgres (lib/pq is in maintenance mode), whose pool drops a
// broken connection and dials a new one on the next call, so the store
// reconnects on its own after a Postgres restart; it speaks LISTEN/NOTIFY
// on a plain connection, and sends a ledger batch's inserts in one round
// trip (pgx.Batch).
//
// It imports keys and pgx; keys must not import it (app wires it), and it
// must not import the gateway, the router or app.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/state/storebreaker"
)

// Channel is where key changes are announced (NOTIFY, the key id as the
// payload).
const Channel = "tiergate_keys"

// migrationLock is the advisory lock the replicas take around the
// migrations: one applies them, the others wait and find them applied.
const migrationLock int64 = 0x7469657267617465 // "tiergate"

// Options configure a Store. Only URL is required.
type Options struct {
	// URL is postgres://[user:password@]host:port/db[?sslmode=...].
	URL string
	// Timeout bounds every call, connecting included (default 2s). The
	// request path does not wait on it: the keys are in memory and the
	// ledger is written by its own goroutine.
	Timeout time.Duration
	// MigrateTimeout bounds the migrations at Open, waiting for another
	// replica's included (default 60s).
	MigrateTimeout time.Duration
	// Failures is how many calls in a row fail before the breaker opens
	// (default 3); Cooldown how long it stays open before one call tries
	// again (default 1s); Interval how often the heartbeat runs (default
	// 1s).
	Failures int
	Cooldown time.Duration
	Interval time.Duration
	// Logger reports the store going down and coming back (nil:
	// slog.Default).
	Logger *slog.Logger
}

// Store is a keys.Store on Postgres.
type Store struct {
	o    Options
	pool *pgxpool.Pool
	log  *slog.Logger
	br   *storebreaker.Breaker

	lastErr atomic.Pointer[string]
}

var _ keys.Store = (*Store)(nil)

// ErrDown is a call's error while the breaker is open.
var ErrDown = errors.New("the key store (postgres) is down")

// Open connects to o.URL and applies the migrations the database does
// not have yet. It fails when Postgres cannot be reached.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// Not err itself: it may quote the URL, password included.
		return nil, errors.New("state.postgres (TIERGATE_POSTGRES_URL) is not a valid postgres://[user:password@]host:port/db URL")
	}
	o.Timeout = cmpOr(o.Timeout, 2*time.Second)
	o.MigrateTimeout = cmpOr(o.MigrateTimeout, 60*time.Second)
	o.Cooldown = cmpOr(o.Cooldown, time.Second)
	o.Interval = cmpOr(o.Interval, time.Second)
	if o.Failures <= 0 {
		o.Failures = 3
	}
	cfg.ConnConfig.ConnectTimeout = o.Timeout
	cfg.ConnConfig.RuntimeParams["application_name"] = "tiergate"
	// A commit returns once it is on disk: an acknowledged ledger row
	// survives a Postgres crash (the server's default, said here in case
	// the database's is off).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{o: o, pool: pool, log: o.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.br = storebreaker.New(o.Failures, o.Cooldown)
	mctx, cancel := context.WithTimeout(ctx, o.MigrateTimeout)
	defer cancel()
	if err := s.migrate(mctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// migrate applies keys.Migrations(keys.Postgres) above the highest
// version in schema_migrations, each in a transaction that records it,
// holding the advisory lock: replicas starting together apply each one
// once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := keys.Migrations(keys.Postgres)
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("waiting for the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
			conn.Conn().Close(uctx) // closing the session releases the lock
		}
	}()
	if _, err := conn.Exec(ctx, keys.SchemaMigrationsDDL); err != nil {
		return err
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.Version, keys.Stamp(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		s.log.Info("key store: migration applied", "store", "postgres", "migration", m.Name)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// call runs f with the call timeout if the breaker lets it, recording the
// outcome; ErrDown when the breaker is open.
func (s *Store) call(ctx context.Context, f func(ctx context.Context) error) error {
	if !s.br.Allow(time.Now()) {
		return ErrDown
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	err := f(cctx)
	if ctx.Err() != nil { // the caller giving up says nothing of the store
		s.br.Abandon()
		return err
	}
	s.record(err)
	return err
}

// record feeds the breaker with a call's outcome: an answer from the
// server (no row, a constraint) is a success; no answer, or the server
// shutting down or out of resources, a failure.
func (s *Store) record(err error) {
	if err != nil && !answered(err) {
		msg := err.Error()
		s.lastErr.Store(&msg)
		if s.br.Fail(time.Now()) {
			s.log.Warn("key store unreachable: the keys in memory keep serving, the spend ledger queues", "store", "postgres", "err", msg)
		}
		return
	}
	if s.br.Succeed() {
		s.log.Info("key store reachable again", "store", "postgres")
	}
}

func answered(err error) bool {
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, keys.ErrNotFound) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "08", "53", "57", "58": // connection, resources, operator intervention, system
		return false
	}
	return true
}

// Health is the store's state for /readyz.
type Health struct {
	// Up is false while the breaker is open.
	Up bool `json:"up"`
	// Store is "postgres".
	Store string `json:"store"`
	// Error is the last failure while down (the caller decides whether
	// to show it: it may name the host).
	Error string `json:"error,omitempty"`
}

// Health says whether the store answers, now.
func (s *Store) Health() Health {
	h := Health{Up: s.Up(), Store: "postgres"}
	if !h.Up {
		if e := s.lastErr.Load(); e != nil {
			h.Error = *e
		}
	}
	return h
}

// Up says whether the store is in use (the breaker is closed).
func (s *Store) Up() bool { return s.br.Closed() }

// Run beats until ctx is done: every Interval one query, which (while the
// breaker is open) is the probe that closes it again.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		_ = s.call(ctx, func(ctx context.Context) error {
			_, err := s.pool.Exec(ctx, `SELECT 1`)
			return err
		})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Create implements keys.Store, announcing the key on Channel.
func (s *Store) Create(ctx context.Context, k keys.Key) error {
	pol, err := json.Marshal(k.Policy)
	if err != nil {
		return err
	}
	return s.change(ctx, k.ID, func(ctx context.Context, tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, `INSERT INTO keys (`+keys.Columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.Name, k.Hash[:], string(pol), keys.Stamp(k.CreatedAt), stampPtr(k.ExpiresAt), stampPtr(k.RevokedAt))
	})
}

func stampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := keys.Stamp(*t)
	return &s
}

// change runs f and announces key id in one transaction; ErrNotFound
// when f changed no row.
func (s *Store) change(ctx context.Context, id string, f func(context.Context, pgx.Tx) (pgconn.CommandTag, error)) error {
	return s.call(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := f(ctx, tx)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return keys.ErrNotFound
			}
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, id)
			return err
		})
	})
}

// List implements keys.Store.
func (s *Store) List(ctx context.Context) ([]keys.Key, error) {
	var out []keys.Key
	err := s.call(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+keys.Columns+` FROM keys ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

func scanKey(row pgx.Row) (keys.Key, error) {
	var id, name, pol, created string
	var hash []byte
	var expires, revoked *string
	if err := row.Scan(&id, &name, &hash, &pol, &created, &expires, &revoked); err != nil {
		return keys.Key{}, err
	}
	return keys.DecodeKey(id, name, hash, pol, created, expires, revoked)
}

// Get implements keys.Store.
func (s *Store) Get(ctx context.Context, id string) (keys.Key, error) {
	var k keys.Key
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		k, err = scanKey(s.pool.QueryRow(ctx, `SELECT `+keys.Columns+` FROM keys WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return k, keys.ErrNotFound
	}
	return k, err
}

// SetPolicy implements keys.Store.
func (s *Store) SetPolicy(ctx context.Context, id string, p keys.Policy) error {
	pol, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.change(ctx, id, func(ctx context.Context, tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, `UPDATE keys SET policy = $1 WHERE id = $2`, string(pol), id)
	})
}

// Revoke implements keys.Store.
func (s *Store) Revoke(ctx context.Context, id string, t time.Time) error {
	return s.change(ctx, id, func(ctx context.Context, tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, `UPDATE keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, keys.Stamp(t), id)
	})
}

// AppendLedger implements keys.Store: one transaction, its inserts sent
// in one round trip, committed with synchronous_commit on; an entry whose
// ID the ledger has is skipped (a retry of a commit whose answer was
// lost).
func (s *Store) AppendLedger(ctx context.Context, entries []keys.Entry) error {
	return s.call(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, e := range entries {
				var id *string
				if e.ID != "" {
					id = &e.ID
				}
				b.Queue(`INSERT INTO ledger (key_id, key_name, model, provider, tokens_in, tokens_out, cost_usd, status, at, entry_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (entry_id) DO NOTHING`,
					e.KeyID, e.KeyName, e.Model, e.Provider, e.TokensIn, e.TokensOut, e.CostUSD, e.Status, keys.LedgerStamp(e.At), id)
			}
			return tx.SendBatch(ctx, b).Close()
		})
	})
}

// Usage implements keys.Store.
func (s *Store) Usage(ctx context.Context, id string, since time.Time) (keys.Usage, error) {
	u := keys.Usage{Since: since}
	err := s.call(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0) FROM ledger WHERE key_id = $1 AND at >= $2`,
			id, keys.LedgerStamp(since)).Scan(&u.Requests, &u.TokensIn, &u.TokensOut, &u.SpendUSD)
	})
	return u, err
}

// Follow calls reload whenever a key is created, changed or revoked
// (through any replica: NOTIFY on Channel), every interval whatever
// happens, and each time its listening connection is made (changes made
// while it was not listening, at the start too), until ctx is done. A
// failed reload is logged; the ring keeps the keys it has.
func (s *Store) Follow(ctx context.Context, interval time.Duration, reload func(context.Context) error) {
	do := func(why string) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := reload(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reloading the keys failed; keeping the keys in use", "store", "postgres", "why", why, "err", err)
		}
	}
	failing := false
	for ctx.Err() == nil {
		// Reloading once listening, the first time too, catches a change
		// made between the ring's first load and the LISTEN.
		err := s.listen(ctx, interval, func(why string) {
			if why == "listening" {
				failing = false
			}
			do(why)
		})
		if ctx.Err() != nil {
			return
		}
		if !failing {
			s.log.Warn("key store: the key-change listener lost its connection; listening again (meanwhile other replicas' changes wait)", "store", "postgres", "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.Interval):
		}
	}
}

// listen holds one connection LISTENing on Channel until it fails or
// ctx is done, calling on("listening") once it listens, on("announced")
// for each notification and on("periodic") every interval.
func (s *Store) listen(ctx context.Context, interval time.Duration, on func(why string)) error {
	cctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	conn, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig.Copy())
	if err == nil {
		_, err = conn.Exec(cctx, `LISTEN `+Channel)
	}
	cancel()
	if err != nil {
		if conn != nil {
			conn.Close(context.Background())
		}
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
		defer cancel()
		conn.Close(c)
	}()
	on("listening")
	next := time.Now().Add(interval)
	for {
		wctx, cancel := context.WithDeadline(ctx, next)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			on("announced")
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || time.Now().After(next):
			on("periodic")
			next = time.Now().Add(interval)
			if conn.IsClosed() { // pgx closes a connection whose wait was cut
				return err
			}
		default:
			return err
		}
	}
}
