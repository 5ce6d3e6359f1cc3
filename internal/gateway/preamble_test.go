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
