package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// DBFile is the database's name under the data directory.
const DBFile = "tiergate.db"

// SQLite is the Store in a SQLite file.
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens (creating it and dir if needed) the database in dir
// and applies the migrations it has not seen yet. The journal is WAL and
// synchronous=FULL, so a write that returned survives a crash or a power
// cut.
func OpenSQLite(ctx context.Context, dir string) (*SQLite, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// migrate applies the migrations (Migrations(SQLite3)) it has not seen
// yet, each in a transaction that records its version in
// schema_migrations.
func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, SchemaMigrationsDDL); err != nil {
		return err
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	ms, err := Migrations(SQLite3)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version <= have {
			continue
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, Stamp(time.Now())); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Stamp is a key's time as the stores keep it (RFC 3339, UTC).
func Stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func stampPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return Stamp(*t)
}

func parseStamp(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	return &t, err
}

// DecodeKey makes a Key of a stored row (the stores' one decoding): the
// hash's bytes, the policy's JSON, the times as Stamp wrote them (nil:
// NULL).
func DecodeKey(id, name string, hash []byte, policy, created string, expires, revoked *string) (Key, error) {
	k := Key{ID: id, Name: name, Source: SourceStore}
	if len(hash) != len(k.Hash) {
		return k, fmt.Errorf("key %s: stored hash has %d bytes", k.ID, len(hash))
	}
	copy(k.Hash[:], hash)
	var err error
	if k.Policy, err = ParsePolicy([]byte(policy)); err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	if k.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return k, err
	}
	if k.ExpiresAt, err = parseStamp(expires); err != nil {
		return k, err
	}
	if k.RevokedAt, err = parseStamp(revoked); err != nil {
		return k, err
	}
	return k, nil
}

// Create implements Store.
func (s *SQLite) Create(ctx context.Context, k Key) error {
	pol, err := json.Marshal(k.Policy)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO keys (id, name, hash, policy, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Hash[:], string(pol), Stamp(k.CreatedAt), stampPtr(k.ExpiresAt), stampPtr(k.RevokedAt))
	return err
}

// Columns are a key row's columns, in DecodeKey's order.
const Columns = `id, name, hash, policy, created_at, expires_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var id, name, pol, created string
	var hash []byte
	var expires, revoked *string
	if err := row.Scan(&id, &name, &hash, &pol, &created, &expires, &revoked); err != nil {
		return Key{}, err
	}
	return DecodeKey(id, name, hash, pol, created, expires, revoked)
}

// List implements Store.
func (s *SQLite) List(ctx context.Context) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+Columns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+Columns+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrNotFound
	}
	return k, err
}

// SetPolicy implements Store.
func (s *SQLite) SetPolicy(ctx context.Context, id string, p Policy) error {
	pol, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.one(s.db.ExecContext(ctx, `UPDATE keys SET policy = ? WHERE id = ?`, string(pol), id))
}

// Revoke implements Store.
func (s *SQLite) Revoke(ctx context.Context, id string, t time.Time) error {
	return s.one(s.db.ExecContext(ctx, `UPDATE keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, Stamp(t), id))
}

func (s *SQLite) one(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// AppendLedger implements Store: one transaction, committed with
// synchronous=FULL; an entry whose ID is already in the ledger is
// skipped.
func (s *SQLite) AppendLedger(ctx context.Context, entries []Entry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO ledger (key_id, key_name, model, provider, tokens_in, tokens_out, cost_usd, status, at, entry_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, e := range entries {
		if _, err := ins.ExecContext(ctx, e.KeyID, e.KeyName, e.Model, e.Provider, e.TokensIn, e.TokensOut, e.CostUSD, e.Status, LedgerStamp(e.At), nullable(e.ID)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// LedgerStamp is a ledger row's time as stored: fixed-width UTC, so that
// the ledger's times compare as strings (in any collation: the digits
// and the punctuation stand at the same places in every one).
func LedgerStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// nullable is s, or NULL when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Usage implements Store.
func (s *SQLite) Usage(ctx context.Context, id string, since time.Time) (Usage, error) {
	u := Usage{Since: since}
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0) FROM ledger WHERE key_id = ? AND at >= ?`,
		id, LedgerStamp(since)).Scan(&u.Requests, &u.TokensIn, &u.TokensOut, &u.SpendUSD)
	return u, err
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }
