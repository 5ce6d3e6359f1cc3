package openai

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestScanChunk(t *testing.T) {
	tests := []struct {
		chunk   string
		content bool
		finish  string
		usage   bool
		err     bool
	}{
		{`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, false, "", false, false},
		{`{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`, true, "", false, false},
		{`{"choices":[{"index":0,"delta":{"content" : "Hi"}}]}`, true, "", false, false},
		{`{"choices":[{"index":0,"delta":{"content":"say \"content\":\"x\" and \"usage\":{"}}]}`, true, "", false, false},
		{`{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}`, true, "", false, false},
		{`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\""}}]}}]}`, true, "", false, false},
		{`{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}`, false, "", false, false},
		{`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`, false, "tool_calls", false, false},
		{`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`, false, "", true, false},
		{`{"choices":[{"delta":{"content":"x"}}],"usage":null}`, true, "", false, false},
		{`{"error":{"message":"boom","type":"server_error"}}`, false, "", false, true},
	}
	for _, tt := range tests {
		f := scanChunk([]byte(tt.chunk))
		if f.content != tt.content || string(f.finish) != tt.finish || f.usage != tt.usage || f.errorObj != tt.err {
			t.Errorf("%s: got %+v", tt.chunk, f)
		}
	}
}

// FuzzScanChunk checks the byte-level scan against a real decode: any
// chunk the decoder sees content in, the scan must see too.
func FuzzScanChunk(f *testing.F) {
	f.Add([]byte(`{"choices":[{"delta":{"content":"Hi"}}]}`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"a\"b"},"finish_reason":"stop"}],"usage":{"total_tokens":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Servers write keys in lower case, once, unescaped; encoding/json
		// would also accept other spellings, which the scan need not.
		if bytes.Count(b, []byte(`"content"`)) != 1 || bytes.Count(b, []byte(`"choices"`)) != 1 || bytes.Contains(b, []byte(`\u`)) {
			return
		}
		fs := scanChunk(b)
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal(b, &c) != nil || len(c.Choices) != 1 {
			return
		}
		if c.Choices[0].Delta.Content != "" && !fs.content {
			t.Fatalf("content missed in %s", b)
		}
	})
}
