package app_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
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
			req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions", strings.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
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
}
