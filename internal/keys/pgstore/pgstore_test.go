package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/pgstore"
	"github.com/tiergate/tiergate/internal/keys/storetest"
	"github.com/tiergate/tiergate/internal/testing/pgtest"
)

// TestSuite: the Postgres store passes the store suite (the same cases
// the SQLite store passes), each case on a database of its own.
func TestSuite(t *testing.T) {
	pg := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) storetest.Open {
		url := pg.NewDatabase(t)
		return func(ctx context.Context) (keys.Store, error) { return pgstore.Open(ctx, pgstore.Options{URL: url}) }
	})
}

// TestMigrationsOnce: three replicas opening one empty database at once
// all start, and each migration is applied once (a second CREATE TABLE
// of the same table would fail the replica that ran it).
func TestMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*pgstore.Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(ctx, pgstore.Options{URL: url}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	ms, _ := keys.Migrations(keys.Postgres)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for rows.Next() {
		var v, c int
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		if c != 1 {
			t.Errorf("migration %d recorded %d times", v, c)
		}
		got = append(got, v)
	}
	if rows.Err() != nil || len(got) != len(ms) || got[len(got)-1] != ms[len(ms)-1].Version {
		t.Errorf("schema_migrations has %v (%v), want versions 1..%d", got, rows.Err(), len(ms))
	}
	// Every replica sees the one schema.
	for i, st := range stores {
		if err := st.AppendLedger(ctx, []keys.Entry{{ID: "e" + string(rune('a'+i)), KeyID: "k", KeyName: "k", Model: "m", Provider: "p", Status: keys.StatusOK, At: time.Now()}}); err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

// TestBadURL: a URL that does not parse is refused without being quoted
// (it may hold a password).
func TestBadURL(t *testing.T) {
	_, err := pgstore.Open(context.Background(), pgstore.Options{URL: "postgres://u:s3cret@[::1"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open: %v", err)
	}
}

// TestRestart: while Postgres is stopped the calls fail (at once, once
// the breaker opens) and Health says down without waiting; once it is
// back the heartbeat closes the breaker, the pool reconnects on its own,
// and the follower listens again and reloads.
func TestRestart(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the server's own cleanup
	ctx := context.Background()
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	o := pgstore.Options{URL: url, Timeout: 500 * time.Millisecond, Interval: 50 * time.Millisecond, Cooldown: 50 * time.Millisecond}
	a, err := pgstore.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pgstore.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	var reloads atomic.Int64
	var seen atomic.Int64
	bg.Go(func() { a.Run(rctx) })
	bg.Go(func() { b.Run(rctx) })
	bg.Go(func() {
		b.Follow(rctx, time.Hour, func(ctx context.Context) error {
			reloads.Add(1)
			ks, err := b.List(ctx)
			if err == nil {
				seen.Store(int64(len(ks)))
			}
			return err
		})
	})
	create := func(name string) error {
		return a.Create(ctx, keys.Key{ID: "key_" + name, Name: name, Hash: keys.HashSecret(name), CreatedAt: time.Now()})
	}
	// The follower is listening once a change made through a reaches b.
	made := 0
	waitFor(t, "b hears of a's key", func() bool {
		if create(fmt.Sprint("x", made)) == nil {
			made++
		}
		return seen.Load() >= 1
	})

	pg.Stop()
	waitFor(t, "a's breaker opens", func() bool {
		a.List(ctx)
		return !a.Up()
	})
	t0 := time.Now()
	if _, err := a.List(ctx); !errors.Is(err, pgstore.ErrDown) && err == nil {
		t.Errorf("List while down: %v", err)
	}
	if d := time.Since(t0); d > 2*o.Timeout {
		t.Errorf("a call while down took %v (timeout %v)", d, o.Timeout)
	}
	if h := a.Health(); h.Up || h.Store != "postgres" || h.Error == "" {
		t.Errorf("health while down: %+v", h)
	}

	pg.Start()
	waitFor(t, "a's breaker closes", a.Up)
	if err := create("y"); err != nil {
		t.Fatalf("a key made after the restart: %v", err)
	}
	waitFor(t, "b, listening again, sees the key made after the restart", func() bool { return seen.Load() == int64(made+1) })
	if h := a.Health(); !h.Up || h.Error != "" {
		t.Errorf("health after the restart: %+v", h)
	}
}

// waitFor polls cond every 20ms for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
	}
}
