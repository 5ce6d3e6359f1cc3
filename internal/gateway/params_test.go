package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// paramsFleet is a gateway over an Anthropic and an OpenAI emulator in
// one profile that prefers Claude.
type paramsFleet struct {
	anth *anthropicemu.Server
	oai  *openaiemu.Server
	url  string
}

func startParamsFleet(t *testing.T) *paramsFleet {
	t.Helper()
	f := &paramsFleet{anth: anthropicemu.New(anthropicemu.Options{}), oai: openaiemu.New(openaiemu.Options{APIKey: "k1"})}
	t.Cleanup(func() { f.anth.Close(); f.oai.Close() })
	yaml := `router: {max_attempts: 3, default_profile: general}
profiles:
  general: {prefer: [claude], weights: {prefer: 1}}
providers:
  anthropic: {type: anthropic, base_url: "` + f.anth.URL + `", api_key_env: K2}
  openai: {type: openai, base_url: "` + f.oai.URL + `", api_key_env: K1}
models:
  - {id: claude, provider: anthropic, upstream: claude-sonnet-4-6, openness: proprietary, deployment: saas, tasks: [chat], quality: 95}
  - {id: gpt-4o, provider: openai, upstream: gpt-4o, openness: proprietary, deployment: saas, tasks: [chat], quality: 90}
`
	getenv := func(k string) string { return map[string]string{"K1": "k1", "K2": "k2"}[k] }
	cfg, err := config.Load("params", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	f.url = apptest.Start(t, cfg, app.Options{Getenv: getenv}).URL
	return f
}

// TestParamsRoute: a restricted parameter Claude's adapter cannot honour
// takes auto:general to gpt-4o instead of a 400; a pinned Claude keeps
// its 400; temperature to Claude is dropped, said in X-Tiergate-Dropped.
func TestParamsRoute(t *testing.T) {
	f := startParamsFleet(t)
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	resp, body := chatReq(t, f.url, `{"model":"auto:general",`+msgs+`}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "claude" {
		t.Fatalf("plain request: %d %s on %q, want claude", resp.StatusCode, body, resp.Header.Get("X-Tiergate-Model"))
	}
	for _, extra := range []string{`"n":2`, `"response_format":{"type":"json_object"}`, `"seed":42`, `"stream":true,"n":2`} {
		resp, body := chatReq(t, f.url, `{"model":"auto:general",`+msgs+`,`+extra+`}`, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "gpt-4o" {
			t.Errorf("%s: %d %s on %q, want gpt-4o", extra, resp.StatusCode, body, resp.Header.Get("X-Tiergate-Model"))
		}
		if d := resp.Header.Get("X-Tiergate-Dropped"); d != "" {
			t.Errorf("%s: gpt-4o dropped %q", extra, d)
		}
	}
	anthBefore := len(f.anth.Requests())

	resp, body = chatReq(t, f.url, `{"model":"claude",`+msgs+`,"n":2}`, nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "cannot honour") || !strings.Contains(body, `"param":"n"`) {
		t.Errorf("pinned claude with n 2: %d %s, want its 400", resp.StatusCode, body)
	}
	if n := len(f.anth.Requests()); n != anthBefore {
		t.Errorf("Anthropic saw %d requests for the refused ones", n-anthBefore)
	}

	for _, stream := range []bool{false, true} {
		s := ""
		if stream {
			s = `,"stream":true`
		}
		resp, body = chatReq(t, f.url, `{"model":"claude",`+msgs+`,"temperature":0.3,"top_p":0.9`+s+`}`, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Dropped") != "temperature,top_p" {
			t.Errorf("temperature to claude (stream %v): %d %s, dropped %q", stream, resp.StatusCode, body, resp.Header.Get("X-Tiergate-Dropped"))
		}
		reqs := f.anth.Requests()
		last := reqs[len(reqs)-1]
		if strings.Contains(string(last.Body), "temperature") || strings.Contains(string(last.Body), "top_p") {
			t.Errorf("the body reaching Anthropic has sampling parameters: %s", last.Body)
		}
	}
	// auto with temperature still takes Claude: the hint is dropped in place.
	resp, body = chatReq(t, f.url, `{"model":"auto:general",`+msgs+`,"temperature":0.3}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "claude" || resp.Header.Get("X-Tiergate-Dropped") != "temperature" {
		t.Errorf("auto with temperature: %d %s on %q dropped %q", resp.StatusCode, body, resp.Header.Get("X-Tiergate-Model"), resp.Header.Get("X-Tiergate-Dropped"))
	}

	// Explain names the rule.
	req, _ := http.NewRequest("POST", f.url+"/v1/route/explain", strings.NewReader(`{"model":"auto:general",`+msgs+`,"n":2,"response_format":{"type":"json_object"}}`))
	eresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer eresp.Body.Close()
	var dec struct {
		Chosen     string `json:"chosen"`
		Considered []struct {
			Model      string `json:"model"`
			ExcludedBy string `json:"excluded_by"`
			Why        string `json:"why"`
		} `json:"candidates"`
	}
	if err := json.NewDecoder(eresp.Body).Decode(&dec); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range dec.Considered {
		if c.Model == "claude" {
			found = c.ExcludedBy == "params" && c.Why == "cannot honour n,response_format json_object"
			if !found {
				t.Errorf("explain says of claude: %q %q", c.ExcludedBy, c.Why)
			}
		}
	}
	if dec.Chosen != "gpt-4o" || !found {
		t.Errorf("explain chose %q; considered %+v", dec.Chosen, dec.Considered)
	}
}

// TestModelsListsServedTasks: /v1/models lists the models of every task
// the gateway has an endpoint for: chat, embeddings and (audio.go) the
// speech tasks.
func TestModelsListsServedTasks(t *testing.T) {
	f := startFleetWith(t, 0, `  - {id: whisper-1, provider: openai, upstream: whisper-1, openness: proprietary, deployment: saas, tasks: [speech-to-text]}
  - {id: embed-small, provider: openai, upstream: text-embedding-3-small, openness: proprietary, deployment: saas, tasks: [embeddings]}
`, nil)
	var ids []string
	for _, m := range getModels(t, f.url).Data {
		ids = append(ids, m.ID)
	}
	got := strings.Join(ids, ",")
	if !strings.Contains(got, "whisper-1") || !strings.Contains(got, "embed-small") || !strings.Contains(got, "gpt-4o") {
		t.Errorf("models %s", got)
	}
}
