package gemini

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// TestRequestGolden sends each OpenAI request in testdata/requests through
// the adapter to the emulator and compares the wire request the emulator
// received with testdata/wire. The emulator validates like the real API,
// so a passing case is also a request Gemini accepts.
func TestRequestGolden(t *testing.T) {
	golden.Each(t, "requests", ".json", func(t *testing.T, body []byte, stem string) {
		var head struct {
			Stream        bool `json:"stream"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			t.Fatal(err)
		}
		emu := newEmulator(t, geminiemu.Options{})
		p := newProvider(t, emu.URL)
		sink := &conformance.Collect{}
		_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: body,
			Stream: head.Stream, IncludeUsage: head.StreamOptions.IncludeUsage}, sink)
		if err != nil {
			t.Fatalf("Chat: %v", err)
		}
		r := conformance.OnlyRequest(t, emu.Requests())
		wantPath := "/v1beta/models/" + testModel + ":generateContent"
		if head.Stream {
			wantPath = "/v1beta/models/" + testModel + ":streamGenerateContent"
			if r.Query != "alt=sse" {
				t.Errorf("stream query = %q, want alt=sse", r.Query)
			}
		}
		if r.Path != wantPath {
			t.Errorf("path = %q, want %q", r.Path, wantPath)
		}
		if got := r.Header.Get("X-Goog-Api-Key"); got != testKey {
			t.Errorf("x-goog-api-key = %q, want the configured key", got)
		}
		if strings.Contains(r.Query, testKey) {
			t.Error("the key travelled in the URL")
		}
		conformance.GoldenJSON(t, filepath.Join("wire", filepath.Base(stem)+".json"), r.Body)
	})
}

// TestTranslateRejects covers requests Gemini cannot honour: each gets a
// 400 naming the parameter, and nothing is sent upstream.
func TestTranslateRejects(t *testing.T) {
	user := `"messages":[{"role":"user","content":"hi"}]`
	tool := `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	cases := []struct {
		name, body, param string
	}{
		{"logit bias", `{` + user + `,"logit_bias":{"50256":-100}}`, "logit_bias"},
		{"logprobs", `{` + user + `,"logprobs":true}`, "logprobs"},
		{"top logprobs", `{` + user + `,"top_logprobs":3}`, "top_logprobs"},
		{"audio output", `{` + user + `,"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}}`, "modalities"},
		{"audio", `{` + user + `,"audio":{"voice":"alloy","format":"wav"}}`, "audio"},
		{"prediction", `{` + user + `,"prediction":{"type":"content","content":"x"}}`, "prediction"},
		{"web search", `{` + user + `,"web_search_options":{}}`, "web_search_options"},
		{"verbosity", `{` + user + `,"verbosity":"low"}`, "verbosity"},
		{"n too large", `{` + user + `,"n":9}`, "n"},
		{"temperature", `{` + user + `,"temperature":2.5}`, "temperature"},
		{"top_p", `{` + user + `,"top_p":1.5}`, "top_p"},
		{"penalty", `{` + user + `,"presence_penalty":3}`, "presence_penalty"},
		{"max tokens zero", `{` + user + `,"max_tokens":0}`, "max_tokens"},
		{"seed too big", `{` + user + `,"seed":9999999999}`, "seed"},
		{"six stops", `{` + user + `,"stop":["a","b","c","d","e","f"]}`, "stop"},
		{"stop type", `{` + user + `,"stop":7}`, "stop"},
		{"temperature type", `{` + user + `,"temperature":"hot"}`, "temperature"},
		{"reasoning effort", `{` + user + `,"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{"response format", `{` + user + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{"schema not object", `{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":[1]}}}`, "response_format.json_schema.schema"},
		{"non-function tool", `{` + user + `,"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{"gemini-invalid name", `{` + user + `,"tools":[{"type":"function","function":{"name":"1st-tool"}}]}`, "tools[0].function.name"},
		{"duplicate tool", `{` + user + `,"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}`, "tools[1].function.name"},
		{"params not object", `{` + user + `,"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}`, "tools[0].function.parameters"},
		{"unknown named tool", `{` + user + `,` + tool + `,"tool_choice":{"type":"function","function":{"name":"g"}}}`, "tool_choice"},
		{"required without tools", `{` + user + `,"tool_choice":"required"}`, "tool_choice"},
		{"bad tool_choice", `{` + user + `,` + tool + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{"empty messages", `{"messages":[]}`, "messages"},
		{"system only", `{"messages":[{"role":"system","content":"x"}]}`, "messages"},
		{"unknown role", `{"messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"user","content":"x"}]}`, "messages[0].content[0].type"},
		{"bad data url", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,notbase64"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"file id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "messages[0].content[0].file.file_id"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, "messages[0].content[0].type"},
		{"tool without call", `{"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_1","content":"y"}]}`, "messages[1].tool_call_id"},
		{"unanswered call", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"y"}]}`, "messages[2]"},
		{"unanswered at end", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[2]"},
		{"arguments not object", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]},{"role":"tool","tool_call_id":"c1","content":"y"}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"call first", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"y"}]}`, "messages"},
		{"bad signature", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"%%%"}}}]},{"role":"tool","tool_call_id":"c1","content":"y"}]}`, "messages[1].tool_calls[0].extra_content.google.thought_signature"},
		{"not json", `{"messages":`, ""},
	}
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(tc.body)}, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			pe := conformance.AsError(t, err)
			if pe.Status != 400 || pe.Type != providers.TypeInvalidRequest || pe.Retryable {
				t.Errorf("got %d %s retryable=%v, want a non-retryable 400 invalid_request_error", pe.Status, pe.Type, pe.Retryable)
			}
			if pe.Param != tc.param {
				t.Errorf("param = %q, want %q (%s)", pe.Param, tc.param, pe.Message)
			}
			if pe.Message == "" {
				t.Error("empty message")
			}
		})
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d rejected requests reached the upstream", n)
	}
}

// TestParameterTable keeps the documented parameter table honest: every
// listed parameter is exercised, rejected ones get a 400 naming them, the
// others are accepted by the adapter and by the (validating) emulator.
func TestParameterTable(t *testing.T) {
	samples := map[string]string{
		"model":                 `"model":"gpt-4o"`,
		"messages":              `"messages":[{"role":"user","content":"hi"}]`,
		"stream":                `"stream":false`,
		"stream_options":        `"stream_options":{"include_usage":true}`,
		"max_tokens":            `"max_tokens":5`,
		"max_completion_tokens": `"max_completion_tokens":5`,
		"temperature":           `"temperature":0.2`,
		"top_p":                 `"top_p":0.3`,
		"top_k":                 `"top_k":3`,
		"n":                     `"n":3`,
		"stop":                  `"stop":["x"]`,
		"seed":                  `"seed":7`,
		"presence_penalty":      `"presence_penalty":0.1`,
		"frequency_penalty":     `"frequency_penalty":0.1`,
		"response_format":       `"response_format":{"type":"json_object"}`,
		"tools":                 `"tools":[{"type":"function","function":{"name":"f"}}]`,
		"tool_choice":           `"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"`,
		"parallel_tool_calls":   `"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false`,
		"functions":             `"functions":[{"name":"f","parameters":{"type":"object"}}]`,
		"function_call":         `"functions":[{"name":"f"}],"function_call":{"name":"f"}`,
		"reasoning_effort":      `"reasoning_effort":"medium"`,
		"logit_bias":            `"logit_bias":{"1":5}`,
		"logprobs":              `"logprobs":true`,
		"top_logprobs":          `"top_logprobs":2`,
		"modalities":            `"modalities":["audio"]`,
		"audio":                 `"audio":{"voice":"alloy"}`,
		"prediction":            `"prediction":{"type":"content","content":"x"}`,
		"web_search_options":    `"web_search_options":{"search_context_size":"low"}`,
		"verbosity":             `"verbosity":"high"`,
		"user":                  `"user":"u"`,
		"safety_identifier":     `"safety_identifier":"s"`,
		"prompt_cache_key":      `"prompt_cache_key":"k"`,
		"metadata":              `"metadata":{"a":"b"}`,
		"store":                 `"store":true`,
		"service_tier":          `"service_tier":"flex"`,
	}
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	seen := map[string]bool{}
	for _, param := range Parameters() {
		if seen[param.Name] {
			t.Errorf("%s listed twice", param.Name)
		}
		seen[param.Name] = true
		if param.Note == "" {
			t.Errorf("%s: no explanation", param.Name)
		}
		sample, ok := samples[param.Name]
		if !ok {
			t.Errorf("%s has no sample in this test", param.Name)
			continue
		}
		body := `{` + sample
		if !strings.Contains(sample, `"messages"`) {
			body += `,"messages":[{"role":"user","content":"hi"}]`
		}
		body += `}`
		_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(body)}, nil)
		switch param.Handling {
		case providers.Rejected:
			if err == nil {
				t.Errorf("%s: documented as rejected but accepted", param.Name)
				continue
			}
			if pe := conformance.AsError(t, err); pe.Status != 400 || pe.Param != param.Name {
				t.Errorf("%s: got %d param %q", param.Name, pe.Status, pe.Param)
			}
		case providers.Mapped, providers.Ignored:
			if err != nil {
				t.Errorf("%s: documented as %s but failed: %v", param.Name, param.Handling, err)
			}
		default:
			t.Errorf("%s: unknown handling %q", param.Name, param.Handling)
		}
	}
	for name := range samples {
		if !seen[name] {
			t.Errorf("sample %s is not in Parameters()", name)
		}
	}
}
