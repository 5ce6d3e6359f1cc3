package keys

import (
	"context"
	"errors"
	"time"
)

// Store keeps the keys made by the admin API and the CLI. SQLite is the
// default (OpenSQLite); a Postgres store for several replicas implements
// the same interface.
type Store interface {
	// Create adds a key (its ID and Hash set by the caller).
	Create(ctx context.Context, k Key) error
	// List returns every key, revoked ones included, oldest first.
	List(ctx context.Context) ([]Key, error)
	// Get returns one key; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (Key, error)
	// SetPolicy replaces a key's policy; ErrNotFound when there is none.
	SetPolicy(ctx context.Context, id string, p Policy) error
	// Revoke marks a key revoked at t (a second revoke keeps the first
	// time); ErrNotFound when there is none.
	Revoke(ctx context.Context, id string, t time.Time) error
	// AppendLedger adds settled requests to the spend ledger, all or
	// none, durably before it returns.
	AppendLedger(ctx context.Context, entries []Entry) error
	// Usage sums key id's ledger entries at or after since.
	Usage(ctx context.Context, id string, since time.Time) (Usage, error)
	Close() error
}

// ErrNotFound is a store's answer for an unknown key id.
var ErrNotFound = errors.New("no such key")
