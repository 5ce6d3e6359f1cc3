package gemini

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

const hiBody = `{"messages":[{"role":"user","content":"hi"}]}`

// TestUnaryFixtures replays Google's published responses and compares the
// OpenAI chat.completion the adapter makes of them with testdata/golden.
func TestUnaryFixtures(t *testing.T) {
	cases := []struct {
		fixture, golden, finish string
	}{
		{"unary_text.json", "unary_text.openai.json", "stop"},
		{"function_call.json", "function_call.openai.json", "tool_calls"},
		{"prompt_blocked.json", "prompt_blocked.openai.json", "content_filter"},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			f := loadFixture(t, tc.fixture)
			up := newReplay(t, 200, "application/json; charset=UTF-8", f.Body)
			p := newProvider(t, up.URL)
			firstBytes := 0
			res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "gemini-pro", Body: []byte(hiBody),
				OnFirstByte: func() { firstBytes++ }}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if firstBytes != 1 {
				t.Errorf("OnFirstByte called %d times, want 1", firstBytes)
			}
			if res.FinishReason != tc.finish {
				t.Errorf("FinishReason = %q, want %q", res.FinishReason, tc.finish)
			}
			if res.Usage != nil {
				t.Errorf("Usage = %+v for a response without usageMetadata", res.Usage)
			}
			if res.Timing.FirstByte.IsZero() || res.Timing.End.Before(res.Timing.FirstByte) || res.Timing.FirstByte.Before(res.Timing.Start) {
				t.Errorf("timing out of order: %+v", res.Timing)
			}
			conformance.GoldenJSON(t, "golden/"+tc.golden, res.Body)
		})
	}
}

// TestStreamFixture replays Google's published SSE transcript.
func TestStreamFixture(t *testing.T) {
	f := loadFixture(t, "stream_text.json")
	up := newReplay(t, 200, "text/event-stream", []byte(f.Transcript))
	p := newProvider(t, up.URL)
	sink := &conformance.Collect{}
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "gemini-pro", Body: []byte(hiBody), Stream: true, IncludeUsage: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	reqs := up.requests()
	if len(reqs) != 1 || !strings.HasSuffix(reqs[0].URL.Path, ":streamGenerateContent") || reqs[0].URL.RawQuery != "alt=sse" {
		t.Fatalf("upstream requests: %v", reqs)
	}
	chunks := sink.All()
	views := conformance.ParseChunks(t, chunks)
	// Six text events, then the finish chunk; no usage chunk because the
	// transcript carries no usageMetadata.
	if len(views) != 7 {
		t.Fatalf("%d chunks, want 7", len(views))
	}
	if views[0].Choices[0].Delta.Role != "assistant" {
		t.Error("first chunk lacks role assistant")
	}
	var text strings.Builder
	for _, v := range views[:6] {
		if v.Choices[0].FinishReason != nil {
			t.Error("finish_reason before the end")
		}
		text.WriteString(*v.Choices[0].Delta.Content)
	}
	if !strings.HasPrefix(text.String(), "In the quaint, sunlit cottage") || !strings.HasSuffix(text.String(), "stronger than ever.") {
		t.Errorf("joined text = %q", text.String())
	}
	if fr := views[6].Choices[0].FinishReason; fr == nil || *fr != "stop" {
		t.Errorf("last chunk finish_reason = %v", fr)
	}
	if res.Timing.Chunks != 6 || res.Timing.FirstToken.IsZero() || res.Timing.FirstToken.Before(res.Timing.FirstByte) {
		t.Errorf("timing = %+v", res.Timing)
	}
	conformance.GoldenJSON(t, "golden/stream_text.openai.json", conformance.JSONArray(chunks))
}

// TestUsageMapping checks thoughts, cached and tool-use tokens.
func TestUsageMapping(t *testing.T) {
	body := `{"candidates":[{"content":{"role":"model","parts":[
		{"text":"Let me think.","thought":true},
		{"text":"42"}]},"finishReason":"STOP","index":0}],
	  "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"toolUsePromptTokenCount":5,
	    "thoughtsTokenCount":30,"cachedContentTokenCount":60,"totalTokenCount":155},
	  "modelVersion":"gemini-2.5-pro","responseId":"abc123"}`
	up := newReplay(t, 200, "application/json", []byte(body))
	p := newProvider(t, up.URL)
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "gemini-2.5-pro", Body: []byte(hiBody)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Usage{PromptTokens: 105, CompletionTokens: 50, TotalTokens: 155, CachedPromptTokens: 60, ReasoningTokens: 30}
	if res.Usage == nil || *res.Usage != want {
		t.Errorf("Usage = %+v, want %+v", res.Usage, want)
	}
	got := conformance.ParseCompletion(t, res.Body)
	if got.ID != "chatcmpl-abc123" || got.Model != "gemini-2.5-pro" {
		t.Errorf("id/model = %q/%q", got.ID, got.Model)
	}
	if m := got.Choices[0].Message; m.Content == nil || *m.Content != "42" || m.ReasoningContent != "Let me think." {
		t.Errorf("answer %s: thoughts must go to reasoning_content, not content", res.Body)
	}
	u := got.Usage
	if u == nil || u.PromptTokens != 105 || u.CompletionTokens != 50 || u.TotalTokens != 155 || u.PromptTokensDetails == nil ||
		u.PromptTokensDetails.CachedTokens != 60 || u.CompletionTokensDetails == nil || u.CompletionTokensDetails.ReasoningTokens != 30 {
		t.Errorf("usage JSON = %s", res.Body)
	}
}

func TestFinishReasonTable(t *testing.T) {
	cases := []struct {
		reason   genai.FinishReason
		hasCalls bool
		want     string
	}{
		{genai.FinishReasonStop, false, "stop"},
		{genai.FinishReasonStop, true, "tool_calls"},
		{genai.FinishReasonMaxTokens, false, "length"},
		{genai.FinishReasonMaxTokens, true, "tool_calls"},
		{genai.FinishReasonSafety, false, "content_filter"},
		{genai.FinishReasonRecitation, false, "content_filter"},
		{genai.FinishReasonBlocklist, false, "content_filter"},
		{genai.FinishReasonProhibitedContent, false, "content_filter"},
		{genai.FinishReasonSPII, false, "content_filter"},
		{genai.FinishReasonImageSafety, false, "content_filter"},
		{genai.FinishReasonLanguage, false, "content_filter"},
		{genai.FinishReasonOther, false, "content_filter"},
		{genai.FinishReasonImageProhibitedContent, false, "content_filter"},
		{genai.FinishReasonMalformedFunctionCall, false, "stop"},
		{genai.FinishReasonUnexpectedToolCall, false, "stop"},
		{genai.FinishReasonContinuation, false, "length"},
		{genai.FinishReasonUnspecified, false, "stop"},
		{"SOMETHING_NEW", false, "stop"},
	}
	for _, tc := range cases {
		if got := finishReason(tc.reason, tc.hasCalls); got != tc.want {
			t.Errorf("finishReason(%s, calls=%v) = %q, want %q", tc.reason, tc.hasCalls, got, tc.want)
		}
	}
}

// TestFinishReasonsOnTheWire runs a few finish reasons end to end, unary
// and streamed, through a replayed response.
func TestFinishReasonsOnTheWire(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"MAX_TOKENS", "length"}, {"SAFETY", "content_filter"}, {"RECITATION", "content_filter"}, {"STOP", "stop"},
	} {
		body := `{"candidates":[{"content":{"role":"model","parts":[{"text":"partial"}]},"finishReason":"` + tc.reason + `"}]}`
		up := newReplay(t, 200, "application/json", []byte(body))
		p := newProvider(t, up.URL)
		res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody)}, nil)
		if err != nil || res.FinishReason != tc.want {
			t.Errorf("unary %s: finish %v, err %v; want %s", tc.reason, res, err, tc.want)
		}
		up.set(200, map[string][]string{"Content-Type": {"text/event-stream"}}, []byte("data: "+body+"\r\n\r\n"))
		sink := &conformance.Collect{}
		res, err = p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody), Stream: true}, sink)
		if err != nil || res.FinishReason != tc.want {
			t.Errorf("stream %s: finish %v, err %v; want %s", tc.reason, res, err, tc.want)
		}
	}
}

// TestEmulatorMaxTokens: a reply cut by max_tokens reports "length".
func TestEmulatorMaxTokens(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel,
		Body: []byte(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := conformance.ParseCompletion(t, res.Body).Choices[0].Message
	if res.FinishReason != "length" || m.Content == nil || *m.Content != "Hello from the " {
		t.Errorf("finish %q, answer %s", res.FinishReason, res.Body)
	}
	if res.Usage == nil || res.Usage.CompletionTokens != 3 || res.Usage.PromptTokens != 1 {
		t.Errorf("usage = %+v", res.Usage)
	}
}

// TestMultiTurnToolLoop runs a whole tool round trip through the
// emulator: the tool call the adapter returns, echoed back by the client
// with the tool's answer, is a request Gemini accepts.
func TestMultiTurnToolLoop(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]`
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel,
		Body: []byte(`{"messages":[{"role":"user","content":"Weather in Paris?"}],` + tools + `}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(res.Body, &first); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		ToolCalls []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal(first.Choices[0].Message, &msg); err != nil || len(msg.ToolCalls) != 1 {
		t.Fatalf("no tool call in %s", res.Body)
	}
	second := `{"messages":[{"role":"user","content":"Weather in Paris?"},` + string(first.Choices[0].Message) +
		`,{"role":"tool","tool_call_id":"` + msg.ToolCalls[0].ID + `","content":"sunny"}],` + tools + `}`
	res, err = p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(second)}, nil)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if res.FinishReason != "stop" {
		t.Errorf("second turn finish = %q, want a text answer", res.FinishReason)
	}
}
