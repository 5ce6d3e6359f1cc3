package gemini

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// statusRecorder is a transport that remembers the statuses the upstream
// answered with.
type statusRecorder struct {
	base     http.RoundTripper
	mu       sync.Mutex
	statuses []int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.statuses = append(s.statuses, resp.StatusCode)
		s.mu.Unlock()
	}
	return resp, err
}

func (s *statusRecorder) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.statuses
	s.statuses = nil
	return out
}

func addRequestSeeds(f *testing.F) {
	golden.Seed(f, "requests", ".json")
	for _, s := range []string{
		hiBody,
		`{"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`,
		`{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"a","content":"1"}]}`,
		`{"messages":[{"role":"user","content":"x"},{"role":"assistant","function_call":{"name":"f","arguments":"{}"}},{"role":"function","name":"f","content":"{\"a\":1}"}],"functions":[{"name":"f"}]}`,
		`{"messages":[{"role":"developer","content":"d"},{"role":"user","content":"u"},{"role":"system","content":"s"}],"n":8,"stop":["a","b","c","d","e"]}`,
		`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"f"}}]}}}`,
		`{"messages":[{"role":"assistant","content":"first"},{"role":"user","content":"second"}]}`,
		`{"messages":null}`, `[]`, `null`, `{"messages":[{"role":"user","content":{}}]}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzTranslate: any body either gives a request the (validating)
// emulator accepts, or a 400 from the adapter with nothing sent upstream.
// It never panics.
func FuzzTranslate(f *testing.F) {
	addRequestSeeds(f)
	emu := geminiemu.New(geminiemu.Options{APIKey: testKey})
	defer emu.Close()
	rec := &statusRecorder{base: &http.Transport{}}
	defer rec.base.(*http.Transport).CloseIdleConnections()
	p, err := New(providers.Options{BaseURL: emu.URL, APIKey: testKey, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: body}, nil)
		statuses := rec.take()
		if err != nil {
			pe, ok := err.(*providers.Error)
			if !ok {
				t.Fatalf("error %T is not a *providers.Error: %v", err, err)
			}
			if len(statuses) > 0 {
				t.Fatalf("the translated request was refused upstream (%v): %s\nbody: %s", statuses, pe.Message, body)
			}
			if pe.Status != 400 || pe.Type != providers.TypeInvalidRequest {
				t.Fatalf("translation error is %d %s, want 400: %s", pe.Status, pe.Type, pe.Message)
			}
			return
		}
		if len(statuses) != 1 || statuses[0] != 200 {
			t.Fatalf("upstream statuses %v", statuses)
		}
		if c := conformance.ParseCompletion(t, res.Body); len(c.Choices) == 0 {
			t.Fatalf("bad completion %s: no choices", res.Body)
		}
	})
}

// FuzzResponse: whatever a (possibly broken) upstream sends, unary or as
// SSE, the adapter returns valid OpenAI JSON or a *providers.Error, and
// never panics.
func FuzzResponse(f *testing.F) {
	for _, name := range []string{"unary_text.json", "function_call.json", "prompt_blocked.json", "stream_text.json", "stream_midstream_error.json"} {
		fx := loadFixture(f, name)
		if fx.Transcript != "" {
			f.Add([]byte(fx.Transcript), true)
		} else {
			f.Add([]byte(fx.Body), false)
		}
	}
	f.Add([]byte(`{"candidates":[{"index":3,"content":{"parts":[{"functionCall":{"name":"f","args":{"a":[1,{"b":null}]}},"thoughtSignature":"AAEC"},{"text":"t","thought":true}]},"finishReason":"MAX_TOKENS"},{"index":1}],"usageMetadata":{"promptTokenCount":-5}}`), false)
	f.Add([]byte("data: {\"candidates\":[{\"index\":1,\"content\":{\"parts\":[{\"text\":\"a\"}]}},{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"g\"}}]},\"finishReason\":\"STOP\"}]}\n\n"), true)
	up := newReplay(f, 200, "application/json", nil)
	p := newProvider(f, up.URL)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		ct := "application/json"
		if stream {
			ct = "text/event-stream"
		}
		up.set(200, http.Header{"Content-Type": {ct}}, body)
		sink := &conformance.Collect{}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := p.Chat(ctx, &providers.ChatRequest{Model: testModel, Body: []byte(hiBody), Stream: stream, IncludeUsage: true}, sink)
		if ctx.Err() != nil {
			t.Fatalf("Chat hung on %q", body)
		}
		for _, c := range sink.All() {
			if !json.Valid(c) {
				t.Fatalf("invalid chunk %q", c)
			}
		}
		if err != nil {
			if _, ok := err.(*providers.Error); !ok {
				t.Fatalf("error %T is not a *providers.Error: %v", err, err)
			}
			return
		}
		if !stream && !json.Valid(res.Body) {
			t.Fatalf("invalid body %q", res.Body)
		}
		if res.FinishReason == "" {
			t.Fatal("a successful response without a finish reason")
		}
	})
}
