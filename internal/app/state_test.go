package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/redistest"
	"github.com/tiergate/tiergate/internal/testing/webtest"
	"github.com/tiergate/tiergate/internal/tiers"
)

// replica is one of several gateways sharing a Redis and a data dir.
type replica struct {
	*apptest.Gateway
	reg *prometheus.Registry
}

// replicas starts n gateways, each its own app.New, sharing redis (the
// limits) and one data dir (the SQLite key store, in WAL mode, opened by
// every replica).
func replicas(t *testing.T, n int, emuURL, redisURL, onFailure string) []replica {
	t.Helper()
	dir := t.TempDir()
	out := make([]replica, n)
	for i := range out {
		cfg := pricedModel(t, emuURL, "  data_dir: "+dir+"\n")
		cfg.State.Redis, cfg.State.OnFailure = redisURL, onFailure
		// Not the 50ms default: on a loaded test machine a slow answer
		// would fall back to the local share, which is not what these
		// tests are about (a dead Redis refuses connections at once).
		cfg.State.Timeout = time.Second
		reg := prometheus.NewRegistry()
		out[i] = replica{apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg}), reg}
	}
	// Every replica counts the others by their heartbeats.
	waitFor(t, "every replica sees the others", func() bool {
		for _, r := range out {
			if h, _ := r.StateHealth(); !h.Up || h.Replicas != n {
				return false
			}
		}
		return true
	})
	return out
}

// waitFor polls cond every 10ms for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

const sharedBody = `{"model":"m","max_tokens":20,"messages":[{"role":"user","content":"hello"}]}`

// spread sends n requests of secret round-robin over rs, workers at a
// time, and counts the answers by status.
func spread(t *testing.T, rs []replica, secret string, n, workers int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, _, _ := keyedChat(t, rs[i%len(rs)].URL, secret, sharedBody)
				mu.Lock()
				got[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return got
}

// TestSharedRPM: a 60-per-minute key sent 200 requests spread over three
// replicas admits exactly 60.
func TestSharedRPM(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	rs := replicas(t, 3, emu.URL, redistest.Start(t).URL, "")
	_, secret, err := rs[0].Keys().Create(context.Background(), "sixty", keys.Policy{RPM: 60}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, secret)
	got := spread(t, rs, secret, 200, 12)
	if got[200] != 60 || got[429] != 140 {
		t.Errorf("answers %v, want exactly 60 admitted and 140 refused", got)
	}
}

// waitKnown waits until every replica accepts secret (the key's creation
// announced; the periodic reload is 30s away).
func waitKnown(t *testing.T, rs []replica, secret string) {
	t.Helper()
	waitFor(t, "the new key is known to every replica", func() bool {
		for _, r := range rs {
			if _, err := r.Keys().Authenticate(secret); err != nil {
				return false
			}
		}
		return true
	})
}

// TestSharedBudget: a budget spent through three replicas at once
// overshoots by at most one reservation per replica.
func TestSharedBudget(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	rs := replicas(t, 3, emu.URL, redistest.Start(t).URL, "")
	const budget = 0.002
	reservation := (float64(len(sharedBody)/4)*2.5 + 20*10) / 1e6
	k, secret, err := rs[0].Keys().Create(context.Background(), "small", keys.Policy{Budget: &keys.Budget{USD: budget, Period: keys.Day}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, secret)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for _, r := range rs {
		for range 2 { // two clients a replica
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 500 {
					resp, code, _ := keyedChat(t, r.URL, secret, sharedBody)
					if resp.StatusCode != 200 {
						if resp.StatusCode != 429 || code != "insufficient_quota" {
							t.Errorf("answer %d %q", resp.StatusCode, code)
						}
						return
					}
					ok.Add(1)
				}
				t.Error("the budget never stopped the key")
			}()
		}
	}
	wg.Wait()
	c := &admin.Client{BaseURL: rs[1].URL, AdminKey: "k"}
	var u keys.Usage
	waitFor(t, "the ledger holds every admitted request", func() bool {
		shown, err := c.Show(context.Background(), k.ID)
		u = shown.Usage
		return err == nil && u.Requests >= ok.Load()
	})
	if u.SpendUSD < budget || u.SpendUSD > budget+3*reservation {
		t.Errorf("spent %v of a budget of %v over 3 replicas (one reservation: %v)", u.SpendUSD, budget, reservation)
	}
}

// TestRevocationReachesReplicas: a key made through one replica is known
// to the others, and once revoked through it, refused by the others, each
// well before the periodic reload.
func TestRevocationReachesReplicas(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	rs := replicas(t, 3, emu.URL, redistest.Start(t).URL, "")
	// A first key on each of the others, so that they all enforce keys.
	k, secret, err := rs[0].Keys().Create(context.Background(), "soon-revoked", keys.Policy{RPM: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKnown(t, rs, secret)
	for _, r := range rs[1:] {
		if resp, _, _ := keyedChat(t, r.URL, secret, sharedBody); resp.StatusCode != 200 {
			t.Fatalf("before the revocation: %d", resp.StatusCode)
		}
	}
	if err := rs[0].Keys().Revoke(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revocation reaches every replica", func() bool {
		for _, r := range rs[1:] {
			if _, err := r.Keys().Authenticate(secret); err == nil {
				return false
			}
		}
		return true
	})
	for _, r := range rs[1:] {
		if resp, code, _ := keyedChat(t, r.URL, secret, sharedBody); resp.StatusCode != 401 {
			t.Errorf("after the revocation through another replica: %d %q, want 401", resp.StatusCode, code)
		}
	}
}

// readyzPart is a replica's /readyz: its status code and the part of
// its answer named part ("state" for Redis, "key_store" for Postgres).
func readyzPart(t *testing.T, url, part string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("/readyz %s: %v", b, err)
	}
	var st map[string]any
	if raw, ok := body[part]; ok {
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("/readyz %s: %s: %v", b, part, err)
		}
	}
	return resp.StatusCode, st
}

// storeUp is tiergate_state_up{store=store} as g exports it.
func storeUp(t *testing.T, g prometheus.Gatherer, store string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range fams {
		if mf.GetName() == metrics.NameStateUp {
			for _, m := range mf.GetMetric() {
				if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == store {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{store=%q}", metrics.NameStateUp, store)
	return -1
}

// TestRedisDown: Redis is killed mid-traffic. Chat keeps answering; a
// limited key gets, open, each replica's share of its limit (30 rpm over
// 3 replicas: 10 each), closed, refusals; /readyz and tiergate_state_up
// say the store is down (ready when open, not when closed). Once Redis is
// back, the limit is shared again.
func TestRedisDown(t *testing.T) {
	for _, onFailure := range []string{"open", "closed"} {
		t.Run(onFailure, func(t *testing.T) {
			emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
			defer emu.Close()
			srv := redistest.Start(t)
			rs := replicas(t, 3, emu.URL, srv.URL, onFailure)
			_, secret, err := rs[0].Keys().Create(context.Background(), "thirty", keys.Policy{RPM: 30}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, free, err := rs[0].Keys().Create(context.Background(), "unlimited", keys.Policy{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitKnown(t, rs, secret)
			waitKnown(t, rs, free)
			if got := spread(t, rs, secret, 9, 3); got[200] != 9 {
				t.Fatalf("before the outage: %v", got)
			}

			srv.Kill()
			got := map[int]int{}
			codes := map[string]int{}
			var retry string
			for i := range 60 { // 20 a replica
				resp, code, _ := keyedChat(t, rs[i%3].URL, secret, sharedBody)
				got[resp.StatusCode]++
				codes[code]++
				if resp.StatusCode == 429 && retry == "" {
					retry = resp.Header.Get("Retry-After")
				}
				if resp, _, _ := keyedChat(t, rs[i%3].URL, free, sharedBody); resp.StatusCode != 200 {
					t.Fatalf("a key without limits while Redis is down: %d", resp.StatusCode)
				}
			}
			switch onFailure {
			case "open":
				if got[200] != 30 || got[429] != 30 {
					t.Errorf("Redis down, open: %v, want 10 admitted a replica (30) and 30 refused", got)
				}
			case "closed":
				// Refused as what happened (the store is down), not as
				// a key over its limit.
				if got[429] != 60 || retry == "" || codes["limits_unavailable"] != 60 {
					t.Errorf("Redis down, closed: %v %v (Retry-After %q), want all 60 refused limits_unavailable with a Retry-After", got, codes, retry)
				}
			}
			for _, r := range rs {
				code, st := readyzPart(t, r.URL, "state")
				if st["up"] != false || st["store"] != "redis" || st["on_failure"] != onFailure {
					t.Errorf("/readyz state while down: %v", st)
				}
				// Open to anyone: it never names where the store is.
				if e, _ := st["error"].(string); strings.Contains(e, "127.0.0.1") || strings.Contains(e, srv.URL) {
					t.Errorf("/readyz names the store's address: %q", e)
				}
				if want := map[string]int{"open": 200, "closed": 503}[onFailure]; code != want {
					t.Errorf("/readyz while down, %s: %d, want %d", onFailure, code, want)
				}
				if v := storeUp(t, r.reg, "redis"); v != 0 {
					t.Errorf("%s while down: %v", metrics.NameStateUp, v)
				}
			}

			srv.Restart() // empty: the minute starts again
			waitFor(t, "every replica back on Redis", func() bool {
				for _, r := range rs {
					if h, _ := r.StateHealth(); !h.Up {
						return false
					}
				}
				return true
			})
			if got := spread(t, rs, secret, 45, 6); got[200] != 30 || got[429] != 15 {
				t.Errorf("Redis back: %v, want exactly 30 admitted across the replicas", got)
			}
			for _, r := range rs {
				if code, st := readyzPart(t, r.URL, "state"); code != 200 || st["up"] != true {
					t.Errorf("/readyz once back: %d %v", code, st)
				}
				if v := storeUp(t, r.reg, "redis"); v != 1 {
					t.Errorf("%s once back: %v", metrics.NameStateUp, v)
				}
			}
		})
	}
}

// TestPublishedTiersReachReplicas: tiers published once (bench -publish)
// appear on every replica's /v1/models, and a second publish that
// measures another model keeps the first one's entry.
func TestPublishedTiersReachReplicas(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	srv := redistest.Start(t)
	rs := replicas(t, 3, emu.URL, srv.URL, "")
	pub, err := redisstate.New(redisstate.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	at := time.Now().UTC().Truncate(time.Second)
	f, err := pub.PublishTiers(context.Background(), &tiers.File{Version: tiers.Version, GeneratedAt: at,
		Tiers: []tiers.Entry{{Model: "m", Provider: "up", Tier: catalog.Slow, TTFTP50Ms: 2500, OutputTokensPerSecP50: 8, Requests: 10, MeasuredAt: at}}})
	if err != nil || len(f.Tiers) != 1 {
		t.Fatalf("publish: %v %+v", err, f)
	}
	tierOf := func(r replica) (string, string) {
		resp, b := webtest.Send(t, "GET", r.URL+"/v1/models/m", "", nil)
		var m struct {
			Tiergate struct {
				Tier       string `json:"tier"`
				TierSource string `json:"tier_source"`
			} `json:"tiergate"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &m) != nil {
			t.Fatalf("GET /v1/models/m: %d %s", resp.StatusCode, b)
		}
		return m.Tiergate.Tier, m.Tiergate.TierSource
	}
	waitFor(t, "every replica routes on the published tier", func() bool {
		for _, r := range rs {
			if tier, src := tierOf(r); tier != "slow" || src != "bench" {
				return false
			}
		}
		return true
	})
	f, err = pub.PublishTiers(context.Background(), &tiers.File{Version: tiers.Version, GeneratedAt: at.Add(time.Second),
		Tiers: []tiers.Entry{{Model: "other", Provider: "up", Tier: catalog.Fast, MeasuredAt: at}}})
	if err != nil || len(f.Tiers) != 2 {
		t.Fatalf("a second publish must keep the first model's entry: %v %+v", err, f)
	}
}
