package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// TestRequestGolden sends OpenAI requests through the adapter to the
// emulator (which validates them as the API does) and compares the wire
// request it received with the golden file.
func TestRequestGolden(t *testing.T) {
	cases := []struct {
		name   string
		legacy bool // provider configured with anthropic-version 2023-06-01
		stream bool
	}{
		{name: "basic"},
		{name: "conversation"},
		{name: "images"},
		{name: "structured", stream: true},
		{name: "legacy_sampling", legacy: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := golden.Read(t, filepath.Join("requests", tc.name+".json"))
			emu := newEmu(t, anthropicemu.Options{})
			p := newTestProvider(t, emu.URL, func(o *providers.Options) {
				if tc.legacy {
					o.Headers = map[string]string{"anthropic-version": "2023-06-01"}
				}
			})
			var sink conformance.Collect
			_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-sonnet-4-6", Body: body, Stream: tc.stream}, &sink)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			r := conformance.OnlyRequest(t, emu.Requests())
			if r.Method != "POST" || r.Path != "/v1/messages" {
				t.Errorf("request line %s %s", r.Method, r.Path)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
				t.Errorf("Authorization = %q, want the key as a bearer token", got)
			}
			wantVersion := "2026-10-21"
			if tc.legacy {
				wantVersion = "2023-06-01"
			}
			if got := r.Header.Get("anthropic-version"); got != wantVersion {
				t.Errorf("anthropic-version = %q, want %q", got, wantVersion)
			}
			conformance.GoldenJSON(t, filepath.Join("requests", tc.name+".wire.json"), r.Body)
		})
	}
}

// TestRejections checks that what Anthropic cannot honour, or what is
// malformed, is answered with a 400 naming the parameter, before any
// upstream call.
func TestRejections(t *testing.T) {
	user := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, body, param, say string
	}{
		{"n", `{` + user + `,"n":2}`, "n", "cannot honour n"},
		{"n zero", `{` + user + `,"n":0}`, "n", "at least 1"},
		{"logprobs", `{` + user + `,"logprobs":true}`, "logprobs", "cannot honour"},
		{"top_logprobs", `{` + user + `,"top_logprobs":3}`, "top_logprobs", "cannot honour"},
		{"logit_bias", `{` + user + `,"logit_bias":{"50256":-100}}`, "logit_bias", "cannot honour"},
		{"functions", `{` + user + `,"functions":[{"name":"f"}]}`, "functions", "send tools"},
		{"function_call", `{` + user + `,"function_call":"auto"}`, "function_call", "tool_choice"},
		{"modalities", `{` + user + `,"modalities":["text","audio"]}`, "modalities", "cannot honour"},
		{"audio", `{` + user + `,"audio":{"voice":"alloy","format":"mp3"}}`, "audio", "cannot honour"},
		{"prediction", `{` + user + `,"prediction":{"type":"content","content":"x"}}`, "prediction", "cannot honour"},
		{"web_search_options", `{` + user + `,"web_search_options":{}}`, "web_search_options", "cannot honour"},
		{"verbosity", `{` + user + `,"verbosity":"low"}`, "verbosity", "cannot honour"},
		{"top_k", `{` + user + `,"top_k":5}`, "top_k", "cannot honour"},
		{"json_object", `{` + user + `,"response_format":{"type":"json_object"}}`, "response_format", "json_schema"},
		{"json_schema without schema", `{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format.json_schema.schema", "needs a schema"},
		{"max_tokens", `{` + user + `,"max_tokens":0}`, "max_tokens", "at least 1"},
		{"max_completion_tokens", `{` + user + `,"max_completion_tokens":-5}`, "max_completion_tokens", "at least 1"},
		{"stop type", `{` + user + `,"stop":5}`, "stop", "string"},
		{"tool_choice without tools", `{` + user + `,"tool_choice":"required"}`, "tool_choice", "only allowed when tools"},
		{"tool_choice unknown tool", `{` + user + `,"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}`, "tool_choice", "not among the tools"},
		{"tool type", `{` + user + `,"tools":[{"type":"custom","custom":{"name":"a"}}]}`, "tools[0].type", "only function tools"},
		{"tool schema type", `{` + user + `,"tools":[{"type":"function","function":{"name":"a","parameters":{"type":"array"}}}]}`, "tools[0].function.parameters.type", "object"},
		{"duplicate tools", `{` + user + `,"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"a"}}]}`, "tools[1].function.name", "unique"},
		{"no messages", `{"messages":[{"role":"system","content":"only system"}]}`, "messages", "at least one"},
		{"empty user", `{"messages":[{"role":"user","content":""}]}`, "messages[0].content", "empty"},
		{"blank user", `{"messages":[{"role":"user","content":[{"type":"text","text":" \n "}]}]}`, "messages[0].content", "empty"},
		{"audio part", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}]}`, "messages[0].content[0].type", "cannot honour"},
		{"image media type", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AAAA"}}]}]}`, "messages[0].content[0].image_url.url", "image/bmp"},
		{"image scheme", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url", "data: URL"},
		{"bad arguments", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments", "JSON object"},
		{"tool without id", `{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}`, "messages[1].tool_call_id", "required"},
		{"unknown role", `{"messages":[{"role":"critic","content":"x"}]}`, "messages[0].role", "unknown role"},
		{"wrong type", `{"messages":"hi"}`, "messages", "must be an array"},
		{"not json", `{"messages":`, "", "invalid chat request"},
		{"reasoning_effort", `{` + user + `,"reasoning_effort":"extreme"}`, "reasoning_effort", "must be one of"},
	}
	emu := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, emu.URL, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-sonnet-4-6", Body: []byte(tc.body)}, nil)
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *providers.Error", err)
			}
			if pe.Status != 400 || pe.Type != providers.TypeInvalidRequest || pe.Retryable {
				t.Errorf("status %d type %q retryable %v, want 400 invalid_request_error, not retryable", pe.Status, pe.Type, pe.Retryable)
			}
			if pe.Param != tc.param {
				t.Errorf("param = %q, want %q", pe.Param, tc.param)
			}
			if !strings.Contains(pe.Message, tc.say) {
				t.Errorf("message %q does not say %q", pe.Message, tc.say)
			}
			if pe.Provider != "anthropic" {
				t.Errorf("provider = %q", pe.Provider)
			}
		})
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("rejected requests reached the upstream %d times", n)
	}
	// Every parameter the table says is rejected has a case above.
	for _, prm := range Parameters() {
		if prm.Handling != providers.Rejected {
			continue
		}
		found := false
		for _, tc := range cases {
			found = found || tc.param == prm.Name
		}
		if !found {
			t.Errorf("rejected parameter %q has no rejection case", prm.Name)
		}
	}
}

// TestDropped: the sampling hints Capabilities declares dropped (the
// rejections of old: presence_penalty 0.5, frequency_penalty -1, seed 42,
// temperature 0, top_p 0.5 under API version 2026-10-21) reach the
// upstream as a request without them.
func TestDropped(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, emu.URL, nil)
	if d := p.ParamSupport().Dropped; d != openaiwire.SamplingHints {
		t.Errorf("Dropped = %q, want every sampling hint", d)
	}
	body := `{"messages":[{"role":"user","content":"hi"}],"presence_penalty":0.5,"frequency_penalty":-1,"seed":42,"temperature":0,"top_p":0.5}`
	if _, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-sonnet-4-6", Body: []byte(body)}, nil); err != nil {
		t.Fatalf("Chat: %v", err)
	}
	r := conformance.OnlyRequest(t, emu.Requests())
	for _, name := range []string{"presence_penalty", "frequency_penalty", "seed", "temperature", "top_p"} {
		if strings.Contains(string(r.Body), `"`+name+`"`) {
			t.Errorf("%s reached the upstream: %s", name, r.Body)
		}
	}
}

// TestParametersListEveryField keeps the parameter table and the decoder
// in step: every field the adapter decodes is in the table, once.
func TestParametersListEveryField(t *testing.T) {
	listed := map[string]int{}
	for _, p := range Parameters() {
		listed[p.Name]++
		if p.Note == "" {
			t.Errorf("%s has no note", p.Name)
		}
		switch p.Handling {
		case providers.Mapped, providers.Ignored, providers.Rejected:
		default:
			t.Errorf("%s: handling %q", p.Name, p.Handling)
		}
	}
	typ := reflect.TypeOf(openaiwire.ChatRequest{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if listed[name] != 1 {
			t.Errorf("field %q is listed %d times in Parameters()", name, listed[name])
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("Parameters() lists %q, which the adapter does not decode", name)
	}
}

func TestDefaultMaxTokens(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":"hi"}]}`)
	for _, tc := range []struct {
		opt  int
		want int64
	}{{0, 4096}, {1000, 1000}} {
		emu := newEmu(t, anthropicemu.Options{})
		p := newTestProvider(t, emu.URL, func(o *providers.Options) { o.DefaultMaxTokens = tc.opt })
		if _, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-haiku-4-5", Body: body}, nil); err != nil {
			t.Fatal(err)
		}
		var wire struct {
			MaxTokens int64 `json:"max_tokens"`
		}
		json.Unmarshal(emu.Requests()[0].Body, &wire)
		if wire.MaxTokens != tc.want {
			t.Errorf("DefaultMaxTokens %d: sent max_tokens %d, want %d", tc.opt, wire.MaxTokens, tc.want)
		}
	}
}

// checkWire asserts that a marshalled Messages request obeys the rules the
// API enforces (the same ones the emulator checks), so that translate
// never builds a request the API is bound to refuse.
func checkWire(t *testing.T, raw []byte) {
	t.Helper()
	var w struct {
		Model     *string `json:"model"`
		MaxTokens *int64  `json:"max_tokens"`
		Messages  []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
		System []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"system"`
		Tools []struct {
			Name        string `json:"name"`
			InputSchema struct {
				Type string `json:"type"`
			} `json:"input_schema"`
		} `json:"tools"`
		ToolChoice *struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tool_choice"`
		Temperature json.RawMessage `json:"temperature"`
		TopP        json.RawMessage `json:"top_p"`
		TopK        json.RawMessage `json:"top_k"`
		Stop        []string        `json:"stop_sequences"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("wire request is not a Messages request: %v\n%s", err, raw)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invalid wire request: "+format+"\n%s", append(args, raw)...)
	}
	if w.Model == nil || *w.Model == "" {
		fail("no model")
	}
	if w.MaxTokens == nil || *w.MaxTokens < 1 {
		fail("max_tokens missing or < 1")
	}
	if len(w.Messages) == 0 {
		fail("no messages")
	}
	if w.Temperature != nil || w.TopP != nil || w.TopK != nil {
		fail("sampling parameters under API version 2026-10-21")
	}
	for _, s := range w.Stop {
		if s == "" {
			fail("empty stop sequence")
		}
	}
	for _, s := range w.System {
		if s.Type != "text" || strings.TrimSpace(s.Text) == "" {
			fail("system block %+v", s)
		}
	}
	tools := map[string]bool{}
	for _, tl := range w.Tools {
		if tl.Name == "" || tl.InputSchema.Type != "object" || tools[tl.Name] {
			fail("tool %+v", tl)
		}
		tools[tl.Name] = true
	}
	if tc := w.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "any", "none":
		case "tool":
			if !tools[tc.Name] {
				fail("tool_choice names an absent tool")
			}
		default:
			fail("tool_choice type %q", tc.Type)
		}
		if len(tools) == 0 {
			fail("tool_choice without tools")
		}
	}
	prev := ""
	for i, m := range w.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			fail("messages[%d] role %q", i, m.Role)
		}
		if m.Role == prev {
			fail("messages[%d] repeats role %q", i, m.Role)
		}
		prev = m.Role
		if len(m.Content) == 0 {
			fail("messages[%d] has no content", i)
		}
		seenOther := false
		for j, c := range m.Content {
			var b struct {
				Type      string          `json:"type"`
				Text      *string         `json:"text"`
				Input     json.RawMessage `json:"input"`
				ToolUseID string          `json:"tool_use_id"`
				Source    *struct {
					Type      string `json:"type"`
					MediaType string `json:"media_type"`
					Data      string `json:"data"`
					URL       string `json:"url"`
				} `json:"source"`
			}
			if err := json.Unmarshal(c, &b); err != nil {
				fail("messages[%d].content[%d]: %v", i, j, err)
			}
			switch b.Type {
			case "text":
				if b.Text == nil || strings.TrimSpace(*b.Text) == "" {
					fail("messages[%d].content[%d] blank text", i, j)
				}
				seenOther = true
			case "image":
				if m.Role != "user" || b.Source == nil {
					fail("messages[%d].content[%d] image", i, j)
				}
				switch b.Source.Type {
				case "base64":
					if b.Source.Data == "" || !strings.HasPrefix(b.Source.MediaType, "image/") {
						fail("messages[%d].content[%d] base64 source", i, j)
					}
				case "url":
					if !strings.HasPrefix(b.Source.URL, "http") {
						fail("messages[%d].content[%d] url source", i, j)
					}
				default:
					fail("messages[%d].content[%d] source type %q", i, j, b.Source.Type)
				}
				seenOther = true
			case "tool_use":
				var obj map[string]json.RawMessage
				if m.Role != "assistant" || json.Unmarshal(b.Input, &obj) != nil || obj == nil {
					fail("messages[%d].content[%d] tool_use", i, j)
				}
			case "tool_result":
				if m.Role != "user" || b.ToolUseID == "" || seenOther {
					fail("messages[%d].content[%d] tool_result (must come first in a user turn)", i, j)
				}
			default:
				fail("messages[%d].content[%d] block type %q", i, j, b.Type)
			}
		}
	}
}

// FuzzTranslate: any body either translates to a request the API accepts
// or is refused with a 400 in OpenAI's terms; it never panics.
func FuzzTranslate(f *testing.F) {
	golden.Seed(f, "requests", ".json")
	f.Add([]byte(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"a","content":null}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lG"}}]}],"stop":[""],"tools":[{"function":{"name":"x","parameters":null}}],"parallel_tool_calls":false}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"messages":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		params, perr := translate(body, "", 4096, false)
		if perr != nil {
			if perr.Status != 400 || perr.Type != providers.TypeInvalidRequest || perr.Message == "" {
				t.Fatalf("refusal is not a 400 invalid_request_error: %+v", perr)
			}
			return
		}
		raw, err := json.Marshal(params)
		if err != nil {
			t.Fatalf("cannot marshal the translation: %v", err)
		}
		checkWire(t, raw)
	})
}

// TestSeedsTranslate runs the fuzz seeds' invariant on every golden case
// body with a model given, so that the check itself is exercised on
// accepted requests.
func TestSeedsTranslate(t *testing.T) {
	n := 0
	for _, name := range golden.Inputs(t, "requests", ".json") {
		if strings.Contains(name, "legacy") {
			continue
		}
		b := golden.Read(t, name+".json")
		params, perr := translate(b, "claude-sonnet-4-6", 4096, false)
		if perr != nil {
			t.Fatalf("%s: %v", name, perr)
		}
		raw, _ := json.Marshal(params)
		checkWire(t, raw)
		n++
	}
	if n == 0 {
		t.Fatal(fmt.Errorf("no request cases found"))
	}
}

// TestLargeMaxTokensUnary: the SDK refuses, on its own, unary calls it
// expects to run past ten minutes; the adapter sets its own timeout so the
// call goes out (the caller's context bounds it).
func TestLargeMaxTokensUnary(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, emu.URL, nil)
	_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6",
		Body: []byte(`{"messages":[{"role":"user","content":"write a book"}],"max_completion_tokens":64000}`)}, nil)
	if err != nil {
		t.Fatalf("unary call with max_tokens 64000: %v", err)
	}
}
