package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/router"
)

func TestPreambleOnly(t *testing.T) {
	for _, tc := range []struct {
		chunk string
		held  bool
	}{
		{`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`, true},
		{`{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}],"usage":null}`, true},
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`, false},
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`, false},
		{`{"choices":[{"index":0,"delta":{"reasoning_content":"thinking"},"finish_reason":null}]}`, false},
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}`, false},
		{`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, false},
		{`{"error":{"message":"boom"}}`, false},
		{`not json`, false},
	} {
		if got := preambleOnly([]byte(tc.chunk)); got != tc.held {
			t.Errorf("preambleOnly(%s) = %v, want %v", tc.chunk, got, tc.held)
		}
	}
}

// TestSinkHoldsPreamble: nothing reaches the client until the first
// content, then the preamble goes first; a stream that ends with only a
// preamble still sends it before [DONE].
func TestSinkHoldsPreamble(t *testing.T) {
	role := []byte(`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
	content := []byte(`{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`)
	cand := router.Candidate{Model: &catalog.Model{ID: "m", Provider: "p"}}
	w := httptest.NewRecorder()
	k := &sseSink{w: w, dec: &router.Decision{}, cand: cand, attempt: 1}
	if err := k.Chunk(role); err != nil || k.started || w.Body.Len() != 0 {
		t.Fatalf("the preamble was sent: started=%v body=%q err=%v", k.started, w.Body.String(), err)
	}
	k.Chunk(content)
	k.done()
	want := "data: " + string(role) + "\n\ndata: " + string(content) + "\n\ndata: [DONE]\n\n"
	if w.Body.String() != want || w.Code != 200 {
		t.Fatalf("got %d %q, want %q", w.Code, w.Body.String(), want)
	}
	w = httptest.NewRecorder()
	k = &sseSink{w: w, dec: &router.Decision{}, cand: cand, attempt: 1}
	k.Chunk(role)
	k.done()
	if got := w.Body.String(); got != "data: "+string(role)+"\n\ndata: [DONE]\n\n" {
		t.Fatalf("preamble-only stream: %q", got)
	}
	if strings.Count(w.Body.String(), "assistant") != 1 {
		t.Fatal("the preamble was sent twice")
	}
}

// TestRawPreamble: of a passed-through Anthropic stream, the events
// before the first content are held back (so a stream that dies there
// can fall back), then sent first, unchanged.
func TestRawPreamble(t *testing.T) {
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }
	start := ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}`)
	text := ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	ping := ev("ping", `{"type": "ping"}`)
	delta := ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`)
	for _, tc := range []struct {
		event string
		held  bool
	}{
		{start, true}, {text, true}, {ping, true},
		{ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`), true},
		{ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}`), false},
		{ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}`), false},
		{delta, false},
		{ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}`), false},
		{ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), false},
		{"data: {}\n\n", false},
	} {
		if got := rawPreamble([]byte(tc.event)); got != tc.held {
			t.Errorf("rawPreamble(%q) = %v, want %v", tc.event, got, tc.held)
		}
	}
	cand := router.Candidate{Model: &catalog.Model{ID: "m", Provider: "p"}}
	w := httptest.NewRecorder()
	k := &sseSink{w: w, dec: &router.Decision{}, api: tagAPI{}}
	k.begin(cand, 1, true)
	for _, e := range []string{start, text, ping} {
		if k.Chunk([]byte(e)); k.started || w.Body.Len() != 0 {
			t.Fatalf("%q reached the client before any content", e)
		}
	}
	k.Chunk([]byte(delta))
	k.done()
	if got, want := w.Body.String(), start+text+ping+delta; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A new attempt starts with nothing held.
	k.begin(cand, 2, true)
	if k.held != nil {
		t.Fatal("a held preamble outlived its attempt")
	}
}
