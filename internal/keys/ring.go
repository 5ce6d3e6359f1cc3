package keys

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Auth modes (config auth.mode).
const (
	// ModeAuto (""): keys are required once any key exists; with none,
	// the gateway is open, which internal/app allows on loopback only.
	ModeAuto = ""
	// ModeKeys requires a key even while none exists (all 401).
	ModeKeys = "keys"
	// ModeNone turns authentication off, on any address.
	ModeNone = "none"
)

// Modes lists the valid auth.mode values.
var Modes = []string{ModeKeys, ModeNone}

// RingOptions configure a Ring.
type RingOptions struct {
	// Mode is ModeAuto, ModeKeys or ModeNone.
	Mode string
	// Store holds the keys made at run time (nil: none yet; Open makes
	// it on the first write).
	Store Store
	// Open opens the store on the first write when Store is nil, so
	// that a gateway that never makes a key writes no database.
	Open func(context.Context) (Store, error)
	// Static keys come from the config file; they cannot be revoked or
	// changed at run time.
	Static []Key
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Limiter enforces the policies' rpm, max_concurrent, tpm and budget
	// (nil: a NewMemoryLimiter reading spend from the store's ledger).
	Limiter Limiter
	// Logger reports the spend ledger's write failures (nil: slog.Default).
	Logger *slog.Logger
	// Profiles are the routing profiles a policy may name (nil: any
	// name is taken); Create and SetPolicy refuse others.
	Profiles []string
	// LedgerQueue bounds the settled entries the spend ledger keeps
	// while its store cannot take them (0: DefaultLedgerQueue); past it
	// the newest are dropped (see Record).
	LedgerQueue int
	// OnChange, when set, is called with a key's id after this Ring
	// created, changed or revoked it (to tell other replicas, which then
	// Reload). It runs under the Ring's lock: it must not call the Ring.
	OnChange func(id string)
}

// Ring is the set of keys a request is checked against: an in-memory
// index by hash, rebuilt from the store after every change, so the hot
// path costs a SHA-256 and a map lookup and a revocation holds from the
// next request on.
type Ring struct {
	mode    string
	now     func() time.Time
	open    func(context.Context) (Store, error)
	limiter Limiter
	log     *slog.Logger
	// profiles are the routing profiles a policy may name (nil: any).
	profiles []string
	onChange func(id string)

	// The spend ledger's queue and writer (ledger.go).
	ledger     chan Entry
	ledgerQuit chan struct{}
	ledgerOnce sync.Once
	ledgerDone chan struct{}
	quitOnce   sync.Once
	ledgerMax  int
	// ledgerID and ledgerSeq make the entries' IDs: this ring's random
	// prefix and a count.
	ledgerID  string
	ledgerSeq atomic.Uint64

	mu     sync.Mutex // serialises writes and reloads
	store  Store
	static []Key
	idx    atomic.Pointer[index]
}

type index struct {
	byHash map[Hash]*Key
	names  map[string]bool
	keys   []Key // static, then the store's, oldest first
}

// NewRing loads the store's keys beside the static ones.
func NewRing(ctx context.Context, o RingOptions) (*Ring, error) {
	if o.Mode != ModeAuto && o.Mode != ModeKeys && o.Mode != ModeNone {
		return nil, fmt.Errorf("auth mode %q is not one of %s", o.Mode, strings.Join(Modes, ", "))
	}
	r := &Ring{mode: o.Mode, profiles: o.Profiles, now: o.Now, open: o.Open, store: o.Store, static: o.Static, limiter: o.Limiter, log: o.Logger, onChange: o.OnChange,
		ledger: make(chan Entry, 4096), ledgerQuit: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.ledgerMax = o.LedgerQueue
	if r.ledgerMax <= 0 {
		r.ledgerMax = DefaultLedgerQueue
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	r.ledgerID = "e" + encode62(b, 17) + "-"
	if r.now == nil {
		r.now = time.Now
	}
	if r.limiter == nil {
		r.limiter = NewMemoryLimiter(r.spentSince)
	}
	for i := range r.static {
		r.static[i].Source = SourceConfig
	}
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload rebuilds the index from the store (another replica's changes,
// or a change made behind the Ring's back).
func (r *Ring) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(ctx)
}

func (r *Ring) reload(ctx context.Context) error {
	all := append([]Key(nil), r.static...)
	if r.store != nil {
		stored, err := r.store.List(ctx)
		if err != nil {
			return fmt.Errorf("reading the keys: %w", err)
		}
		all = append(all, stored...)
	}
	idx := &index{byHash: make(map[Hash]*Key, len(all)), names: make(map[string]bool, len(all)), keys: all}
	for i := range all {
		idx.names[all[i].Name] = true
		if _, dup := idx.byHash[all[i].Hash]; !dup {
			idx.byHash[all[i].Hash] = &all[i]
		}
	}
	r.idx.Store(idx)
	return nil
}

// Known says whether name is a key's (revoked and expired ones included):
// the bound on the metrics' key label.
func (r *Ring) Known(name string) bool { return r.idx.Load().names[name] }

// Mode is the configured auth mode.
func (r *Ring) Mode() string { return r.mode }

// Len is the number of keys, revoked and expired ones included.
func (r *Ring) Len() int { return len(r.idx.Load().keys) }

// Enforcing says whether requests need a key now: in ModeKeys always, in
// ModeAuto once any key exists (revoking every key does not open the
// gateway again), in ModeNone never.
func (r *Ring) Enforcing() bool {
	switch r.mode {
	case ModeKeys:
		return true
	case ModeNone:
		return false
	}
	return r.Len() > 0
}

// AuthError is why a secret was refused. Its message says what to do and
// never holds the secret.
type AuthError struct {
	// Reason is missing, malformed, unknown, expired or revoked.
	Reason string
	// Key is the refused key's id and name (expired, revoked).
	Key Identity
	msg string
}

func (e *AuthError) Error() string { return e.msg }

// Authenticate checks a secret (without its "Bearer " prefix).
func (r *Ring) Authenticate(secret string) (Identity, error) {
	if secret == "" {
		return Identity{}, &AuthError{Reason: "missing", msg: "You didn't provide an API key. Send a tiergate gateway key (tg-...) as Authorization: Bearer <key> or x-api-key: <key>; the operator makes one with `gateway keys create`."}
	}
	if ParseSecret(secret) != nil {
		return Identity{}, &AuthError{Reason: "malformed", msg: "Incorrect API key provided: tiergate expects a gateway key (tg- and 43 letters or digits), not a provider's key; ask the operator for one (`gateway keys create`)."}
	}
	h := HashSecret(secret)
	k, ok := r.idx.Load().byHash[h]
	// The lookup's timing depends on the hash, which tells nothing of
	// other secrets; the compare is constant-time all the same.
	if !ok || subtle.ConstantTimeCompare(k.Hash[:], h[:]) != 1 {
		return Identity{}, &AuthError{Reason: "unknown", msg: "Incorrect API key provided: this gateway key is not known to tiergate; check it, or ask the operator for a new one (`gateway keys create`)."}
	}
	id := Identity{ID: k.ID, Name: k.Name, Policy: k.Policy}
	if k.RevokedAt != nil {
		return Identity{}, &AuthError{Reason: "revoked", Key: id, msg: "This gateway key (" + k.ID + ", " + k.Name + ") was revoked; ask the operator for a new one."}
	}
	if k.ExpiresAt != nil && !r.now().Before(*k.ExpiresAt) {
		return Identity{}, &AuthError{Reason: "expired", Key: id, msg: "This gateway key (" + k.ID + ", " + k.Name + ") expired at " + k.ExpiresAt.UTC().Format(time.RFC3339) + "; ask the operator for a new one."}
	}
	return id, nil
}

// Acquire admits one request of an authenticated key under its policy's
// limits (see Limiter).
func (r *Ring) Acquire(id Identity) (Limit, func()) {
	return r.limiter.Acquire(id.ID, id.Policy, r.now())
}

// Reserve holds tokens and usd under an authenticated key's tpm and
// budget before a call (see Limiter).
func (r *Ring) Reserve(id Identity, tokens int, usd float64) (Tokens, Settle) {
	return r.limiter.Reserve(id.ID, id.Policy, tokens, usd, r.now())
}

// spentSince is a key's spend since a time, from the ledger (0 when no
// store exists yet).
func (r *Ring) spentSince(ctx context.Context, id string, since time.Time) (float64, error) {
	r.mu.Lock()
	st := r.store
	r.mu.Unlock()
	if st == nil {
		return 0, nil
	}
	u, err := st.Usage(ctx, id, since)
	return u.SpendUSD, err
}

// List returns every key: the config's, then the store's.
func (r *Ring) List() []Key { return append([]Key(nil), r.idx.Load().keys...) }

// Get returns one key by id.
func (r *Ring) Get(id string) (Key, error) {
	for _, k := range r.idx.Load().keys {
		if k.ID == id {
			return k, nil
		}
	}
	return Key{}, ErrNotFound
}

// ErrInvalid matches the errors of a bad name or policy given to Create
// or SetPolicy (a client's mistake, not the store's).
var ErrInvalid = errors.New("invalid key")

type invalid struct{ error }

func (invalid) Is(target error) bool { return target == ErrInvalid }

// ErrStatic is the answer to changing a key that comes from the config.
var ErrStatic = errors.New("this key comes from the config file (auth.keys); change or remove it there and restart")

// Create makes a key, stores it and returns it with its secret, which
// exists nowhere else: the caller shows it once.
func (r *Ring) Create(ctx context.Context, name string, p Policy, expires *time.Time) (Key, string, error) {
	if err := ValidName(name); err != nil {
		return Key{}, "", invalid{err}
	}
	if err := r.check(p); err != nil {
		return Key{}, "", invalid{err}
	}
	secret, err := NewSecret()
	if err != nil {
		return Key{}, "", err
	}
	id, err := NewID()
	if err != nil {
		return Key{}, "", err
	}
	k := Key{ID: id, Name: name, Hash: HashSecret(secret), Policy: p, CreatedAt: r.now().UTC().Truncate(time.Millisecond), ExpiresAt: expires, Source: SourceStore}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.storeLocked(ctx)
	if err != nil {
		return Key{}, "", err
	}
	if err := st.Create(ctx, k); err != nil {
		return Key{}, "", err
	}
	r.changed(id)
	return k, secret, r.reload(ctx)
}

// Revoke revokes a stored key, effective for the next request.
func (r *Ring) Revoke(ctx context.Context, id string) error {
	return r.change(ctx, id, func(st Store) error { return st.Revoke(ctx, id, r.now().UTC().Truncate(time.Millisecond)) })
}

// SetPolicy replaces a stored key's policy, effective for the next request.
func (r *Ring) SetPolicy(ctx context.Context, id string, p Policy) error {
	if err := r.check(p); err != nil {
		return invalid{err}
	}
	return r.change(ctx, id, func(st Store) error { return st.SetPolicy(ctx, id, p) })
}

// check validates p and the profiles it names.
func (r *Ring) check(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return p.CheckProfiles(r.profiles)
}

func (r *Ring) change(ctx context.Context, id string, f func(Store) error) error {
	if k, err := r.Get(id); err == nil && k.Source == SourceConfig {
		return ErrStatic
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store == nil {
		return ErrNotFound
	}
	if err := f(r.store); err != nil {
		return err
	}
	r.changed(id)
	return r.reload(ctx)
}

// changed calls the OnChange option (r.mu held).
func (r *Ring) changed(id string) {
	if r.onChange != nil {
		r.onChange(id)
	}
}

func (r *Ring) storeLocked(ctx context.Context) (Store, error) {
	if r.store == nil {
		if r.open == nil {
			return nil, errors.New("no key store is configured")
		}
		st, err := r.open(ctx)
		if err != nil {
			return nil, err
		}
		r.store = st
	}
	return r.store, nil
}

// Close writes what the spend ledger still holds and closes the store
// (call it once no request is in flight).
func (r *Ring) Close() error {
	r.ledgerOnce.Do(func() {}) // no writer starts from now on
	r.quitOnce.Do(func() { close(r.ledgerQuit) })
	if r.ledgerDone != nil {
		<-r.ledgerDone
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store == nil {
		return nil
	}
	err := r.store.Close()
	r.store = nil
	return err
}

// ValidName checks a key's name: 1 to 64 letters, digits, '.', '_' or '-'
// (it becomes a metric label and a table cell).
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a key needs a name of 1 to 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("key name %q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}
