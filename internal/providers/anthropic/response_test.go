package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// replay serves a fixture as POST /v1/messages answers it.
func replay(t *testing.T, fixture string) *httptest.Server {
	t.Helper()
	body := golden.Read(t, filepath.Join("fixtures", fixture))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(fixture, ".sse") {
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const weatherRequest = `{"model":"x","messages":[{"role":"user","content":"What is the weather like in San Francisco?"}],
"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
"tool_choice":"required","stream_options":{"include_usage":true}}`

// TestResponseGolden converts Anthropic's documented responses and event
// streams into OpenAI JSON and compares it with the golden files.
func TestResponseGolden(t *testing.T) {
	cases := []struct {
		fixture, golden string
		stream          bool
		finish          string
		usage           *providers.Usage
	}{
		{"unary_text.json", "unary_text.openai.json", false, "stop",
			&providers.Usage{PromptTokens: 12, CompletionTokens: 6, TotalTokens: 18}},
		{"unary_tool_use.json", "unary_tool_use.openai.json", false, "tool_calls",
			nil}, // the documented example has no usage
		{"stream_text.sse", "stream_text.chunks.jsonl", true, "stop",
			&providers.Usage{PromptTokens: 25, CompletionTokens: 15, TotalTokens: 40}},
		{"stream_tool_use.sse", "stream_tool_use.chunks.jsonl", true, "tool_calls",
			&providers.Usage{PromptTokens: 472, CompletionTokens: 89, TotalTokens: 561}},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			srv := replay(t, tc.fixture)
			p := newTestProvider(t, srv.URL, nil)
			var sink conformance.Collect
			res, err := p.Chat(context.Background(), &providers.ChatRequest{
				Model: "claude-opus-4-6", Body: []byte(weatherRequest), Stream: tc.stream, IncludeUsage: true}, &sink)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if tc.stream {
				if len(res.Body) != 0 {
					t.Error("a stream's Result.Body must be empty")
				}
				got = bytes.Join(sink.All(), []byte("\n"))
				got = append(got, '\n')
			} else {
				if len(sink.All()) != 0 {
					t.Error("a unary call used the sink")
				}
				got = conformance.Canonical(t, res.Body)
			}
			golden.File(t, filepath.Join("golden", tc.golden), got)
			if res.FinishReason != tc.finish {
				t.Errorf("FinishReason = %q, want %q", res.FinishReason, tc.finish)
			}
			if (res.Usage == nil) != (tc.usage == nil) || (tc.usage != nil && *res.Usage != *tc.usage) {
				t.Errorf("Usage = %+v, want %+v", res.Usage, tc.usage)
			}
		})
	}
}

// TestStreamToolCallChunks checks the order and shape of a streamed tool
// call: the role chunk, the call's first chunk with id, type and name and
// empty arguments, argument pieces with only index and arguments, the
// finish chunk, then the usage chunk with no choices.
func TestStreamToolCallChunks(t *testing.T) {
	args := `{"location":"Paris","unit":"celsius","days":3}`
	emu := newEmu(t, anthropicemu.Options{ToolArgs: args})
	p := newTestProvider(t, emu.URL, nil)
	var sink conformance.Collect
	res, err := p.Chat(context.Background(), &providers.ChatRequest{
		Model: "claude-sonnet-4-6", Body: []byte(weatherRequest), Stream: true, IncludeUsage: true}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	cs := parseChunks(t, sink.All())
	pieces := (len(args) + anthropicemu.ToolArgPiece - 1) / anthropicemu.ToolArgPiece
	if want := 1 + 1 + pieces + 1 + 1; len(cs) != want {
		t.Fatalf("%d chunks, want %d (role, call start, %d pieces, finish, usage)", len(cs), want, pieces)
	}
	first := cs[0].Choices[0]
	if first.Delta.Role == nil || *first.Delta.Role != "assistant" || first.Delta.Content == nil || *first.Delta.Content != "" {
		t.Errorf("first chunk is not role assistant with empty content: %s", sink.All()[0])
	}
	start := cs[1].Choices[0].Delta.ToolCalls
	if len(start) != 1 || start[0].Index == nil || *start[0].Index != 0 || start[0].ID == nil || !strings.HasPrefix(*start[0].ID, "toolu_") ||
		start[0].Type == nil || *start[0].Type != "function" || start[0].Function.Name == nil || *start[0].Function.Name != "get_weather" ||
		start[0].Function.Arguments == nil || *start[0].Function.Arguments != "" {
		t.Errorf("tool call start chunk: %s", sink.All()[1])
	}
	var joined strings.Builder
	for i := 2; i < 2+pieces; i++ {
		tc := cs[i].Choices[0].Delta.ToolCalls
		if len(tc) != 1 || tc[0].Index == nil || *tc[0].Index != 0 || tc[0].ID != nil || tc[0].Type != nil || tc[0].Function.Name != nil || tc[0].Function.Arguments == nil {
			t.Fatalf("argument chunk %d carries more than index and arguments: %s", i, sink.All()[i])
		}
		joined.WriteString(*tc[0].Function.Arguments)
	}
	if joined.String() != args {
		t.Errorf("arguments = %q, want %q", joined.String(), args)
	}
	fin := cs[len(cs)-2]
	if len(fin.Choices) != 1 || fin.Choices[0].FinishReason == nil || *fin.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish chunk: %s", sink.All()[len(cs)-2])
	}
	for i := 0; i < len(cs)-2; i++ {
		if cs[i].Choices[0].FinishReason != nil {
			t.Errorf("chunk %d has a finish_reason before the end", i)
		}
	}
	last := cs[len(cs)-1]
	if len(last.Choices) != 0 || last.Usage == nil || last.Usage.CompletionTokens != pieces {
		t.Errorf("usage chunk: %s", sink.All()[len(cs)-1])
	}
	for _, c := range cs {
		if c.Object != "chat.completion.chunk" || c.ID == "" || c.Model != "claude-sonnet-4-6" {
			t.Errorf("chunk envelope: %+v", c)
		}
	}
	if res.Timing.Chunks != 1+pieces {
		t.Errorf("Timing.Chunks = %d, want %d content chunks", res.Timing.Chunks, 1+pieces)
	}
}

// TestStreamTextAndTiming streams the emulator's reply word by word.
func TestStreamTextAndTiming(t *testing.T) {
	reply := "one two three four"
	emu := newEmu(t, anthropicemu.Options{Reply: reply})
	p := newTestProvider(t, emu.URL, nil)
	for _, includeUsage := range []bool{false, true} {
		var sink conformance.Collect
		res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-haiku-4-5",
			Body: []byte(`{"messages":[{"role":"user","content":"count to four"}]}`), Stream: true, IncludeUsage: includeUsage}, &sink)
		if err != nil {
			t.Fatal(err)
		}
		cs := parseChunks(t, sink.All())
		var text strings.Builder
		for _, c := range cs {
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil {
					text.WriteString(*ch.Delta.Content)
				}
			}
		}
		if text.String() != reply {
			t.Errorf("streamed text %q, want %q", text.String(), reply)
		}
		wantChunks := 1 + 4 + 1
		if includeUsage {
			wantChunks++
			if u := cs[len(cs)-1].Usage; u == nil || u.PromptTokens != 3 || u.CompletionTokens != 4 || u.TotalTokens != 7 {
				t.Errorf("usage chunk %s", sink.All()[len(cs)-1])
			}
		} else {
			for _, c := range cs {
				if c.Usage != nil {
					t.Error("usage chunk sent without include_usage")
				}
			}
		}
		if len(cs) != wantChunks {
			t.Errorf("include_usage %v: %d chunks, want %d", includeUsage, len(cs), wantChunks)
		}
		tm := res.Timing
		if tm.Start.IsZero() || tm.FirstByte.Before(tm.Start) || tm.FirstToken.Before(tm.FirstByte) || tm.End.Before(tm.FirstToken) {
			t.Errorf("timing out of order: %+v", tm)
		}
		if tm.Chunks != 4 {
			t.Errorf("Timing.Chunks = %d, want 4", tm.Chunks)
		}
		if res.Usage == nil || res.Usage.PromptTokens != 3 || res.Usage.CompletionTokens != 4 {
			t.Errorf("Result.Usage = %+v (usage is read even when the client did not ask for it)", res.Usage)
		}
	}
}

// TestUsageCache: Anthropic's input_tokens excludes cached tokens, so the
// prompt is their sum; cache reads are OpenAI's cached_tokens and cache
// writes are reported apart, neither counted twice.
func TestUsageCache(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{Reply: "a b c", CacheReadTokens: 5, CacheWriteTokens: 2})
	p := newTestProvider(t, emu.URL, nil)
	body := []byte(`{"messages":[{"role":"system","content":"one two three four"},{"role":"user","content":"five six seven eight nine ten"}]}`)
	want := providers.Usage{PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13, CachedPromptTokens: 5, CacheWriteTokens: 2}
	for _, stream := range []bool{false, true} {
		var sink conformance.Collect
		res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: body, Stream: stream, IncludeUsage: true}, &sink)
		if err != nil {
			t.Fatal(err)
		}
		if *res.Usage != want {
			t.Errorf("stream %v: Usage = %+v, want %+v", stream, *res.Usage, want)
		}
		var u struct {
			Usage struct {
				PromptTokens        int `json:"prompt_tokens"`
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			} `json:"usage"`
		}
		b := res.Body
		if stream {
			b = sink.All()[len(sink.All())-1]
		}
		if err := json.Unmarshal(b, &u); err != nil || u.Usage.PromptTokens != 10 || u.Usage.PromptTokensDetails.CachedTokens != 5 {
			t.Errorf("stream %v: OpenAI usage %s", stream, b)
		}
	}
}

func TestFinishReasons(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{Reply: "alpha beta STOP gamma"})
	p := newTestProvider(t, emu.URL, nil)
	cases := []struct{ body, finish, content string }{
		{`{"messages":[{"role":"user","content":"go"}]}`, "stop", "alpha beta STOP gamma"},
		{`{"messages":[{"role":"user","content":"go"}],"max_tokens":2}`, "length", "alpha beta "},
		{`{"messages":[{"role":"user","content":"go"}],"stop":["STOP"]}`, "stop", "alpha beta "},
	}
	for _, tc := range cases {
		res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(tc.body)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ch := conformance.ParseCompletion(t, res.Body).Choices[0]
		if res.FinishReason != tc.finish || ch.FinishReason == nil || *ch.FinishReason != tc.finish || ch.Message.Content == nil || *ch.Message.Content != tc.content {
			t.Errorf("%s: finish %q, answer %s; want %q %q", tc.body, res.FinishReason, res.Body, tc.finish, tc.content)
		}
	}
	for in, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
		"tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"} {
		if got := finishReason(sdkStop(in)); got != want {
			t.Errorf("finishReason(%s) = %q, want %q", in, got, want)
		}
	}
}
