package gateway_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// groqFleet is the default config with OpenAI, Groq (its three models)
// and Ollama emulated, the other providers off: the measured setup of
// issue 11. tune changes the routing settings before the gateway starts.
type groqFleet struct {
	openai, groq *openaiemu.Server
	ollama       *ollamaemu.Server
	url          string
}

func startGroqFleet(t *testing.T, tune func(*config.Router)) *groqFleet {
	t.Helper()
	f := &groqFleet{
		openai: openaiemu.New(openaiemu.Options{APIKey: "k-openai"}),
		groq:   openaiemu.New(openaiemu.Options{APIKey: "k-groq"}),
		ollama: ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b", "llama3:70b", "mistral:7b", "mixtral:8x7b", "phi3:mini"}}),
	}
	t.Cleanup(func() { f.openai.Close(); f.groq.Close(); f.ollama.Close() })
	e := map[string]string{"OPENAI_API_KEY": "k-openai", "OPENAI_BASE_URL": f.openai.URL, "GROQ_API_KEY": "k-groq", "GROQ_BASE_URL": f.groq.URL,
		"OLLAMA_HOST": f.ollama.URL, "HAYSTACK_BASE_URL": "http://127.0.0.1:1/v1"}
	getenv := func(k string) string { return e[k] }
	cfg, err := config.Load("default", configs.Default(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&cfg.Router)
	}
	f.url = startGateway(t, cfg, getenv)
	return f
}

func (f *groqFleet) groqFault(fault emu.Fault) {
	f.groq.SetOptions(openaiemu.Options{APIKey: "k-groq", Fault: fault})
}

const helloAuto = `{"model":"%s","messages":[{"role":"user","content":"hi"}]}`

func askProfile(t *testing.T, url, model string, stream bool) answer {
	return ask(t, url, strings.Replace(helloAuto, "%s", model, 1), stream)
}

// TestProviderDownFromFirstRequest: Groq failing in each way, OpenAI and
// Ollama healthy: no request fails, from the first on, under auto and
// auto:realtime (it used to fail the first 10: all attempts went to
// Groq's three models), and after a few failures Groq is not tried.
func TestProviderDownFromFirstRequest(t *testing.T) {
	faults := []struct {
		name    string
		fault   emu.Fault
		refused bool
	}{
		{name: "503", fault: emu.Fault{Status: 503, Message: "Service Unavailable"}},
		{name: "500", fault: emu.Fault{Status: 500, Message: "Internal Server Error"}},
		{name: "reset", fault: emu.Fault{Reset: true}},
		{name: "refused", refused: true},
	}
	for _, fc := range faults {
		for _, model := range []string{"auto", "auto:realtime"} {
			t.Run(fc.name+"/"+model, func(t *testing.T) {
				f := startGroqFleet(t, nil)
				if fc.refused {
					f.groq.Close()
				} else {
					f.groqFault(fc.fault)
				}
				for i := 0; i < 10; i++ {
					a := askProfile(t, f.url, model, i%2 == 1)
					if a.status != 200 || a.content == "" || strings.HasPrefix(a.model, "groq") {
						t.Fatalf("request %d: status %d from %q: %s", i+1, a.status, a.model, a.body)
					}
				}
				if n := chatPaths(f.groq.Requests()); !fc.refused && (n == 0 || n > 3) {
					t.Errorf("groq was tried %d times; want at least one try, and none after its provider breaker opened (3 failures in a row)", n)
				}
			})
		}
	}
}

// TestHangingProviderBounded: Groq accepts requests and never answers.
// Each request is answered within the adaptive deadline plus a little
// (it used to take 3 × ttft_timeout, then fail with 504).
func TestHangingProviderBounded(t *testing.T) {
	f := startGroqFleet(t, func(r *config.Router) {
		r.TTFTFloor, r.UnaryFloor, r.TTFTMultiple, r.TTFTTimeout = floor, floor, 1, 20*floor
	})
	f.groqFault(emu.Fault{Hang: true})
	var worst time.Duration
	for i := 0; i < 8; i++ {
		a := askProfile(t, f.url, "auto:realtime", i%2 == 1)
		if a.status != 200 || a.content == "" {
			t.Fatalf("request %d: status %d from %q: %s", i+1, a.status, a.model, a.body)
		}
		// The deadline is the floor (Groq's prior TTFT × 1 is below it).
		if a.elapsed > 3*floor {
			t.Errorf("request %d took %v = %.2f × the floor (deadline 1 × floor, ttft_timeout 20 ×)", i+1, a.elapsed, float64(a.elapsed)/float64(floor))
		}
		worst = max(worst, a.elapsed)
	}
	t.Logf("slowest answer with Groq hanging: %v = %.2f × the %v floor", worst, float64(worst)/float64(floor), floor)
}

// TestRateLimitedProviderNoFailures: all of Groq's models answer 429
// with Retry-After: 2. No request fails (it used to be one in four, when
// the three models' cool-downs ended together and all three were tried).
func TestRateLimitedProviderNoFailures(t *testing.T) {
	f := startGroqFleet(t, nil)
	f.groqFault(emu.Fault{Status: 429, RetryAfter: "2", Message: "Rate limit reached"})
	for i := 0; i < 12; i++ {
		a := askProfile(t, f.url, "auto:realtime", i%2 == 1)
		if a.status != 200 || a.content == "" {
			t.Fatalf("request %d: status %d from %q: %s", i+1, a.status, a.model, a.body)
		}
		time.Sleep(250 * time.Millisecond) // across the 2 s cool-downs' ends
	}
}

// TestPreambleFallsBack: a Groq stream (OpenAI adapter) that dies after
// its role-only first chunk falls back; the client sees one preamble.
func TestPreambleFallsBack(t *testing.T) {
	f := startGroqFleet(t, nil)
	f.groqFault(emu.Fault{CutAtStart: true})
	for i := 0; i < 4; i++ {
		a := askProfile(t, f.url, "auto:realtime", true)
		if a.status != 200 || !a.done || a.errEvent || a.roles != 1 || a.content == "" {
			t.Fatalf("request %d: status %d from %q, done=%v error=%v roles=%d: %s", i+1, a.status, a.model, a.done, a.errEvent, a.roles, a.body)
		}
	}
}

// TestAllCoolingSaysWhenToRetry: when every candidate is cooling down
// the 503 carries Retry-After (the soonest end) and X-Tiergate-Attempts;
// no error shows an upstream's address.
func TestAllCoolingSaysWhenToRetry(t *testing.T) {
	f := startGroqFleet(t, nil)
	f.groqFault(emu.Fault{Status: 429, RetryAfter: "30", Message: "Rate limit reached"})
	onlyGroq := `{"model":"auto","messages":[{"role":"user","content":"hi"}],"route":{"only":["groq"]}}`
	resp, body := post(t, f.url+"/v1/chat/completions", onlyGroq)
	if resp.StatusCode != 429 {
		t.Fatalf("first: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, f.url+"/v1/chat/completions", onlyGroq)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 503 || ra < 25 || ra > 30 || resp.Header.Get("X-Tiergate-Attempts") != "0" {
		t.Fatalf("all cooling: %d Retry-After %q attempts %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Tiergate-Attempts"), body)
	}
	f.groq.Close()
	g := startGroqFleet(t, nil)
	g.groq.Close() // refused
	resp, body = post(t, g.url+"/v1/chat/completions", onlyGroq)
	if resp.StatusCode != 502 || strings.Contains(string(body), "127.0.0.1") || resp.Header.Get("X-Tiergate-Attempts") == "" {
		t.Fatalf("refused: %d %s", resp.StatusCode, body)
	}
}
