package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/gateway"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/leak"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

func TestMain(m *testing.M) {
	leak.VerifyTestMain(m)
}

const upstreamKey = "sk-secret-upstream-key-0123456789"

type env map[string]string

// start runs a gateway on the default config with the given environment,
// wired as cmd/gateway wires it.
func start(t *testing.T, e env, maxBody int64) *apptest.Gateway {
	t.Helper()
	if e["OLLAMA_HOST"] == "" {
		e["OLLAMA_HOST"] = "127.0.0.1:1" // never the developer's own Ollama
	}
	getenv := func(k string) string { return e[k] }
	cfg, err := config.Load("default", configs.Default(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if maxBody != 0 {
		cfg.Server.MaxBodyBytes = maxBody
	}
	off := false
	for _, p := range cfg.Providers {
		p.Probe.Enabled = &off // the tests count what reaches the upstream
	}
	return apptest.Start(t, cfg, app.Options{Getenv: getenv})
}

func withOpenAI(t *testing.T, o openaiemu.Options) (*openaiemu.Server, *apptest.Gateway) {
	o.APIKey = upstreamKey
	emu := openaiemu.New(o)
	t.Cleanup(emu.Close)
	return emu, start(t, env{"OPENAI_API_KEY": upstreamKey, "OPENAI_BASE_URL": emu.URL}, 0)
}

type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	return webtest.Send(t, "POST", url, body, map[string]string{"Content-Type": "application/json"})
}

const hello = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		fault      openaiemu.Fault
		path, body string
		maxBody    int64
		status     int
		typ        string
		msg        []string // substrings
		retryAfter string
	}{
		{name: "malformed JSON", path: "/v1/chat/completions", body: `{"model":`, status: 400, typ: "invalid_request_error", msg: []string{"not valid JSON"}},
		{name: "missing model", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"x"}]}`, status: 400, msg: []string{"model"}},
		{name: "missing messages", path: "/v1/chat/completions", body: `{"model":"gpt-4o"}`, status: 400, msg: []string{"messages"}},
		{name: "embeddings without input", path: "/v1/embeddings", body: `{"model":"text-embedding-3-small"}`, status: 400, msg: []string{"input"}},
		{name: "unknown model", path: "/v1/chat/completions", body: `{"model":"gpt-17","messages":[{"role":"user","content":"x"}]}`, status: 404, msg: []string{"gpt-17", "GET /v1/models"}},
		{name: "model cannot chat", path: "/v1/chat/completions", body: `{"model":"whisper-1","messages":[{"role":"user","content":"x"}]}`, status: 400, msg: []string{"cannot do chat"}},
		{name: "body too large", path: "/v1/chat/completions", body: hello, maxBody: 16, status: 413, msg: []string{"max_body_bytes"}},
		{name: "upstream 400 passes on", fault: openaiemu.Fault{Status: 400, Message: "Invalid value for 'temperature'"}, path: "/v1/chat/completions", body: hello, status: 400, typ: "invalid_request_error", msg: []string{"Invalid value for 'temperature'"}},
		{name: "upstream 429 keeps Retry-After", fault: openaiemu.Fault{Status: 429, Message: "Rate limit reached", RetryAfter: "7"}, path: "/v1/chat/completions", body: hello, status: 429, msg: []string{"Rate limit reached"}, retryAfter: "7"},
		{name: "upstream 500 is 502", fault: openaiemu.Fault{Status: 500, Message: "boom"}, path: "/v1/chat/completions", body: hello, status: 502, msg: []string{"openai", "boom"}},
		{name: "connection reset is 502", fault: openaiemu.Fault{Reset: true}, path: "/v1/chat/completions", body: hello, status: 502, msg: []string{"openai"}},
		{name: "unknown path", path: "/v1/completions-nope", body: `{}`, status: 404, msg: []string{"Unknown request URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := openaiemu.New(openaiemu.Options{APIKey: upstreamKey, Fault: tt.fault})
			defer emu.Close()
			srv := start(t, env{"OPENAI_API_KEY": upstreamKey, "OPENAI_BASE_URL": emu.URL}, tt.maxBody)
			resp, b := post(t, srv.URL+tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("not OpenAI's error shape: %s", b)
			}
			if tt.typ != "" && e.Error.Type != tt.typ {
				t.Errorf("type = %q, want %q", e.Error.Type, tt.typ)
			}
			for _, m := range tt.msg {
				if !strings.Contains(e.Error.Message, m) {
					t.Errorf("message %q lacks %q", e.Error.Message, m)
				}
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(string(b), upstreamKey) || strings.Contains(string(b), upstreamKey[len(upstreamKey)-8:]) {
				t.Errorf("the upstream key leaked: %s", b)
			}
		})
	}
}

func TestUpstreamAuthErrorNamesEnvNotKey(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "sk-the-right-key-999999"})
	defer emu.Close()
	srv := start(t, env{"OPENAI_API_KEY": upstreamKey, "OPENAI_BASE_URL": emu.URL}, 0)
	resp, b := post(t, srv.URL+"/v1/chat/completions", hello)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), "OPENAI_API_KEY") {
		t.Errorf("401 does not name OPENAI_API_KEY: %s", b)
	}
	if strings.Contains(string(b), upstreamKey[3:]) || strings.Contains(string(b), upstreamKey[len(upstreamKey)-4:]) {
		t.Errorf("key leaked: %s", b)
	}
}

func TestNoBackendIs503NamingHowToEnable(t *testing.T) {
	srv := start(t, env{}, 0)
	resp, b := post(t, srv.URL+"/v1/chat/completions", hello)
	if resp.StatusCode != 503 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	for _, want := range []string{"OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "Ollama"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("503 does not mention %s: %s", want, b)
		}
	}
	list := getModels(t, srv.URL)
	if list.Object != "list" || len(list.Data) != 0 {
		t.Fatalf("/v1/models = %+v, want an empty list", list)
	}
}

// modelList is GET /v1/models, as far as the tests read it.
type modelList struct {
	Object string `json:"object"`
	Data   []struct {
		ID      string `json:"id"`
		OwnedBy string `json:"owned_by"`
	} `json:"data"`
}

func getModels(t *testing.T, base string) modelList {
	t.Helper()
	resp, b := webtest.Send(t, "GET", base+"/v1/models", "", nil)
	var l modelList
	if err := json.Unmarshal(b, &l); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/models: %d %v: %s", resp.StatusCode, err, b)
	}
	return l
}

func TestModelsListsEnabledEntries(t *testing.T) {
	_, srv := withOpenAI(t, openaiemu.Options{})
	ids := map[string]bool{}
	for _, m := range getModels(t, srv.URL).Data {
		ids[m.ID] = true
		if m.OwnedBy != "openai" {
			t.Errorf("%s owned by %s: only openai is enabled", m.ID, m.OwnedBy)
		}
	}
	if !ids["gpt-4o"] || !ids["text-embedding-3-small"] || ids["claude-3-opus"] {
		t.Fatalf("models = %v", ids)
	}
}

// TestStreamIsNotBuffered: the client must receive the first chunk long
// before the upstream sends the last one.
func TestStreamIsNotBuffered(t *testing.T) {
	const gap = 150 * time.Millisecond
	_, srv := withOpenAI(t, openaiemu.Options{ChunkGap: gap, Reply: "one two three four five six"})
	start := time.Now()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var firstContent, last time.Duration
	var text strings.Builder
	done := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		data := strings.TrimPrefix(line, "data: ")
		if data == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage any `json:"usage"`
		}
		json.Unmarshal([]byte(data), &c)
		if c.Usage != nil {
			t.Errorf("usage chunk reached a client that did not ask: %s", data)
		}
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			if firstContent == 0 {
				firstContent = time.Since(start)
			}
			text.WriteString(c.Choices[0].Delta.Content)
		}
		last = time.Since(start)
	}
	if !done {
		t.Fatal("stream ended without [DONE]")
	}
	if text.String() != "one two three four five six" {
		t.Fatalf("text = %q", text.String())
	}
	// Six words, five gaps: the last chunk leaves the emulator >= 5*gap
	// after the first. A buffering gateway would deliver both together.
	if last-firstContent < 4*gap {
		t.Fatalf("first content at %v, last at %v: the stream was buffered", firstContent, last)
	}
}

func TestStreamCutReachesClientAsError(t *testing.T) {
	for _, f := range []openaiemu.Fault{{CutAfter: 2}, {ErrorAfter: 2}} {
		_, srv := withOpenAI(t, openaiemu.Options{Fault: f})
		resp, b := post(t, srv.URL+"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		s := string(b)
		if strings.Contains(s, "[DONE]") {
			t.Errorf("%+v: a broken stream ended with [DONE]: %s", f, s)
		}
		if !strings.Contains(s, `data: {"error":`) {
			t.Errorf("%+v: no error event: %s", f, s)
		}
	}
}

func TestOllamaCutStreamIsAnError(t *testing.T) {
	for _, f := range []ollamaemu.Fault{{CutAfter: 2}, {ErrorAfter: 2}} {
		emu := ollamaemu.New(ollamaemu.Options{Fault: f})
		srv := start(t, env{"OLLAMA_HOST": emu.URL}, 0)
		resp, b := post(t, srv.URL+"/v1/chat/completions", `{"model":"llama3-8b","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		emu.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%+v: status %d", f, resp.StatusCode)
		}
		if strings.Contains(string(b), "data: [DONE]") || !strings.Contains(string(b), `data: {"error":`) {
			t.Fatalf("%+v: a cut Ollama stream must end in an error event, not [DONE]: %s", f, b)
		}
		if !strings.Contains(string(b), `"content":"Hello "`) {
			t.Fatalf("%+v: the chunks before the cut are missing: %s", f, b)
		}
	}
}

func TestOllamaTranslation(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{LoadDuration: time.Millisecond, Models: []string{"llava:7b"},
		Capabilities: map[string][]string{"llava:7b": {"completion", "vision"}}})
	defer emu.Close()
	srv := start(t, env{"OLLAMA_HOST": emu.URL}, 0)
	resp, b := post(t, srv.URL+"/v1/chat/completions", `{"model":"ollama/llava:7b","max_tokens":3,"temperature":0.2,"messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"what is"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var c struct {
		Object  string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.Unmarshal(b, &c)
	if c.Object != "chat.completion" || c.Choices[0].Message.Content != "Hello from the " || c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 3 {
		t.Fatalf("response = %s", b)
	}
	reqs := emu.Requests()
	var sent struct {
		Model    string
		Messages []struct {
			Role    string
			Content string
			Images  []string
		}
		Options map[string]any
	}
	json.Unmarshal(reqs[len(reqs)-1].Body, &sent)
	if sent.Model != "llava:7b" || sent.Messages[0].Role != "system" || len(sent.Messages[1].Images) != 1 || sent.Options["num_predict"] != 3.0 {
		t.Fatalf("upstream request = %s", reqs[len(reqs)-1].Body)
	}
	// A link instead of inline image data is a 400 that says why.
	resp, b = post(t, srv.URL+"/v1/chat/completions", `{"model":"ollama/llava:7b","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "data: URLs") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestClientDisconnectCancelsUpstream: when the client goes away, the
// upstream request is cancelled at once.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	var cancelled atomic.Bool
	gotReq := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\n")
		w.(http.Flusher).Flush()
		close(gotReq)
		<-r.Context().Done()
		cancelled.Store(true)
	}))
	defer up.Close()
	srv := start(t, env{"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": up.URL + "/v1"}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-gotReq
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !cancelled.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the upstream request was not cancelled after the client left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestUnknownFieldsPassThrough(t *testing.T) {
	emu, srv := withOpenAI(t, openaiemu.Options{})
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x_vendor_flag":{"keep":[1,2,3]},"logit_bias":{"50256":-100},"seed":7}`
	resp, b := post(t, srv.URL+"/v1/chat/completions", body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	reqs := emu.Requests()
	got := string(reqs[len(reqs)-1].Body)
	if got != body {
		t.Fatalf("upstream body changed:\n got %s\nwant %s", got, body)
	}
	if resp.Header.Get("X-Tiergate-Model") != "gpt-4o" || resp.Header.Get("X-Tiergate-Provider") != "openai" {
		t.Fatalf("route headers: %v", resp.Header)
	}
}

func TestReadyz(t *testing.T) {
	srv := start(t, env{}, 0)
	r, _ := http.Get(srv.URL + "/readyz")
	r.Body.Close()
	if r.StatusCode != 503 {
		t.Fatalf("readyz with no backend = %d", r.StatusCode)
	}
	_, srv = withOpenAI(t, openaiemu.Options{})
	r, _ = http.Get(srv.URL + "/readyz")
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("readyz = %d", r.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestNewRequiresRouter: no quiet default router; the caller wires one.
func TestNewRequiresRouter(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Router") {
			t.Errorf("gateway.New without a router: recovered %v, want a panic naming the Router", r)
		}
	}()
	gateway.New(gateway.Options{})
}
