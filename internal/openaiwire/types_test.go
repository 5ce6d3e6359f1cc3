package openaiwire

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNilMeaning pins the settled meaning of nil on the wire: fields OpenAI
// always writes come out as null, the others are left out.
func TestNilMeaning(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"completion", ChatCompletion{ID: "c", Object: ObjectCompletion, Model: "m",
			Choices: []Choice{{Message: ResponseMessage{Role: "assistant"}}}},
			`{"id":"c","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null}]}`},
		{"chunk", ChatCompletionChunk{ID: "c", Object: ObjectChunk, Model: "m", Choices: []ChunkChoice{{Delta: Delta{Content: Ptr("<b>&</b>")}}}},
			`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"<b>&</b>"},"logprobs":null,"finish_reason":null}]}`},
		{"usage chunk", ChatCompletionChunk{ID: "c", Object: ObjectChunk, Model: "m", Choices: []ChunkChoice{}, Usage: &Usage{PromptTokens: 1, TotalTokens: 1}},
			`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`},
		{"tool call delta", Delta{ToolCalls: []ToolCall{{Index: Ptr(0), Function: FunctionCall{Arguments: `{"a"`}}}},
			`{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}`},
		{"error", NewError("bad", "invalid_request_error", "", ""),
			`{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`},
		{"error with code", NewError("bad", "invalid_request_error", "n", "unsupported"),
			`{"error":{"message":"bad","type":"invalid_request_error","param":"n","code":"unsupported"}}`},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.v)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tt.name, got, err, tt.want)
		}
	}
}

func TestChatRequestKeepsAbsentApartFromZero(t *testing.T) {
	var r ChatRequest
	if err := json.Unmarshal([]byte(`{"model":"m","messages":[],"temperature":0,"stop":"x","seed":null}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Temperature == nil || *r.Temperature != 0 || r.TopP != nil || !IsNull(r.Seed) || IsNull(r.Stop) {
		t.Errorf("temperature %v top_p %v seed %s stop %s", r.Temperature, r.TopP, r.Seed, r.Stop)
	}
	if s, ok := r.StopList(); !ok || len(s) != 1 || s[0] != "x" {
		t.Errorf("StopList = %v %v", s, ok)
	}
	r.Stop = json.RawMessage(`5`)
	if _, ok := r.StopList(); ok {
		t.Error("a number is not a stop list")
	}
	r.MaxTokens = Ptr[int64](7)
	if n, name := r.MaxOutput(); *n != 7 || name != "max_tokens" {
		t.Errorf("MaxOutput = %d %s", *n, name)
	}
}

func TestParseContent(t *testing.T) {
	for _, tt := range []struct {
		raw   string
		text  string
		parts int
		ok    bool
	}{
		{`"hi"`, "hi", 0, true},
		{`null`, "", 0, true},
		{``, "", 0, true},
		{`[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}}]`, "", 2, true},
		{`5`, "", 0, false},
		{`{"type":"text"}`, "", 0, false},
	} {
		text, parts, ok := ParseContent(json.RawMessage(tt.raw))
		got := ""
		if text != nil {
			got = *text
		}
		if ok != tt.ok || got != tt.text || len(parts) != tt.parts {
			t.Errorf("ParseContent(%s) = %q %d %v", tt.raw, got, len(parts), ok)
		}
	}
}

func TestErrorObjectCode(t *testing.T) {
	for raw, want := range map[string]string{`"rate_limit"`: "rate_limit", `429`: "429", `null`: "", ``: ""} {
		o := ErrorObject{Code: json.RawMessage(raw)}
		if got := o.CodeString(); got != want {
			t.Errorf("CodeString(%s) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzRedactor(f *testing.F) {
	f.Add("sk-proj-abc123456789", "error: key=sk-proj-abc123456789.")
	f.Add("key/with+slash==", "x key%2Fwith%2Bslash%3D%3D y")
	f.Fuzz(func(t *testing.T, key, text string) {
		r := NewRedactor(key)
		out := r.String(text + key + text)
		if len(key) >= minSecret && strings.Contains(out, key) {
			t.Fatalf("the key survived: %q", out)
		}
		if !r.Active() && out != text+key+text {
			t.Fatalf("an inactive redactor changed the text")
		}
	})
}
