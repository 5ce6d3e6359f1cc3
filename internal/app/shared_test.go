package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/router"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/redistest"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

// sharingReplicas starts one gateway per config yaml, each its own
// app.New on redisURL (snapshots every 200ms), with its log in logs[i],
// and waits until every one counts the others and follows what they
// share.
func sharingReplicas(t *testing.T, yamls []string, redisURL string) ([]*apptest.Gateway, []*syncbuf.Buffer) {
	t.Helper()
	out := make([]*apptest.Gateway, len(yamls))
	logs := make([]*syncbuf.Buffer, len(yamls))
	for i, y := range yamls {
		cfg, err := config.Load("test", []byte(y), func(string) string { return "k" })
		if err != nil {
			t.Fatal(err)
		}
		cfg.State.Redis, cfg.State.Timeout, cfg.State.SnapshotInterval = redisURL, time.Second, 200*time.Millisecond
		logs[i] = &syncbuf.Buffer{}
		out[i] = apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" },
			Logger: slog.New(slog.NewTextHandler(logs[i], &slog.HandlerOptions{Level: slog.LevelInfo}))})
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0")})
	defer rdb.Close()
	waitFor(t, "every replica counts the others and follows the shared breakers", func() bool {
		for _, r := range out {
			if h, _ := r.StateHealth(); !h.Up || h.Replicas != len(yamls) {
				return false
			}
		}
		n, err := rdb.PubSubNumSub(context.Background(), "tiergate:breakers").Result()
		return err == nil && n["tiergate:breakers"] == int64(len(yamls))
	})
	return out, logs
}

// provider is a providers: entry for an OpenAI-compatible emulator.
func provider(name, url string) string {
	return "  " + name + ": {type: openai, base_url: " + url + ", api_key_env: K}\n"
}

// model is a models: entry.
func model(id, prov string, quality int, fallbacks ...string) string {
	fb := ""
	if len(fallbacks) > 0 {
		fb = ", fallbacks: [" + strings.Join(fallbacks, ", ") + "]"
	}
	return fmt.Sprintf("  - {id: %s, provider: %s, upstream: m, openness: proprietary, deployment: saas, tasks: [chat], tier_prior: fast, quality: %d, price: {input: 1, output: 1}%s}\n",
		id, prov, quality, fb)
}

func chatTo(t *testing.T, url, model string, stream bool) int {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"stream":%v,"max_tokens":20,"messages":[{"role":"user","content":"hello"}]}`, model, stream)
	resp, _ := webtest.Send(t, "POST", url+"/v1/chat/completions", body, map[string]string{"Content-Type": "application/json"})
	return resp.StatusCode
}

// excluded says why gw's router leaves model out of a pinned decision
// ("" when it is eligible).
func excluded(t *testing.T, gw *apptest.Gateway, model string) string {
	t.Helper()
	d, err := gw.Router().Route(&router.Query{Model: model, Task: catalog.Chat, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Considered {
		if c.Model == model {
			return c.Why
		}
	}
	return ""
}

func providerBreaker(gw *apptest.Gateway, name string) string {
	for _, p := range gw.Router().Providers() {
		if p.Provider == name {
			return p.Breaker
		}
	}
	return ""
}

func sent(emus ...*openaiemu.Server) int {
	n := 0
	for _, e := range emus {
		n += len(e.Requests())
	}
	return n
}

// TestBreakersReachReplicas: a provider failing (500) behind the first
// of three replicas opens its circuit there, and the other two stop
// sending to it before a second has passed: none of their requests
// reaches the failing upstream afterwards, each answered by the
// fallback. The time for the circuit to reach them is measured over
// five providers (the median is logged). A model's cool-down (429
// Retry-After) and a provider's (503 Retry-After) are honoured on every
// replica.
func TestBreakersReachReplicas(t *testing.T) {
	const trials = 5
	good := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer good.Close()
	var bad, c429, c503 [3]*openaiemu.Server
	for i := range 3 {
		bad[i] = openaiemu.New(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 500, Message: "upstream broke"}})
		c429[i] = openaiemu.New(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 429, RetryAfter: "60"}})
		c503[i] = openaiemu.New(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 503, RetryAfter: "60"}})
		defer bad[i].Close()
		defer c429[i].Close()
		defer c503[i].Close()
	}
	yamls := make([]string, 3)
	for i := range yamls {
		y := "router:\n  max_attempts: 2\n  provider_breaker: {consecutive: 3, open_for: 1m}\n" +
			"  breaker: {window: 30s, min_requests: 10, error_ratio: 0.5, open_for: 1m}\nproviders:\n" +
			provider("good", good.URL) + provider("c429", c429[i].URL) + provider("c503", c503[i].URL)
		for k := range trials {
			y += provider(fmt.Sprintf("bad%d", k), bad[i].URL)
		}
		y += "models:\n" + model("g", "good", 50) + model("c1", "c429", 50, "g") + model("c2", "c503", 50, "g")
		for k := range trials {
			y += model(fmt.Sprintf("b%d", k), fmt.Sprintf("bad%d", k), 50, "g")
		}
		yamls[i] = y
	}
	rs, _ := sharingReplicas(t, yamls, redistest.Start(t).URL)
	others := rs[1:]

	var took []time.Duration
	for k := range trials {
		m, prov := fmt.Sprintf("b%d", k), fmt.Sprintf("bad%d", k)
		for range 2 {
			if code := chatTo(t, rs[0].URL, m, false); code != 200 {
				t.Fatalf("%s through the fallback: %d", m, code)
			}
		}
		t0 := time.Now()
		chatTo(t, rs[0].URL, m, false) // the third failure in a row opens the circuit
		if st := providerBreaker(rs[0], prov); st != router.Open {
			t.Fatalf("%s on the first replica after three failures: %q", prov, st)
		}
		for deadline := t0.Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if providerBreaker(others[0], prov) == router.Open && providerBreaker(others[1], prov) == router.Open {
				took = append(took, time.Since(t0))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's circuit did not reach the other replicas in 5s", prov)
			}
		}
	}
	slices.Sort(took)
	t.Logf("a provider's circuit opened on one replica reached the two others in %v (median of %d; all: %v)", took[trials/2], trials, took)
	if took[trials/2] > time.Second {
		t.Errorf("median propagation %v, want under a second", took[trials/2])
	}
	// From now on the other replicas send nothing to the failing upstream.
	for k := range trials {
		for _, r := range others {
			for range 5 {
				if code := chatTo(t, r.URL, fmt.Sprintf("b%d", k), false); code != 200 {
					t.Errorf("b%d on another replica: %d, want the fallback's 200", k, code)
				}
			}
		}
	}
	if n := sent(bad[1], bad[2]); n != 0 {
		t.Errorf("%d requests from the other replicas reached the failing upstream after its circuit opened on the first, want 0", n)
	}
	if n := len(good.Requests()); n < 2*trials*5 {
		t.Errorf("the fallback served %d requests, want at least %d", n, 2*trials*5)
	}

	for _, tc := range []struct {
		name, model string
		up          [3]*openaiemu.Server
		why         string
	}{
		{"429 cools the model", "c1", c429, "cooling down for"},
		{"503 cools the provider", "c2", c503, "provider c503: cooling down for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := chatTo(t, rs[0].URL, tc.model, false); code != 200 {
				t.Fatalf("%s through the fallback: %d", tc.model, code)
			}
			if sent(tc.up[0]) != 1 {
				t.Fatalf("the first replica sent %d requests to %s's upstream, want 1", sent(tc.up[0]), tc.model)
			}
			waitFor(t, "the cool-down reaches the other replicas", func() bool {
				return strings.Contains(excluded(t, others[0], tc.model), tc.why) && strings.Contains(excluded(t, others[1], tc.model), tc.why)
			})
			for _, r := range rs {
				for range 5 {
					if code := chatTo(t, r.URL, tc.model, false); code != 200 {
						t.Errorf("%s while cooling down: %d, want the fallback's 200", tc.model, code)
					}
				}
			}
			if n := sent(tc.up[:]...); n != 1 {
				t.Errorf("%d requests reached %s's upstream during its Retry-After, want only the first", n, tc.model)
			}
		})
	}
}

// TestEstimatesReachReplicas: a replica that has served nothing ranks two
// backends by what the others measured. Alone it prefers s (better
// quality, same prior speed); once the others have streamed through
// both, s's first token taking 300ms and f's a few, it prefers f on
// their figures, shows their TTFT, and shares none of its own.
func TestEstimatesReachReplicas(t *testing.T) {
	fast := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer fast.Close()
	slow := openaiemu.New(openaiemu.Options{APIKey: "k", TTFT: 300 * time.Millisecond})
	defer slow.Close()
	// Both ultra-fast by their prior (200ms): s's 300ms raises its
	// latency average at once, f's few ms lower f's gradually.
	y := "router:\n  max_attempts: 1\nproviders:\n" + provider("fastp", fast.URL) + provider("slowp", slow.URL) +
		"models:\n" + strings.ReplaceAll(model("f", "fastp", 50)+model("s", "slowp", 60), "tier_prior: fast", "tier_prior: ultra-fast")
	rs, _ := sharingReplicas(t, []string{y, y, y}, redistest.Start(t).URL)
	idle := rs[2]
	choice := func() string {
		d, err := idle.Router().Route(&router.Query{Model: "auto", Task: catalog.Chat})
		if err != nil {
			t.Fatal(err)
		}
		return d.Chosen
	}
	if c := choice(); c != "s" {
		t.Fatalf("before any traffic the idle replica chooses %s, want s (quality)", c)
	}
	var wg sync.WaitGroup
	for _, r := range rs[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range []string{"f", "s"} {
				for range 3 {
					if code := chatTo(t, r.URL, m, true); code != 200 {
						t.Errorf("stream to %s: %d", m, code)
					}
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the idle replica ranks on the others' figures", func() bool { return choice() == "f" })
	for _, st := range idle.Router().Status() {
		if st.Model == "s" && st.TTFT < 300*time.Millisecond || st.Model == "f" && (st.TTFT <= 0 || st.TTFT >= 300*time.Millisecond) {
			t.Errorf("the idle replica shows %s's TTFT as %v", st.Model, st.TTFT)
		}
	}
	if es := idle.Router().Estimates(); len(es) != 0 {
		t.Errorf("the idle replica shares figures of its own: %+v", es)
	}
	for range 10 {
		if c := choice(); c != "f" {
			t.Fatalf("the idle replica chose %s once the others' figures arrived, want f every time", c)
		}
	}
}

// TestLiveTiersReachReplicas: a replica that has served nothing shows,
// in /v1/models and its status, the live tier the other's traffic
// measured: s is ultra-fast by its prior, its first token takes 500ms
// (fast: over ultra-fast's 400ms), and once the other has streamed
// through it for longer than tier_window both show it fast (live).
func TestLiveTiersReachReplicas(t *testing.T) {
	slow := openaiemu.New(openaiemu.Options{APIKey: "k", TTFT: 500 * time.Millisecond})
	defer slow.Close()
	y := "router:\n  max_attempts: 1\n  tier_window: 100ms\nproviders:\n" + provider("slowp", slow.URL) +
		"models:\n" + strings.ReplaceAll(model("s", "slowp", 60), "tier_prior: fast", "tier_prior: ultra-fast") +
		"tiers:\n  rules:\n    - {tier: ultra-fast, max_ttft: 400ms, min_tokens_per_s: 250}\n    - {tier: fast, max_ttft: 1s, min_tokens_per_s: 50}\n"
	rs, _ := sharingReplicas(t, []string{y, y}, redistest.Start(t).URL)
	busy, idle := rs[0], rs[1]
	tier := func(gw *apptest.Gateway) (catalog.Tier, string) {
		t.Helper()
		resp, body := webtest.Send(t, "GET", gw.URL+"/v1/models/s", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/models/s: %d %s", resp.StatusCode, body)
		}
		var m struct {
			Tiergate struct {
				Tier       catalog.Tier `json:"tier"`
				TierSource string       `json:"tier_source"`
			} `json:"tiergate"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m.Tiergate.Tier, m.Tiergate.TierSource
	}
	if got, src := tier(idle); got != catalog.UltraFast || src != router.SourcePrior {
		t.Fatalf("before any traffic the idle replica shows s as %s (%s), want ultra-fast (prior)", got, src)
	}
	for range 4 {
		if code := chatTo(t, busy.URL, "s", true); code != 200 {
			t.Fatalf("stream to s: %d", code)
		}
	}
	if got, src := tier(busy); got != catalog.Fast || src != router.SourceLive {
		t.Fatalf("the busy replica shows s as %s (%s) after its streams, want fast (live)", got, src)
	}
	waitFor(t, "the idle replica shows the tier the other measured", func() bool {
		got, src := tier(idle)
		return got == catalog.Fast && src == router.SourceLive
	})
	for _, st := range idle.Router().Status() {
		if st.Model == "s" && (st.Tier != catalog.Fast || st.TierSource != router.SourceLive) {
			t.Errorf("the idle replica's status shows s as %s (%s), want fast (live)", st.Tier, st.TierSource)
		}
	}
	if es := idle.Router().Estimates(); len(es) != 0 {
		t.Errorf("the idle replica shares figures of its own: %+v", es)
	}
}

// TestSharingRedisDown: with Redis gone, routing goes on untouched (a
// circuit opens and is honoured locally, every request answers), the
// failure to share is logged once however many events and snapshots
// fail; once Redis is back a new circuit reaches the others again.
func TestSharingRedisDown(t *testing.T) {
	good := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer good.Close()
	bad := openaiemu.New(openaiemu.Options{APIKey: "k", Fault: openaiemu.Fault{Status: 500}})
	defer bad.Close()
	y := "router:\n  max_attempts: 2\n  provider_breaker: {consecutive: 3, open_for: 1m}\nproviders:\n" +
		provider("good", good.URL) + provider("bad1", bad.URL) + provider("bad2", bad.URL) +
		"models:\n" + model("g", "good", 50) + model("b1", "bad1", 50, "g") + model("b2", "bad2", 50, "g")
	srv := redistest.Start(t)
	rs, logs := sharingReplicas(t, []string{y, y, y}, srv.URL)

	srv.Kill()
	for i := range 30 {
		if code := chatTo(t, rs[i%3].URL, "b1", i%2 == 0); code != 200 {
			t.Fatalf("request %d with Redis down: %d", i, code)
		}
	}
	for _, r := range rs {
		if st := providerBreaker(r, "bad1"); st != router.Open {
			t.Errorf("bad1 with Redis down: %q, want open by each replica's own failures", st)
		}
	}
	time.Sleep(time.Second) // five snapshots' worth of failures
	for i, l := range logs {
		if n := strings.Count(l.String(), "sharing with the other replicas failed"); n != 1 {
			t.Errorf("replica %d logged the failure to share %d times, want once\n%s", i, n, l.String())
		}
	}

	srv.Restart()
	waitFor(t, "every replica back on Redis", func() bool {
		for _, r := range rs {
			if h, _ := r.StateHealth(); !h.Up {
				return false
			}
		}
		return true
	})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	waitFor(t, "every replica subscribed again", func() bool {
		n, err := rdb.PubSubNumSub(context.Background(), "tiergate:breakers").Result()
		return err == nil && n["tiergate:breakers"] == 3
	})
	for range 3 {
		chatTo(t, rs[0].URL, "b2", false)
	}
	waitFor(t, "a circuit opened once Redis is back reaches the others", func() bool {
		return providerBreaker(rs[1], "bad2") == router.Open && providerBreaker(rs[2], "bad2") == router.Open
	})
	if !strings.Contains(logs[0].String(), "sharing with the other replicas again") {
		t.Errorf("replica 0 did not log that sharing works again")
	}
}
