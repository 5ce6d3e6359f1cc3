package app_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

// pricedModel is oneModel with a list price, so that requests cost.
func pricedModel(t *testing.T, url, server string) *config.Config {
	t.Helper()
	yaml := "server:\n" + server + "router:\n  max_attempts: 1\n" +
		"providers:\n  up:\n    type: openai\n    base_url: " + url + "\n    api_key_env: K\n" +
		"models:\n  - {id: m, provider: up, upstream: m, openness: proprietary, deployment: saas, tasks: [chat], tier_prior: fast, price: {input: 2.5, output: 10}}\n"
	cfg, err := config.Load("test", []byte(yaml), func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func counterSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range fams {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestLedgerMatchesMetrics: a key's unary and streamed requests are in
// the spend ledger, GET /admin/keys/{id} shows their requests, tokens and
// spend this period, and the ledger's spend equals the metrics' cost.
func TestLedgerMatchesMetrics(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	reg := prometheus.NewPedanticRegistry()
	gw := apptest.Start(t, pricedModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg})
	k, secret, err := gw.Keys().Create(context.Background(), "team", keys.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		`{"model":"m","messages":[{"role":"user","content":"hello there"}]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a longer question for the model"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"one more"}]}`,
	}
	const rounds = 5
	for range rounds {
		for _, b := range bodies {
			resp, body := webtest.Send(t, "POST", gw.URL+"/v1/chat/completions", b, map[string]string{"Authorization": "Bearer " + secret})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		}
	}
	c := &admin.Client{BaseURL: gw.URL, AdminKey: "k"}
	var shown admin.Shown
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if shown, err = c.Show(context.Background(), k.ID); err != nil {
			t.Fatal(err)
		}
		if shown.Usage.Requests >= rounds*int64(len(bodies)) {
			break
		}
	}
	u := shown.Usage
	if u.Requests != rounds*int64(len(bodies)) || u.TokensIn <= 0 || u.TokensOut <= 0 || shown.Name != "team" {
		t.Fatalf("admin shows %+v", shown)
	}
	want := float64(u.TokensIn)*2.5/1e6 + float64(u.TokensOut)*10/1e6
	if math.Abs(u.SpendUSD-want) > 1e-12 {
		t.Errorf("ledger spend %v, want %v from its tokens at the catalog's price", u.SpendUSD, want)
	}
	if m := counterSum(t, reg, metrics.NameCost); m <= 0 || math.Abs(m-u.SpendUSD) > 1e-12 {
		t.Errorf("metrics' cost %v, ledger's spend %v", m, u.SpendUSD)
	}
	// The per-key families, labelled by the key's name, agree.
	if m := counterSum(t, reg, metrics.NameKeyCost); math.Abs(m-u.SpendUSD) > 1e-12 {
		t.Errorf("key cost metric %v, ledger's spend %v", m, u.SpendUSD)
	}
	if n := counterSum(t, reg, metrics.NameKeyRequests); n != float64(u.Requests) {
		t.Errorf("key requests metric %v, ledger %d", n, u.Requests)
	}
	if n := counterSum(t, reg, metrics.NameKeyTokens); n != float64(u.TokensIn+u.TokensOut) {
		t.Errorf("key tokens metric %v, ledger %d", n, u.TokensIn+u.TokensOut)
	}
	fams, _ := reg.Gather()
	for _, mf := range fams {
		if mf.GetName() == metrics.NameKeyRequests {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "key" && l.GetValue() != "team" {
						t.Errorf("key label %q, want the key's name", l.GetValue())
					}
				}
			}
		}
	}
}

// keyedChat sends one chat request with a gateway key and returns the
// response (body read) and its error code.
func keyedChat(t *testing.T, url, secret, body string) (*http.Response, string, int) {
	t.Helper()
	resp, b := webtest.Send(t, "POST", url+"/v1/chat/completions", body, map[string]string{"Authorization": "Bearer " + secret})
	var out struct {
		Usage struct {
			Total int `json:"total_tokens"`
		} `json:"usage"`
		Error struct {
			Code string `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	json.Unmarshal(b, &out)
	return resp, out.Error.Code, out.Usage.Total
}

// TestKeyTPMUnderLoad: several clients of a key with a tpm send at once;
// the tokens of the requests admitted never exceed it, the refused get
// 429 rate_limit_exceeded with Retry-After, and every answer carries
// OpenAI's x-ratelimit-*-tokens headers.
func TestKeyTPMUnderLoad(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	gw := apptest.Start(t, pricedModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }})
	const tpm = 600
	_, secret, err := gw.Keys().Create(context.Background(), "tpm", keys.Policy{TPM: tpm}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const clients, each = 4, 40
	var mu sync.Mutex
	used, ok, refused := 0, 0, 0
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				resp, code, total := keyedChat(t, gw.URL, secret, `{"model":"m","max_tokens":20,"messages":[{"role":"user","content":"a few words of prompt here"}]}`)
				mu.Lock()
				switch {
				case resp.StatusCode == 200:
					ok++
					used += total
				case resp.StatusCode == 429 && code == "rate_limit_exceeded" && resp.Header.Get("Retry-After") != "":
					refused++
				default:
					t.Errorf("answer %d %q", resp.StatusCode, code)
				}
				if resp.Header.Get("x-ratelimit-limit-tokens") != "600" || resp.Header.Get("x-ratelimit-remaining-tokens") == "" || resp.Header.Get("x-ratelimit-reset-tokens") == "" {
					t.Errorf("headers %v", resp.Header)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if used > tpm || ok == 0 || refused == 0 {
		t.Errorf("admitted %d requests using %d tokens under a tpm of %d; refused %d", ok, used, tpm, refused)
	}
	t.Logf("admitted %d (%d tokens), refused %d", ok, used, refused)
}

// TestKeyBudget: a key with a small budget stops at it with 429
// insufficient_quota, having overshot by at most one request's
// reservation; after a restart its spend is still there and it is still
// refused.
func TestKeyBudget(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	dir := t.TempDir()
	const budget = 0.002
	// The reservation of one request: its prompt estimate (chars/4) and
	// max_tokens at the model's price.
	body := `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"tell me something about the weather today"}]}`
	reservation := (float64(len(body)/4)*2.5 + 50*10) / 1e6
	var id, secret string
	var spent float64
	t.Run("spend", func(t *testing.T) {
		gw := apptest.Start(t, pricedModel(t, emu.URL, "  data_dir: "+dir+"\n"), app.Options{Getenv: func(string) string { return "k" }})
		k, s, err := gw.Keys().Create(context.Background(), "small", keys.Policy{Budget: &keys.Budget{USD: budget, Period: keys.Day}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, secret = k.ID, s
		ok := 0
		for i := 0; ; i++ {
			if i > 500 {
				t.Fatal("the budget never stopped the key")
			}
			resp, code, _ := keyedChat(t, gw.URL, secret, body)
			if resp.StatusCode == 200 {
				ok++
				continue
			}
			if resp.StatusCode != 429 || code != "insufficient_quota" {
				t.Fatalf("answer %d %q", resp.StatusCode, code)
			}
			break
		}
		if ok == 0 {
			t.Fatal("no request fit the budget")
		}
	})
	// The gateway is stopped: its ledger is flushed.
	st, err := keys.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.Usage(context.Background(), id, keys.PeriodStart(keys.Day, time.Now()))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	spent = u.SpendUSD
	if spent < budget || spent > budget+reservation {
		t.Errorf("spent %v of a budget of %v (one reservation: %v)", spent, budget, reservation)
	}
	t.Run("restart", func(t *testing.T) {
		gw := apptest.Start(t, pricedModel(t, emu.URL, "  data_dir: "+dir+"\n"), app.Options{Getenv: func(string) string { return "k" }})
		if resp, code, _ := keyedChat(t, gw.URL, secret, body); resp.StatusCode != 429 || code != "insufficient_quota" {
			t.Errorf("after a restart: %d %q, want 429 insufficient_quota", resp.StatusCode, code)
		}
	})
}

// TestCancelledStreamSettles: a stream the client abandons after some
// content is in the ledger as cancelled, with the prompt estimate and the
// tokens streamed so far, and its key's budget is charged for them.
func TestCancelledStreamSettles(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k", ChunkGap: 50 * time.Millisecond, Reply: "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"})
	defer emu.Close()
	reg := prometheus.NewPedanticRegistry()
	gw := apptest.Start(t, pricedModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }, Registry: reg, Gatherer: reg})
	k, secret, err := gw.Keys().Create(context.Background(), "streamer", keys.Policy{Budget: &keys.Budget{USD: 10, Period: keys.Month}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count for me please"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	seen := 0
	for seen < 200 { // a few chunks in, then hang up
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		seen += n
	}
	cancel()
	resp.Body.Close()
	c := &admin.Client{BaseURL: gw.URL, AdminKey: "k"}
	var shown admin.Shown
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if shown, err = c.Show(context.Background(), k.ID); err != nil {
			t.Fatal(err)
		}
		if shown.Usage.Requests > 0 {
			break
		}
	}
	u := shown.Usage
	if u.Requests != 1 || u.TokensIn <= 0 || u.TokensOut <= 0 || u.TokensOut >= 16 || u.SpendUSD <= 0 {
		t.Fatalf("a cancelled stream settled as %+v", u)
	}
	if n := counterValue(t, reg, metrics.NameKeyRequests, map[string]string{"key": "streamer", "status": "cancelled"}); n != 1 {
		t.Errorf("cancelled requests of the key: %v", n)
	}
}

func counterValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range matching(t, g, name, labels) {
		sum += m.GetCounter().GetValue()
	}
	return sum
}
