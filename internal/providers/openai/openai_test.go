package openai

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "sk-proj-abcdefghijklmnop1234"

func newP(t *testing.T, url string) *Provider {
	p, err := New(providers.Options{Name: "openai", BaseURL: url, APIKey: key, KeyEnv: "OPENAI_API_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.hc.CloseIdleConnections)
	return p
}

func chat(stream, usage bool) *providers.ChatRequest {
	body := `{"model":"x","messages":[{"role":"user","content":"hi"}]` + map[bool]string{true: `,"stream":true`, false: ``}[stream] + `}`
	return &providers.ChatRequest{Model: "gpt-4o", Body: []byte(body), Stream: stream, IncludeUsage: usage}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		fault      openaiemu.Fault
		apiKey     string
		status     int
		retryable  bool
		retryAfter time.Duration
		msg        string
	}{
		{"bad request", openaiemu.Fault{Status: 400, Message: "Invalid 'messages'"}, "", 400, false, 0, "Invalid 'messages'"},
		{"wrong key", openaiemu.Fault{}, "sk-other-key-00000000", 401, false, 0, "check OPENAI_API_KEY"},
		{"rate limit", openaiemu.Fault{Status: 429, Message: "slow down", RetryAfter: "3"}, "", 429, true, 3 * time.Second, "slow down"},
		{"server error", openaiemu.Fault{Status: 500, Message: "oops"}, "", 502, true, 0, "openai answered 500: oops"},
		{"unavailable", openaiemu.Fault{Status: 503}, "", 503, true, 0, "openai"},
		{"reset", openaiemu.Fault{Reset: true}, "", 502, true, 0, "cannot reach openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ek := key
			if tt.apiKey != "" {
				ek = tt.apiKey
			}
			emu := openaiemu.New(openaiemu.Options{APIKey: ek, Fault: tt.fault})
			defer emu.Close()
			_, err := newP(t, emu.URL).Chat(context.Background(), chat(false, false), nil)
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if pe.Status != tt.status || pe.Retryable != tt.retryable || pe.RetryAfter != tt.retryAfter {
				t.Fatalf("got status %d retryable %v retry-after %v, want %d %v %v", pe.Status, pe.Retryable, pe.RetryAfter, tt.status, tt.retryable, tt.retryAfter)
			}
			if !strings.Contains(pe.Message, tt.msg) {
				t.Errorf("message %q lacks %q", pe.Message, tt.msg)
			}
			if strings.Contains(pe.Message, key[8:]) || strings.Contains(pe.Message, ek[len(ek)-4:]) {
				t.Errorf("key leaked: %q", pe.Message)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	got := redact("Incorrect API key provided: sk-proj-********abcd. You can find your API key at https://x.")
	if strings.Contains(got, "sk-proj") || !strings.Contains(got, "[redacted]") {
		t.Fatalf("redact = %q", got)
	}
}

func TestStreamUsageAndTiming(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key, TTFT: 20 * time.Millisecond, Reply: "a b c"})
	defer emu.Close()
	p := newP(t, emu.URL)
	for _, want := range []bool{false, true} {
		var c conformance.Collect
		res, err := p.Chat(context.Background(), chat(true, want), &c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Usage == nil || res.Usage.CompletionTokens != 3 {
			t.Fatalf("usage = %+v: the adapter must always obtain usage", res.Usage)
		}
		all := c.All()
		last := string(all[len(all)-1])
		if got := strings.Contains(last, `"choices":[]`); got != want {
			t.Fatalf("include_usage=%v but usage chunk forwarded=%v: %s", want, got, last)
		}
		if res.FinishReason != "stop" || res.Timing.Chunks != 3 {
			t.Fatalf("finish %q chunks %d", res.FinishReason, res.Timing.Chunks)
		}
		if ttft := res.Timing.FirstToken.Sub(res.Timing.Start); ttft < 20*time.Millisecond {
			t.Fatalf("first token after %v, before the emulator's 20ms", ttft)
		}
	}
}

func TestGroqTimings(t *testing.T) {
	// Groq reports its own timings in the usage object.
	g := groqUsage{QueueTime: 0.01, PromptTime: 0.002, CompletionTime: 0.05, TotalTime: 0.062}
	tm := g.timings()
	if tm["total_time"] != 62*time.Millisecond || tm["queue_time"] != 10*time.Millisecond {
		t.Fatalf("timings = %v", tm)
	}
}

func TestModelsAndHealth(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key, Models: []string{"a", "b"}})
	defer emu.Close()
	p := newP(t, emu.URL)
	ms, err := p.Models(context.Background())
	if err != nil || strings.Join(ms, ",") != "a,b" {
		t.Fatalf("models = %v, %v", ms, err)
	}
	if err := p.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := openaiemu.New(openaiemu.Options{APIKey: "other"})
	defer bad.Close()
	if err := newP(t, bad.URL).Health(context.Background()); err == nil {
		t.Fatal("health passed with a wrong key")
	}
}

// TestStreamKeepsConnection: after a stream's [DONE] the adapter reads the
// body to its end, so that the next request reuses the connection instead
// of dialling a new one; and an upstream that holds the body open after
// [DONE] is cut after providers.DrainWait, not waited for.
func TestStreamKeepsConnection(t *testing.T) {
	var conns atomic.Int64
	var hold atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{`{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`,
			`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, "[DONE]"} {
			io.WriteString(w, "data: "+ev+"\n\n")
			w.(http.Flusher).Flush()
		}
		// The body's end comes a moment after [DONE], as it does over a
		// network; or, held, not at all for a while.
		wait := 2 * time.Millisecond
		if hold.Load() {
			wait = 5 * time.Second
		}
		select {
		case <-r.Context().Done():
		case <-time.After(wait):
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := newP(t, srv.URL)
	for range 20 {
		var c conformance.Collect
		if _, err := p.Chat(context.Background(), chat(true, false), &c); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 streams in a row opened %d connections, want 1", n)
	}
	hold.Store(true)
	t0 := time.Now()
	var c conformance.Collect
	if _, err := p.Chat(context.Background(), chat(true, false), &c); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("an upstream holding the body open after [DONE] held the answer %v", d)
	}
}
