package gateway

import (
	"bytes"
	"encoding/json"
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
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]`, false},
		{` {"Choices":[{"Delta":{"role":"assistant","content":null},"FINISH_REASON":""}],"USAGE":null} `, true},
		{`{"choices":[null]}`, true},
		{`{"choices":[{}]}`, true},
		{`{"choices":[{"delta":null}]}`, true},
		{`{"choices":null}`, false},
		{`{"choices":{}}`, false},
		{`{"choices":[1]}`, false},
		{`{"choices":[{"delta":"x"}]}`, false},
		{`{"choices":[{"delta":{"Content":"Hi"}}]}`, false},
		{`{"choices":[{"delta":{}},{"delta":{"content":"Hi"}}]}`, false},
		{`{"choices":[{"delta":{}}],"usage":{}}`, false},
		{`{"choices":[{"delta":{"role":"assistant"},"finish_reason":"length"}]}`, false},
		{`null`, false},
		{`[{"choices":[{}]}]`, false},
	} {
		if got := preambleOnly([]byte(tc.chunk)); got != tc.held {
			t.Errorf("preambleOnly(%s) = %v, want %v", tc.chunk, got, tc.held)
		}
		if got := refPreambleOnly([]byte(tc.chunk)); got != tc.held {
			t.Errorf("the reference holds %s: %v, want %v", tc.chunk, got, tc.held)
		}
	}
}

// FuzzPreambleOnly: the byte scan holds a chunk back only when the
// decoding it replaced (refPreambleOnly) would; it may send a chunk the
// reference held only when a member name has an escape or a member is
// given twice.
func FuzzPreambleOnly(f *testing.F) {
	for _, s := range []string{
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`,
		`{"choices":[{"delta":{"content":"Hi"}}]}`, `{"choices":[null,{}],"usage":null}`, `{"choices":[{"delta":{"role":"x","a":""}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := preambleOnly(data), refPreambleOnly(data)
		if got && !want {
			t.Fatalf("%q held, the reference sends it", data)
		}
		if want && !got && !bytes.Contains(data, []byte(`\`)) && !duplicateMember(data) {
			t.Fatalf("%q sent, the reference holds it", data)
		}
	})
}

// refPreambleOnly is the decoding preambleOnly replaced.
func refPreambleOnly(data []byte) bool {
	var c struct {
		Choices []struct {
			Delta        map[string]json.RawMessage `json:"delta"`
			FinishReason json.RawMessage            `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(data, &c) != nil || len(c.Choices) == 0 || !empty(c.Usage) {
		return false
	}
	for _, ch := range c.Choices {
		if !empty(ch.FinishReason) {
			return false
		}
		for k, v := range ch.Delta {
			if k != "role" && !empty(v) {
				return false
			}
		}
	}
	return true
}

// duplicateMember reports whether some object in data names a member
// twice (folding case, as encoding/json matches fields).
func duplicateMember(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type obj struct {
		keys  map[string]bool
		inObj bool
		key   bool // the next string token is a key
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *obj
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.inObj && top.key
		if top != nil && top.inObj {
			top.key = !top.key
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &obj{keys: map[string]bool{}, inObj: true, key: true})
			case '[':
				stack = append(stack, &obj{})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].inObj {
					stack[len(stack)-1].key = true
				}
			}
		case string:
			if isKey {
				k := strings.ToLower(strings.ToUpper(v))
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
			}
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
