package app_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/pgtest"
	"github.com/tiergate/tiergate/internal/testing/redistest"
)

// pgReplicas starts n gateways, each its own app.New with its own data
// dir (no SQLite is shared), sharing the key store in Postgres and no
// Redis: key changes reach the others by LISTEN/NOTIFY.
func pgReplicas(t *testing.T, n int, emuURL, pgURL string) []replica {
	t.Helper()
	out := make([]replica, n)
	for i := range out {
		cfg := pricedModel(t, emuURL, "  data_dir: "+t.TempDir()+"\n")
		cfg.State.Postgres = pgURL
		reg := prometheus.NewRegistry()
		out[i] = replica{apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg}), reg}
	}
	return out
}

// told is what the clients were told of their acknowledged requests.
type told struct {
	mu       sync.Mutex
	requests int64
	in, out  int64
}

// send posts one keyed chat request without failing the test from a
// worker goroutine: ok is a 200 whose usage was read.
func (tl *told) send(c *http.Client, url, secret string) (status int, ok bool) {
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(sharedBody))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return resp.StatusCode, false
	}
	var body struct {
		Usage struct {
			Prompt     int64 `json:"prompt_tokens"`
			Completion int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &body) != nil || body.Usage.Prompt+body.Usage.Completion == 0 {
		return resp.StatusCode, false
	}
	tl.mu.Lock()
	tl.requests++
	tl.in += body.Usage.Prompt
	tl.out += body.Usage.Completion
	tl.mu.Unlock()
	return 200, true
}

// ledgerOf is key id's rows in the shared ledger, read straight from
// Postgres.
func ledgerOf(t *testing.T, url, id string) (rows, in, out int64, usd float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0) FROM ledger WHERE key_id = $1`, id).
		Scan(&rows, &in, &out, &usd); err != nil {
		t.Fatal(err)
	}
	return
}

// checkLedger waits for key id's ledger to hold every acknowledged
// request, then checks that it holds exactly those, with the tokens the
// clients were told and their cost at the catalog's price.
func checkLedger(t *testing.T, url, id string, tl *told) {
	t.Helper()
	var rows, in, out int64
	var usd float64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if rows, in, out, usd = ledgerOf(t, url, id); rows >= tl.requests || time.Now().After(deadline) {
			break
		}
	}
	want := float64(tl.in)*2.5/1e6 + float64(tl.out)*10/1e6
	if rows != tl.requests || in != tl.in || out != tl.out || math.Abs(usd-want) > 1e-9 {
		t.Errorf("the ledger holds %d rows, %d tokens in, %d out, $%v; the clients were told of %d requests, %d in, %d out, $%v",
			rows, in, out, usd, tl.requests, tl.in, tl.out, want)
	}
}

// TestPostgresReplicas: three replicas share Postgres. A key made through
// one replica's admin API works on the others; its revocation through
// another reaches them all; the spend every replica recorded lands in
// one ledger, and it is what the clients were told.
func TestPostgresReplicas(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	url := pgtest.Start(t).NewDatabase(t)
	rs := pgReplicas(t, 3, emu.URL, url)
	ctx := context.Background()
	made, err := (&admin.Client{BaseURL: rs[0].URL, AdminKey: "k"}).Create(ctx, admin.CreateRequest{Name: "shared", Policy: keys.Policy{RPM: 10000}})
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, made.Key)
	for i, r := range rs {
		if h, ok := r.KeyStoreHealth(); !ok || !h.Up || h.Store != "postgres" {
			t.Errorf("replica %d key store: %+v %v", i, h, ok)
		}
	}

	tl := &told{}
	var wg sync.WaitGroup
	var next, failed atomic.Int64
	const n = 90
	for range 6 {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				if _, ok := tl.send(c, rs[i%3].URL, made.Key); !ok {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || tl.requests != n {
		t.Fatalf("%d of %d requests failed", failed.Load(), n)
	}
	checkLedger(t, url, made.ID, tl)
	if shown, err := (&admin.Client{BaseURL: rs[2].URL, AdminKey: "k"}).Show(ctx, made.ID); err != nil || shown.Usage.Requests != n {
		t.Errorf("another replica's admin API shows %+v, %v; want %d requests", shown.Usage, err, n)
	}

	if _, err := (&admin.Client{BaseURL: rs[1].URL, AdminKey: "k"}).Revoke(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revocation reaches every replica", func() bool {
		for _, r := range rs {
			if _, err := r.Keys().Authenticate(made.Key); err == nil {
				return false
			}
		}
		return true
	})
	for _, r := range rs {
		if resp, _, _ := keyedChat(t, r.URL, made.Key, sharedBody); resp.StatusCode != 401 {
			t.Errorf("after the revocation through another replica: %d, want 401", resp.StatusCode)
		}
	}
}

// TestPostgresRestart: Postgres is restarted in the middle of traffic
// through three replicas. Every request is answered (the key is in
// memory), /readyz and tiergate_state_up{store="postgres"} say the store
// is down and then up again, and once it is back the ledger holds
// exactly the requests the clients had answers for: none lost, none
// twice.
func TestPostgresRestart(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	rs := pgReplicas(t, 3, emu.URL, url)
	k, secret, err := rs[0].Keys().Create(context.Background(), "busy", keys.Policy{RPM: 100000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, secret)

	tl := &told{}
	var failed, sent atomic.Int64
	var failures sync.Map // status -> count
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if sent.Add(1) > 20000 { // a bound, far above what the test needs
					return
				}
				if status, ok := tl.send(c, rs[i%3].URL, secret); !ok {
					failed.Add(1)
					v, _ := failures.LoadOrStore(status, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	acked := func() int64 {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		return tl.requests
	}
	waitFor(t, "traffic before the restart", func() bool { return acked() >= 100 })

	pg.Stop()
	down := acked()
	waitFor(t, "every replica sees the key store down", func() bool {
		for _, r := range rs {
			if h, _ := r.KeyStoreHealth(); h.Up {
				return false
			}
		}
		return true
	})
	for _, r := range rs {
		code, st := readyzPart(t, r.URL, "key_store")
		if code != 200 || st["up"] != false || st["store"] != "postgres" {
			t.Errorf("/readyz while Postgres is down: %d %v, want 200 (the keys in memory serve) and the store down", code, st)
		}
		if e, _ := st["error"].(string); e == "" || strings.Contains(e, "127.0.0.1") || strings.Contains(e, "postgres@") {
			t.Errorf("/readyz error while down: %q (it must say unreachable, never where)", e)
		}
		if v := storeUp(t, r.reg, "postgres"); v != 0 {
			t.Errorf("%s{store=postgres} while down: %v", metrics.NameStateUp, v)
		}
	}
	waitFor(t, "traffic answered while Postgres is down", func() bool { return acked() >= down+150 })
	during := acked() - down

	pg.Start()
	waitFor(t, "every replica sees the key store back", func() bool {
		for _, r := range rs {
			if h, _ := r.KeyStoreHealth(); !h.Up {
				return false
			}
		}
		return true
	})
	for _, r := range rs {
		if code, st := readyzPart(t, r.URL, "key_store"); code != 200 || st["up"] != true || st["error"] != nil {
			t.Errorf("/readyz once Postgres is back: %d %v", code, st)
		}
		if v := storeUp(t, r.reg, "postgres"); v != 1 {
			t.Errorf("%s{store=postgres} once back: %v", metrics.NameStateUp, v)
		}
	}
	back := acked()
	waitFor(t, "traffic after the restart", func() bool { return acked() >= back+100 })
	close(stop)
	wg.Wait()

	if failed.Load() != 0 {
		failures.Range(func(k, v any) bool {
			t.Errorf("%d requests answered %v (0: no answer)", v.(*atomic.Int64).Load(), k)
			return true
		})
	}
	checkLedger(t, url, k.ID, tl)
	rows, _, _, _ := ledgerOf(t, url, k.ID)
	t.Logf("acknowledged %d requests (%d while Postgres was down), %d failed; the ledger holds %d rows", tl.requests, during, failed.Load(), rows)
}

// TestPostgresWithRedis: with both stores the limits are in Redis and the
// keys in Postgres; a key made on one replica reaches the other through
// Redis's announcement, and /readyz reports both stores.
func TestPostgresWithRedis(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	url := pgtest.Start(t).NewDatabase(t)
	redisURL := redistest.Start(t).URL
	rs := make([]replica, 2)
	for i := range rs {
		cfg := pricedModel(t, emu.URL, "  data_dir: "+t.TempDir()+"\n")
		cfg.State.Postgres, cfg.State.Redis, cfg.State.Timeout = url, redisURL, time.Second
		reg := prometheus.NewRegistry()
		rs[i] = replica{apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg}), reg}
	}
	_, secret, err := rs[0].Keys().Create(context.Background(), "both", keys.Policy{RPM: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, secret)
	if got := spread(t, rs, secret, 8, 2); got[200] != 5 || got[429] != 3 {
		t.Errorf("a 5 rpm key over two replicas: %v, want 5 admitted in all", got)
	}
	for _, r := range rs {
		code, st := readyzPart(t, r.URL, "state")
		_, ks := readyzPart(t, r.URL, "key_store")
		if code != 200 || st["store"] != "redis" || st["up"] != true || ks["store"] != "postgres" || ks["up"] != true {
			t.Errorf("/readyz: %d, state %v, key_store %v", code, st, ks)
		}
		if storeUp(t, r.reg, "postgres") != 1 || storeUp(t, r.reg, "redis") != 1 {
			t.Errorf("%s: postgres %v, redis %v", metrics.NameStateUp, storeUp(t, r.reg, "postgres"), storeUp(t, r.reg, "redis"))
		}
	}
}
