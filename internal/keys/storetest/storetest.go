// Package storetest is the one test suite every keys.Store passes (the
// SQLite store in internal/keys, the Postgres one in
// internal/keys/pgstore): keys made, changed, revoked and read back after
// reopening, the spend ledger appended (once per entry id) and summed,
// and a Ring's ledger writer over the store.
//
// It is test support only (it imports testing); it imports keys and must
// not import a store's package.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// Open opens the database of one case: each call opens the same one
// (again, after the case closed it), a new Open for each case.
type Open func(ctx context.Context) (keys.Store, error)

// Run runs the suite; fresh makes a new, empty database for a case.
func Run(t *testing.T, fresh func(t *testing.T) Open) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, open Open)
	}{
		{"Keys", testKeys},
		{"List", testList},
		{"Ledger", testLedger},
		{"LedgerOncePerID", testLedgerOncePerID},
		{"Ring", testRing},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

func mustOpen(t *testing.T, open Open) keys.Store {
	t.Helper()
	st, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testKeys: a key made, its policy replaced and revoked (twice: the first
// time holds) is as it was left after the store is reopened (the
// migrations run again and change nothing); unknown ids are ErrNotFound.
func testKeys(t *testing.T, open Open) {
	ctx := context.Background()
	st := mustOpen(t, open)
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k := keys.Key{ID: "key_a", Name: "legal", Hash: keys.HashSecret("x"), Policy: keys.Policy{Profile: "private", RPM: 60, Budget: &keys.Budget{USD: 50, Period: keys.Month}},
		CreatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), ExpiresAt: &exp}
	if err := st.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, k); err == nil {
		t.Error("a duplicate id was stored")
	}
	if err := st.SetPolicy(ctx, "key_a", keys.Policy{RPM: 5}); err != nil {
		t.Fatal(err)
	}
	rev := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if err := st.Revoke(ctx, "key_a", rev); err != nil {
		t.Fatal(err)
	}
	if err := st.Revoke(ctx, "key_a", rev.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{st.Revoke(ctx, "nope", rev), st.SetPolicy(ctx, "nope", keys.Policy{})} {
		if !errors.Is(err, keys.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	}
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
	st.Close()

	st = mustOpen(t, open)
	defer st.Close()
	got, err := st.Get(ctx, "key_a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "legal" || got.Hash != k.Hash || got.Policy.RPM != 5 || got.Policy.Budget != nil || !got.CreatedAt.Equal(k.CreatedAt) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt == nil || !got.RevokedAt.Equal(rev) || got.Source != keys.SourceStore {
		t.Errorf("after reopening: %+v", got)
	}
}

// testList: every key, oldest first, with its hash and policy.
func testList(t *testing.T, open Open) {
	ctx := context.Background()
	st := mustOpen(t, open)
	defer st.Close()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"c", "a", "b"} {
		k := keys.Key{ID: "key_" + name, Name: name, Hash: keys.HashSecret(name), Policy: keys.Policy{RPM: i + 1}, CreatedAt: t0.Add(time.Duration(3-i) * time.Minute)}
		if err := st.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Create(ctx, keys.Key{ID: "key_d", Name: "d", Hash: keys.HashSecret("a"), CreatedAt: t0}); err == nil {
		t.Error("a second key with the same hash was stored")
	}
	got, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order string
	for _, k := range got {
		order += k.Name
		if k.Hash != keys.HashSecret(k.Name) {
			t.Errorf("key %s: hash %s", k.Name, k.Hash)
		}
	}
	if order != "bac" || got[0].Policy.RPM != 3 {
		t.Errorf("List: %q (%+v), want b, a, c (oldest first)", order, got)
	}
}

// testLedger: Usage sums a key's entries at or after since, no others.
func testLedger(t *testing.T, open Open) {
	ctx := context.Background()
	st := mustOpen(t, open)
	defer st.Close()
	day := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	var batch []keys.Entry
	for i := range 100 {
		batch = append(batch, keys.Entry{KeyID: "key_a", KeyName: "a", Model: "m", Provider: "p", TokensIn: 10, TokensOut: i, CostUSD: 0.25,
			Status: keys.StatusOK, At: day.Add(time.Duration(i-50) * time.Minute)})
	}
	batch = append(batch, keys.Entry{KeyID: "key_b", KeyName: "b", Model: "m", Provider: "p", TokensIn: 7, CostUSD: 1, Status: keys.StatusError, At: day})
	if err := st.AppendLedger(ctx, batch); err != nil {
		t.Fatal(err)
	}
	u, err := st.Usage(ctx, "key_a", day)
	if err != nil {
		t.Fatal(err)
	}
	wantOut := int64(0)
	for i := 50; i < 100; i++ {
		wantOut += int64(i)
	}
	if u.Requests != 50 || u.TokensIn != 500 || u.TokensOut != wantOut || u.SpendUSD != 12.5 || !u.Since.Equal(day) {
		t.Errorf("usage since %v: %+v, want 50 requests, 500 in, %d out, $12.5", day, u, wantOut)
	}
	if u, err := st.Usage(ctx, "key_c", day); err != nil || u.Requests != 0 || u.SpendUSD != 0 {
		t.Errorf("a key with no entries: %+v, %v", u, err)
	}
	// A fraction of a cent survives the round trip (a double, not a float).
	if err := st.AppendLedger(ctx, []keys.Entry{{KeyID: "key_d", KeyName: "d", Model: "m", Provider: "p", CostUSD: 0.000123456789, Status: keys.StatusOK, At: day}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.Usage(ctx, "key_d", day); u.SpendUSD != 0.000123456789 {
		t.Errorf("cost read back %v, want 0.000123456789", u.SpendUSD)
	}
}

// testLedgerOncePerID: an entry appended again with the same ID (a
// retried commit) is in the ledger once; entries without an ID are all
// kept.
func testLedgerOncePerID(t *testing.T, open Open) {
	ctx := context.Background()
	st := mustOpen(t, open)
	defer st.Close()
	at := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	e := func(id string) keys.Entry {
		return keys.Entry{ID: id, KeyID: "key_a", KeyName: "a", Model: "m", Provider: "p", CostUSD: 1, Status: keys.StatusOK, At: at}
	}
	for range 2 {
		if err := st.AppendLedger(ctx, []keys.Entry{e("x1"), e("x2"), e(""), e("")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AppendLedger(ctx, []keys.Entry{e("x2"), e("x3")}); err != nil {
		t.Fatal(err)
	}
	if u, err := st.Usage(ctx, "key_a", at); err != nil || u.Requests != 7 {
		t.Errorf("usage %+v, %v: want 7 rows (x1, x2, x3 once each, 4 without an id)", u, err)
	}
}

// testRing: entries recorded from several goroutines are all in the
// store once the Ring closes, and the keys it made are there for a new
// Ring.
func testRing(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	r, err := keys.NewRing(ctx, keys.RingOptions{Now: func() time.Time { return now }, Store: mustOpen(t, open)})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := r.Create(ctx, "legal", keys.Policy{Budget: &keys.Budget{USD: 100, Period: keys.Day}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const clients, each = 8, 100
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				r.Record(keys.Entry{KeyID: k.ID, KeyName: k.Name, Model: fmt.Sprint("m", c), Provider: "p", TokensIn: i, CostUSD: 0.01, Status: keys.StatusOK, At: now})
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = keys.NewRing(ctx, keys.RingOptions{Now: func() time.Time { return now }, Store: mustOpen(t, open)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if id, err := r.Authenticate(secret); err != nil || id.ID != k.ID {
		t.Errorf("the key made by the first ring: %+v, %v", id, err)
	}
	u, err := r.Usage(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Requests != clients*each || math.Abs(u.SpendUSD-0.01*clients*each) > 1e-9 || u.TokensIn != clients*each*(each-1)/2 {
		t.Errorf("usage %+v, want %d requests, $%v", u, clients*each, 0.01*clients*each)
	}
}
