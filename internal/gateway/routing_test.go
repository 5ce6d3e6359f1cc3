package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

// fleet is a gateway over four emulated backends: two SaaS (openai,
// groq), a local Ollama and a self-hosted OpenAI-compatible server.
type fleet struct {
	saas, groq, selfhosted *openaiemu.Server
	ollama                 *ollamaemu.Server
	url                    string
}

func startFleet(t *testing.T, ttftTimeout time.Duration) *fleet {
	t.Helper()
	return startFleetWith(t, ttftTimeout, "", nil)
}

// startFleetWith is startFleet with more config (extra YAML) and
// environment.
func startFleetWith(t *testing.T, ttftTimeout time.Duration, extra string, env map[string]string) *fleet {
	t.Helper()
	f := &fleet{
		saas:       openaiemu.New(openaiemu.Options{APIKey: "k1"}),
		groq:       openaiemu.New(openaiemu.Options{APIKey: "k2"}),
		selfhosted: openaiemu.New(openaiemu.Options{}),
		ollama:     ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}}),
	}
	t.Cleanup(func() { f.saas.Close(); f.groq.Close(); f.selfhosted.Close(); f.ollama.Close() })
	yaml := `router:
  max_attempts: 3
  ttft_timeout: ` + ttftTimeout.String() + `
  breaker: {window: 30s, min_requests: 50, error_ratio: 0.9, open_for: 30s}
profiles:
  auto: {weights: {quality: 1}}
  private: {openness: [open-source, open-weight], deployment: [local, self-hosted], prefer: [llama-local, mistral-selfhosted], weights: {prefer: 1}}
providers:
  openai: {type: openai, base_url: "` + f.saas.URL + `", api_key_env: K1}
  groq: {type: openai, base_url: "` + f.groq.URL + `", api_key_env: K2}
  vllm: {type: openai, base_url: "` + f.selfhosted.URL + `", deployment: self-hosted, probe: {enabled: false}}
  ollama: {type: ollama, base_url: "` + f.ollama.URL + `", probe: {enabled: false}}
models:
  - {id: gpt-4o, provider: openai, upstream: gpt-4o, openness: proprietary, deployment: saas, tasks: [chat], quality: 90}
  - {id: groq-llama, provider: groq, upstream: llama-3.1-8b-instant, openness: open-weight, deployment: saas, tasks: [chat], quality: 80}
  - {id: llama-local, provider: ollama, upstream: "llama3:8b", openness: open-weight, deployment: local, tasks: [chat], quality: 60}
  - {id: mistral-selfhosted, provider: vllm, upstream: mistral-7b, openness: open-weight, deployment: self-hosted, tasks: [chat], quality: 50}
` + extra
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return map[string]string{"K1": "k1", "K2": "k2"}[k]
	}
	cfg, err := config.Load("fleet", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	f.url = apptest.Start(t, cfg, app.Options{Getenv: getenv}).URL
	return f
}

func chatReq(t *testing.T, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	resp, b := webtest.Send(t, "POST", url+"/v1/chat/completions", body, hdr)
	return resp, string(b)
}

func chatPaths(reqs []openaiemu.Request) int {
	n := 0
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, "/chat/completions") {
			n++
		}
	}
	return n
}

// TestPrivateNeverReachesSaaS: under the private profile no byte goes to
// a SaaS backend, even when every local backend fails.
func TestPrivateNeverReachesSaaS(t *testing.T) {
	f := startFleet(t, 5*time.Second)
	private := map[string]string{"X-Tiergate-Profile": "private"}
	resp, body := chatReq(t, f.url, `{"model":"auto","messages":[{"role":"user","content":"our secrets"}]}`, private)
	if resp.StatusCode != 200 || resp.Header.Get("X-Tiergate-Model") != "llama-local" {
		t.Fatalf("%d %s %v", resp.StatusCode, body, resp.Header)
	}
	for _, fault := range []struct {
		ollama ollamaemu.Fault
		vllm   openaiemu.Fault
	}{
		{ollamaemu.Fault{Status: 500}, openaiemu.Fault{Status: 503}},
		{ollamaemu.Fault{Reset: true}, openaiemu.Fault{Reset: true}},
		{ollamaemu.Fault{Status: 429, RetryAfter: "1"}, openaiemu.Fault{Status: 500}},
	} {
		f.ollama.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b"}, Fault: fault.ollama})
		f.selfhosted.SetOptions(openaiemu.Options{Fault: fault.vllm})
		resp, body := chatReq(t, f.url, `{"model":"auto:private","stream":true,"messages":[{"role":"user","content":"our secrets"}]}`, nil)
		if resp.StatusCode < 500 {
			t.Errorf("with every local backend failing, status %d: %s", resp.StatusCode, body)
		}
		var e apiError
		if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" {
			t.Errorf("not an OpenAI error: %s", body)
		}
	}
	if n := chatPaths(f.saas.Requests()) + chatPaths(f.groq.Requests()); n != 0 {
		t.Fatalf("private traffic reached SaaS backends %d times", n)
	}
}

// TestFailoverBeforeFirstByte: faults before the first byte move on to
// the next backend, and the client never notices.
func TestFailoverBeforeFirstByte(t *testing.T) {
	faults := []struct {
		name  string
		fault openaiemu.Fault
	}{
		{"429 with Retry-After", openaiemu.Fault{Status: 429, RetryAfter: "30"}},
		{"500", openaiemu.Fault{Status: 500}},
		{"connection reset", openaiemu.Fault{Reset: true}},
		{"hang before the first byte", openaiemu.Fault{Hang: true}},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			f := startFleet(t, 300*time.Millisecond)
			f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Fault: tt.fault})
			for _, stream := range []bool{false, true} {
				body := `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`
				if stream {
					body = `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`
				}
				resp, out := chatReq(t, f.url, body, nil)
				if resp.StatusCode != 200 || strings.Contains(out, `"error"`) {
					t.Fatalf("stream=%v: %d %s", stream, resp.StatusCode, out)
				}
				if got := resp.Header.Get("X-Tiergate-Model"); got == "gpt-4o" {
					t.Fatalf("answered by the failing backend")
				}
				if tt.fault.Status == 429 {
					// cooling down: the second request does not even try it
					continue
				}
				if resp.Header.Get("X-Tiergate-Attempts") != "2" || !strings.Contains(resp.Header.Get("X-Tiergate-Route"), "fallback") {
					t.Errorf("stream=%v headers: %v", stream, resp.Header)
				}
			}
			if tt.fault.Status == 429 && chatPaths(f.saas.Requests()) != 1 {
				t.Errorf("a backend that said Retry-After: 30 got %d requests", chatPaths(f.saas.Requests()))
			}
		})
	}
}

// TestNoRetryAfterBytes: once chunks reached the client, a cut becomes
// an error event, never a silent retry on another backend.
func TestNoRetryAfterBytes(t *testing.T) {
	f := startFleet(t, 5*time.Second)
	f.saas.SetOptions(openaiemu.Options{APIKey: "k1", Fault: openaiemu.Fault{CutAfter: 2}})
	resp, out := chatReq(t, f.url, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(out, `data: {"error":`) || strings.Contains(out, "[DONE]") {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if n := chatPaths(f.groq.Requests()); n != 0 {
		t.Fatalf("the stream was retried on another backend after bytes were sent (%d)", n)
	}
}

func TestExplain(t *testing.T) {
	f := startFleet(t, 5*time.Second)
	req, _ := http.NewRequest("POST", f.url+"/v1/route/explain", strings.NewReader(`{"model":"auto:private","messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Profile    string
		Chosen     string
		Candidates []struct {
			Model      string
			Eligible   bool
			ExcludedBy string `json:"excluded_by"`
			Why        string
			Components map[string]float64
		}
	}
	json.NewDecoder(resp.Body).Decode(&d)
	if d.Profile != "private" || d.Chosen != "llama-local" || len(d.Candidates) != 4 {
		t.Fatalf("explain = %+v", d)
	}
	for _, c := range d.Candidates {
		switch c.Model {
		case "gpt-4o":
			if c.Eligible || c.ExcludedBy != "openness" || !strings.Contains(c.Why, "proprietary") {
				t.Errorf("gpt-4o: %+v", c)
			}
		case "groq-llama":
			if c.Eligible || c.ExcludedBy != "deployment" {
				t.Errorf("groq-llama: %+v", c)
			}
		case "llama-local":
			if !c.Eligible || c.Components["prefer"] != 1 {
				t.Errorf("llama-local: %+v", c)
			}
		}
	}
	if n := chatPaths(f.saas.Requests()) + chatPaths(f.selfhosted.Requests()); n != 0 {
		t.Fatal("explain called a backend")
	}
	// A bad route object is a 400 listing the valid fields.
	resp2, body := chatReq(t, f.url, `{"model":"auto","route":{"fastest":true},"messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp2.StatusCode != 400 || !strings.Contains(body, "valid fields") {
		t.Fatalf("%d %s", resp2.StatusCode, body)
	}
	// A route object is removed before the request goes upstream.
	chatReq(t, f.url, `{"model":"gpt-4o","route":{"sort":"price"},"messages":[{"role":"user","content":"hi"}]}`, nil)
	reqs := f.saas.Requests()
	if last := string(reqs[len(reqs)-1].Body); strings.Contains(last, "route") {
		t.Fatalf("route reached the upstream: %s", last)
	}
}
