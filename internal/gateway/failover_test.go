package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// startGateway runs a gateway over cfg (with its router, profiles and
// tiers) the way the other tests here build one; the one place to
// change when gateways are built another way.
func startGateway(t *testing.T, cfg *config.Config, getenv func(string) string) string {
	t.Helper()
	return apptest.Start(t, cfg, app.Options{Getenv: getenv}).URL
}

// floor is the adaptive first-byte deadline's floor in the fault tests;
// every time bound is a multiple of it.
const floor = 400 * time.Millisecond

// faultKind is one row of the fault matrix.
type faultKind struct {
	name string
	// fault for the emulator (Models is filled in per cell); refused
	// closes the failing provider's server instead.
	fault   emu.Fault
	refused bool
	// midStream faults strike after content: a stream ends with an
	// error event. Stream-only faults (these and a drop after the
	// preamble) do not exist for unary calls (n/a).
	midStream, streamOnly bool
}

var faultKinds = []faultKind{
	{name: "429 Retry-After", fault: emu.Fault{Status: 429, RetryAfter: "2", Message: "rate limited"}},
	{name: "500", fault: emu.Fault{Status: 500, Message: "boom"}},
	{name: "503", fault: emu.Fault{Status: 503, Message: "overloaded"}},
	{name: "reset before headers", fault: emu.Fault{Reset: true}},
	{name: "connection refused", refused: true},
	{name: "hang", fault: emu.Fault{Hang: true}},
	{name: "drop after preamble", fault: emu.Fault{CutAtStart: true}, streamOnly: true},
	{name: "drop mid-stream", fault: emu.Fault{CutAfter: 2}, midStream: true, streamOnly: true},
	{name: "in-stream error", fault: emu.Fault{ErrorAfter: 2}, midStream: true, streamOnly: true},
}

// failing is a provider of one adapter type with two models, each
// emulated, whose faults can be set.
type failing struct {
	typ       string
	upstreams [2]string
	url       string
	setFault  func(emu.Fault)
	requests  func() []emu.Request
	close     func()
}

const failKey = "k-failing-0123456789"

func newFailing(t *testing.T, typ string) *failing {
	switch typ {
	case "openai":
		s := openaiemu.New(openaiemu.Options{APIKey: failKey})
		return &failing{typ: typ, upstreams: [2]string{"m-a", "m-b"}, url: s.URL, close: s.Close, requests: s.Requests,
			setFault: func(f emu.Fault) { s.SetOptions(openaiemu.Options{APIKey: failKey, Fault: f}) }}
	case "anthropic":
		s := anthropicemu.New(anthropicemu.Options{APIKey: failKey})
		return &failing{typ: typ, upstreams: [2]string{"claude-sonnet-4-6", "claude-haiku-4-5"}, url: s.URL, close: s.Close, requests: s.Requests,
			setFault: func(f emu.Fault) { s.SetOptions(anthropicemu.Options{APIKey: failKey, Fault: f}) }}
	case "gemini":
		s := geminiemu.New(geminiemu.Options{APIKey: failKey})
		return &failing{typ: typ, upstreams: [2]string{"gemini-2.5-flash", "gemini-2.5-pro"}, url: s.URL, close: s.Close, requests: s.Requests,
			setFault: func(f emu.Fault) {
				s.SetOptions(geminiemu.Options{APIKey: failKey, Fault: geminiemu.Fault{Status: f.Status, Message: f.Message, RetryAfter: f.RetryAfter,
					Hang: f.Hang, Reset: f.Reset, CutAfter: f.CutAfter, ErrorAfter: f.ErrorAfter, CutAtStart: f.CutAtStart, Models: f.Models}})
			}}
	case "ollama":
		models := []string{"llama3:8b", "mistral:7b"}
		s := ollamaemu.New(ollamaemu.Options{Models: models})
		return &failing{typ: typ, upstreams: [2]string{models[0], models[1]}, url: s.URL, close: s.Close, requests: s.Requests,
			setFault: func(f emu.Fault) { s.SetOptions(ollamaemu.Options{Models: models, Fault: f}) }}
	}
	t.Fatalf("no emulator for %s", typ)
	return nil
}

// faultFleet is a gateway over a failing provider ("bad": models bad-a,
// bad-b) and a healthy OpenAI-compatible one ("good": model good),
// preferred in that order.
func faultFleet(t *testing.T, typ string) (*failing, string) {
	t.Helper()
	return faultFleetFailover(t, typ, 50*floor)
}

// faultFleetFailover is faultFleet with router.failover_timeout set.
func faultFleetFailover(t *testing.T, typ string, failover time.Duration) (*failing, string) {
	t.Helper()
	bad := newFailing(t, typ)
	good := openaiemu.New(openaiemu.Options{APIKey: "k-good"})
	t.Cleanup(func() { bad.close(); good.Close() })
	deployment, keyLine := "saas", "api_key_env: KB"
	if typ == "ollama" {
		// An Ollama on a server: a local one waits ttft_timeout for its
		// first byte (a model load is not a hang), so the matrix's
		// time bounds would not hold for it.
		deployment, keyLine = "self-hosted", "deployment: self-hosted"
	}
	// Two attempts: only an order that takes the other provider's best
	// before the failing provider's second model reaches it.
	yaml := `router:
  max_attempts: 2
  ttft_timeout: 10s
  ttft_floor: ` + floor.String() + `
  unary_floor: ` + floor.String() + `
  ttft_multiple: 1
  failover_timeout: ` + failover.String() + `
  breaker: {window: 30s, min_requests: 50, error_ratio: 0.9, open_for: 30s}
profiles:
  auto: {prefer: [bad-a, bad-b, good], weights: {prefer: 1}}
providers:
  bad: {type: ` + typ + `, base_url: "` + bad.url + `", ` + keyLine + `}
  good: {type: openai, base_url: "` + good.URL + `", api_key_env: KG}
models:
  - {id: bad-a, provider: bad, upstream: "` + bad.upstreams[0] + `", openness: proprietary, deployment: ` + deployment + `, tasks: [chat, tools], quality: 80, tier_prior: ultra-fast}
  - {id: bad-b, provider: bad, upstream: "` + bad.upstreams[1] + `", openness: proprietary, deployment: ` + deployment + `, tasks: [chat, tools], quality: 80, tier_prior: ultra-fast}
  - {id: good, provider: good, upstream: gpt-good, openness: proprietary, deployment: saas, tasks: [chat], quality: 80, tier_prior: ultra-fast}
`
	getenv := func(k string) string { return map[string]string{"KB": failKey, "KG": "k-good"}[k] }
	cfg, err := config.Load("faults", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	return bad, startGateway(t, cfg, getenv)
}

// answer is what a client got.
type answer struct {
	status   int
	model    string // X-Tiergate-Model
	content  string
	roles    int  // stream chunks that carry a role
	done     bool // the stream ended with [DONE]
	errEvent bool // the stream carried an error event
	body     string
	elapsed  time.Duration
}

func ask(t *testing.T, url, body string, stream bool) answer {
	t.Helper()
	if stream {
		body = strings.Replace(body, `{`, `{"stream":true,`, 1)
	}
	start := time.Now()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, model: resp.Header.Get("X-Tiergate-Model")}
	if !stream || resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		a.elapsed, a.body = time.Since(start), string(b)
		var c struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if json.Unmarshal(b, &c) == nil && len(c.Choices) > 0 {
			a.content = c.Choices[0].Message.Content
		}
		return a
	}
	sc := bufio.NewScanner(resp.Body)
	var all strings.Builder
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			a.done = true
			continue
		}
		var c struct {
			Error   json.RawMessage `json:"error"`
			Choices []struct {
				Delta struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		json.Unmarshal([]byte(data), &c)
		if len(c.Error) > 0 {
			a.errEvent = true
		}
		for _, ch := range c.Choices {
			if ch.Delta.Role != "" {
				a.roles++
			}
			a.content += ch.Delta.Content
		}
	}
	a.elapsed, a.body = time.Since(start), all.String()
	return a
}

// TestFaultMatrix: every fault on every adapter type, for unary calls
// and streams, with a second model of the same provider or a healthy
// other provider to fall back to. A failure before content never
// reaches the client; one after content ends the stream with an error
// event; no request waits much past the first-byte deadline's floor.
func TestFaultMatrix(t *testing.T) {
	var mu sync.Mutex
	results := map[string]string{}
	for _, typ := range []string{"openai", "anthropic", "gemini", "ollama"} {
		for _, fk := range faultKinds {
			for _, stream := range []bool{false, true} {
				for _, fallback := range []string{"same provider", "other provider"} {
					mode := map[bool]string{false: "unary", true: "stream"}[stream]
					name := typ + "/" + fk.name + "/" + mode + "/" + fallback
					record := func(v string) { mu.Lock(); results[name] = v; mu.Unlock() }
					if fk.refused && fallback == "same provider" {
						record("n/a (a refused provider refuses every model)")
						continue
					}
					if fk.streamOnly && !stream {
						record("n/a (unary)")
						continue
					}
					t.Run(name, func(t *testing.T) {
						record("FAIL")
						bad, url := faultFleet(t, typ)
						f := fk.fault
						body := `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`
						if fallback == "same provider" {
							f.Models = []string{bad.upstreams[0]}
							body = `{"model":"auto","messages":[{"role":"user","content":"hi"}],"route":{"only":["bad"]}}`
						}
						if fk.refused {
							bad.close()
						} else {
							bad.setFault(f)
						}
						a := ask(t, url, body, stream)
						if a.elapsed > 4*floor {
							t.Errorf("answered after %v = %.1f × the floor, want under 4", a.elapsed, float64(a.elapsed)/float64(floor))
						}
						if fk.midStream {
							if a.status != 200 || !a.errEvent || a.done || a.model != "bad-a" || a.content == "" {
								t.Fatalf("a cut after content must end with an error event: %+v", a)
							}
						} else {
							want := "good"
							if fallback == "same provider" {
								want = "bad-b"
							}
							if a.status != 200 || a.model != want || a.content == "" {
								t.Fatalf("status %d from %q (want 200 from %s): %s", a.status, a.model, want, a.body)
							}
							if stream && (!a.done || a.errEvent || a.roles != 1) {
								t.Fatalf("stream: done=%v error=%v role chunks=%d (want one): %s", a.done, a.errEvent, a.roles, a.body)
							}
						}
						if strings.Contains(a.body, "127.0.0.1") {
							t.Errorf("an upstream address reached the client: %s", a.body)
						}
						if !t.Failed() {
							record(fmt.Sprintf("pass %.2f×floor", float64(a.elapsed)/float64(floor)))
						}
					})
				}
			}
		}
	}
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%-60s %s\n", n, results[n])
	}
	t.Logf("fault matrix (time as a multiple of the %v floor):\n%s", floor, b.String())
}

// TestFailoverDeadline: once a request has failed over for
// failover_timeout no further attempt starts, though candidates are left
// (the last would wait the whole ttft_timeout).
func TestFailoverDeadline(t *testing.T) {
	bad, url := faultFleetFailover(t, "openai", floor)
	bad.setFault(emu.Fault{Hang: true})
	a := ask(t, url, `{"model":"auto","messages":[{"role":"user","content":"hi"}],"route":{"only":["bad"]}}`, false)
	if a.status != 504 || a.elapsed > 3*floor {
		t.Fatalf("status %d after %v (%.2f × the floor), want 504 within 3: %s", a.status, a.elapsed, float64(a.elapsed)/float64(floor), a.body)
	}
	if n := chatPaths(bad.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}
