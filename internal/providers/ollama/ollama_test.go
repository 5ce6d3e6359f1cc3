package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "http://127.0.0.1:11434",
		"0.0.0.0":                "http://0.0.0.0:11434",
		"127.0.0.1:5000":         "http://127.0.0.1:5000",
		"https://ollama.lan":     "https://ollama.lan:11434",
		"http://[::1]:11434/":    "http://[::1]:11434",
		"http://localhost:11434": "http://localhost:11434",
	} {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestTranslateRequest(t *testing.T) {
	body := `{"model":"x","messages":[
		{"role":"developer","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,aGVsbG8="}}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],
		"max_completion_tokens":9,"temperature":0.5,"stop":["\n\n"],"seed":3,"response_format":{"type":"json_object"}}`
	o, err := (&providers.ChatRequest{Body: []byte(body)}).DecodeChat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := translateRequest(o, "llama3:8b")
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "llama3:8b" || r.Messages[0].Role != "system" || string(r.Messages[1].Images[0]) != "hello" || r.Messages[1].Content != "look" {
		t.Fatalf("messages = %+v", r.Messages[:2])
	}
	tc := r.Messages[2].ToolCalls[0]
	if tc.Function.Name != "get_weather" || tc.ID != "call_1" {
		t.Fatalf("tool call = %+v", tc)
	}
	if v, _ := tc.Function.Arguments.Get("location"); v != "Paris" {
		t.Fatalf("arguments = %v", tc.Function.Arguments)
	}
	if r.Messages[3].Role != "tool" || r.Messages[3].ToolName != "get_weather" || r.Messages[3].ToolCallID != "call_1" {
		t.Fatalf("tool result = %+v", r.Messages[3])
	}
	if len(r.Tools) != 1 || r.Tools[0].Function.Name != "get_weather" {
		t.Fatalf("tools = %+v", r.Tools)
	}
	if r.Options["num_predict"] != 9 || r.Options["seed"] != 3 || string(r.Format) != `"json"` {
		t.Fatalf("options = %v format %s", r.Options, r.Format)
	}
}

func TestTranslateRejects(t *testing.T) {
	for _, body := range []string{
		`{"model":"x","n":2,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"x","tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"x","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`,
		`{"model":"x","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
	} {
		o, err := (&providers.ChatRequest{Body: []byte(body)}).DecodeChat()
		if err != nil {
			t.Fatal(err)
		}
		_, err = translateRequest(o, "m")
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Param == "" {
			t.Errorf("%s: err = %v, want a 400 naming the parameter", body, err)
		}
	}
}

func TestChunksToolCallAndFinish(t *testing.T) {
	tr := newTranslator("m", true)
	args := api.NewToolCallFunctionArguments()
	args.Set("location", "Paris")
	var out []string
	for _, r := range []api.ChatResponse{
		{Message: api.Message{Role: "assistant", Content: "Let me check. "}},
		{Message: api.Message{Role: "assistant", ToolCalls: []api.ToolCall{{Function: api.ToolCallFunction{Name: "get_weather", Arguments: args}}}}},
		{Done: true, DoneReason: "stop", Metrics: api.Metrics{PromptEvalCount: 5, EvalCount: 7}},
	} {
		for _, c := range tr.chunks(&r) {
			out = append(out, string(c))
		}
	}
	if len(out) != 5 {
		t.Fatalf("chunks = %d: %s", len(out), strings.Join(out, "\n"))
	}
	var c struct {
		Choices []struct {
			Delta struct {
				Role      string
				Content   *string
				ToolCalls []struct {
					Index    *int
					ID       string
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
			FinishReason *string `json:"finish_reason"`
		}
		Usage *struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.Unmarshal([]byte(out[0]), &c)
	if c.Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk = %s", out[0])
	}
	c.Choices = nil
	json.Unmarshal([]byte(out[2]), &c)
	call := c.Choices[0].Delta.ToolCalls[0]
	if call.Index == nil || *call.Index != 0 || call.ID == "" || call.Function.Name != "get_weather" || call.Function.Arguments != `{"location":"Paris"}` {
		t.Fatalf("tool call chunk = %s", out[2])
	}
	c.Choices = nil
	json.Unmarshal([]byte(out[3]), &c)
	if *c.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("finish chunk = %s", out[3])
	}
	c.Choices = nil
	json.Unmarshal([]byte(out[4]), &c)
	if len(c.Choices) != 0 || c.Usage.CompletionTokens != 7 {
		t.Fatalf("usage chunk = %s", out[4])
	}
}

func TestChatKeepsOllamaTimings(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{LoadDuration: 5 * time.Millisecond, TTFT: 10 * time.Millisecond})
	defer emu.Close()
	p, _ := New(providers.Options{Name: "ollama", BaseURL: emu.URL})
	var c conformance.Collect
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "llama3:8b", Stream: true,
		Body: []byte(`{"model":"x","stream":true,"messages":[{"role":"user","content":"hi there"}]}`)}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Timing.Upstream["load_duration"] != 5*time.Millisecond || res.Timing.Upstream["eval_duration"] <= 0 || res.Timing.Upstream["prompt_eval_duration"] < 10*time.Millisecond {
		t.Fatalf("upstream timings = %v", res.Timing.Upstream)
	}
	if res.Usage.CompletionTokens != 9 || res.Usage.PromptTokens != 2 || res.FinishReason != "stop" {
		t.Fatalf("usage %+v finish %q", res.Usage, res.FinishReason)
	}
	// A model that is not installed is a 404 that says how to get it.
	_, err = p.Chat(context.Background(), &providers.ChatRequest{Model: "nope:1b", Body: []byte(`{"model":"x","messages":[{"role":"user","content":"hi"}]}`)}, &c)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Status != 404 || !strings.Contains(pe.Message, "ollama pull") {
		t.Fatalf("err = %v", err)
	}
	p.hc.CloseIdleConnections()
}

// FuzzTranslate: any decodable OpenAI request translates or is a 400.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte(`{"model":"x","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"x","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}`))
	f.Add([]byte(`{"model":"x","messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := (&providers.ChatRequest{Body: body}).DecodeChat()
		if err != nil {
			return
		}
		r, err := translateRequest(o, "m")
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Status != 400 {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("translated request does not marshal: %v", err)
		}
	})
}

// TestStreamKeepsConnection: after the final "done" line the adapter
// reads the body to its end, so that the next request reuses the
// connection (Ollama streams every answer; dialling each time would cost
// a connection per request).
func TestStreamKeepsConnection(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, `{"model":"m","message":{"role":"assistant","content":"hi"},"done":false}`+"\n")
		io.WriteString(w, `{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":1}`+"\n")
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Millisecond) // the body's end comes a moment later, as over a network
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p, _ := New(providers.Options{Name: "ollama", BaseURL: srv.URL})
	defer p.hc.CloseIdleConnections()
	for range 20 {
		var c conformance.Collect
		if _, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "m", Stream: true,
			Body: []byte(`{"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]}`)}, &c); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 streams in a row opened %d connections, want 1", n)
	}
}

// TestLogprobs: the log probabilities Ollama answers with (logprobs,
// top_logprobs in /api/chat) reach the client in OpenAI's
// choices[].logprobs, streamed and unary; not asked for, they are null.
func TestLogprobs(t *testing.T) {
	o, err := (&providers.ChatRequest{Body: []byte(`{"model":"x","logprobs":true,"top_logprobs":2,"messages":[{"role":"user","content":"hi"}]}`)}).DecodeChat()
	if err != nil {
		t.Fatal(err)
	}
	creq, err := translateRequest(o, "m")
	if err != nil || !creq.Logprobs || creq.TopLogprobs != 2 {
		t.Fatalf("request: %+v %v, want logprobs and top_logprobs 2", creq, err)
	}
	lines := []api.ChatResponse{
		{Message: api.Message{Role: "assistant", Content: "Hi"}, Logprobs: []api.Logprob{{TokenLogprob: api.TokenLogprob{Token: "Hi", Logprob: -0.25},
			TopLogprobs: []api.TokenLogprob{{Token: "Hi", Logprob: -0.25}, {Token: "Hello", Logprob: -1.5, Bytes: []int{72, 101, 108, 108, 111}}}}}},
		{Done: true, DoneReason: "stop"},
	}
	const want = `{"content":[{"token":"Hi","logprob":-0.25,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.25,"bytes":[72,105]},{"token":"Hello","logprob":-1.5,"bytes":[72,101,108,108,111]}]}],"refusal":null}`
	var choice struct {
		Choices []struct {
			Logprobs json.RawMessage `json:"logprobs"`
		}
	}
	tr := newTranslator("m", false)
	tr.logprobs = true
	var chunks [][]byte
	for _, r := range lines {
		chunks = append(chunks, tr.chunks(&r)...)
	}
	if err := json.Unmarshal(chunks[1], &choice); err != nil || string(choice.Choices[0].Logprobs) != want {
		t.Errorf("streamed content chunk %s, want logprobs %s", chunks[1], want)
	}
	tr = newTranslator("m", false)
	tr.logprobs = true
	for _, r := range lines {
		tr.accumulate(&r)
	}
	if err := json.Unmarshal(tr.completion(), &choice); err != nil || string(choice.Choices[0].Logprobs) != want {
		t.Errorf("completion %s, want logprobs %s", tr.completion(), want)
	}
	tr = newTranslator("m", false)
	for _, r := range lines {
		tr.accumulate(&r)
	}
	if err := json.Unmarshal(tr.completion(), &choice); err != nil || string(choice.Choices[0].Logprobs) != "null" {
		t.Errorf("completion not asked for logprobs: %s", tr.completion())
	}
}
