package anthropicemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/testing/golden"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "sk-ant-emu-test-key"

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	t.Cleanup(s.Close)
	return s
}

// client sends raw requests with its own transport, closed at the end.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type call struct {
	method, path, body string
	header             map[string]string
}

func do(t *testing.T, c *http.Client, s *Server, cl call) (*http.Response, []byte) {
	t.Helper()
	if cl.method == "" {
		cl.method = "POST"
	}
	if cl.path == "" {
		cl.path = "/v1/messages"
	}
	req, _ := http.NewRequest(cl.method, s.URL+cl.path, strings.NewReader(cl.body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("anthropic-version", "2026-10-21")
	req.Header.Set("x-api-key", key)
	for k, v := range cl.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return webtest.Do(t, c, req)
}

const basic = `{"model":"claude-sonnet-4-6","max_tokens":1024,"messages":[{"role":"user","content":"Hello, Claude"}]}`

// TestErrorBodies checks the requests the real API refuses and its bodies.
func TestErrorBodies(t *testing.T) {
	s := start(t, Options{APIKey: key})
	c := client(t)
	cases := []struct {
		name   string
		call   call
		status int
		typ    string
		msg    string
	}{
		{"no version", call{body: basic, header: map[string]string{"anthropic-version": ""}}, 400, "invalid_request_error", "anthropic-version: header is required"},
		{"no key", call{body: basic, header: map[string]string{"x-api-key": ""}}, 401, "authentication_error", "x-api-key header is required"},
		{"wrong key", call{body: basic, header: map[string]string{"x-api-key": "sk-ant-other"}}, 401, "authentication_error", "invalid x-api-key"},
		{"wrong bearer", call{body: basic, header: map[string]string{"x-api-key": "", "Authorization": "Bearer sk-ant-other"}}, 401, "authentication_error", "invalid x-api-key"},
		{"no model", call{body: `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`}, 400, "invalid_request_error", "model: Field required"},
		{"no max_tokens", call{body: `{"model":"claude-opus-4-6","messages":[{"role":"user","content":"x"}]}`}, 400, "invalid_request_error", "max_tokens: Field required"},
		{"no messages", call{body: `{"model":"claude-opus-4-6","max_tokens":5}`}, 400, "invalid_request_error", "messages: Field required"},
		{"roles", call{body: `{"model":"claude-opus-4-6","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`}, 400, "invalid_request_error",
			`messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row`},
		{"empty text", call{body: `{"model":"claude-opus-4-6","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`}, 400, "invalid_request_error", "messages: text content blocks must be non-empty"},
		{"blank text", call{body: `{"model":"claude-opus-4-6","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"  "}]}]}`}, 400, "invalid_request_error", "messages: text content blocks must contain non-whitespace text"},
		{"temperature", call{body: `{"model":"claude-opus-4-6","max_tokens":5,"temperature":1,"messages":[{"role":"user","content":"x"}]}`}, 400, "invalid_request_error", "temperature: Extra inputs are not permitted"},
		{"unknown model", call{body: `{"model":"claude-2.1","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`}, 404, "not_found_error", "model: claude-2.1"},
		{"unknown model id", call{method: "GET", path: "/v1/models/claude-2.1"}, 404, "not_found_error", "model: claude-2.1"},
		{"bad json", call{body: `{"model":`}, 400, "invalid_request_error", "There was an error parsing the body of your request, please check that your request is valid JSON."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, c, s, tc.call)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			var body struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			if body.Type != "error" || body.Error.Type != tc.typ || body.Error.Message != tc.msg || !strings.HasPrefix(body.RequestID, "req_") {
				t.Errorf("body %s, want type %q message %q", b, tc.typ, tc.msg)
			}
			if resp.Header.Get("request-id") != body.RequestID {
				t.Errorf("request-id header %q, body %q", resp.Header.Get("request-id"), body.RequestID)
			}
		})
	}
	// The 2023-06-01 API version still has the sampling parameters.
	resp, b := do(t, c, s, call{body: `{"model":"claude-opus-4-6","max_tokens":5,"temperature":0.5,"messages":[{"role":"user","content":"x"}]}`,
		header: map[string]string{"anthropic-version": "2023-06-01"}})
	if resp.StatusCode != 200 {
		t.Errorf("temperature under 2023-06-01: %d %s", resp.StatusCode, b)
	}
	// The 2026-10-21 SDKs send the key as a bearer token.
	resp, b = do(t, c, s, call{body: basic, header: map[string]string{"x-api-key": "", "Authorization": "Bearer " + key}})
	if resp.StatusCode != 200 {
		t.Errorf("bearer key: %d %s", resp.StatusCode, b)
	}
	if n := len(s.Requests()); n != len(cases)+2 {
		t.Errorf("request log holds %d requests, want %d", n, len(cases)+2)
	}
}

type message struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Role       string  `json:"role"`
	Model      string  `json:"model"`
	StopReason string  `json:"stop_reason"`
	StopSeq    *string `json:"stop_sequence"`
	Content    []struct {
		Type  string          `json:"type"`
		Text  string          `json:"text"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"content"`
	Usage struct {
		Input      int `json:"input_tokens"`
		CacheWrite int `json:"cache_creation_input_tokens"`
		CacheRead  int `json:"cache_read_input_tokens"`
		Output     int `json:"output_tokens"`
	} `json:"usage"`
}

func TestUnary(t *testing.T) {
	s := start(t, Options{CacheReadTokens: 1})
	c := client(t)
	resp, b := do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":"Hello, Claude"}]}`})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || m.Role != "assistant" || m.Model != "claude-sonnet-4-6" || m.StopReason != "end_turn" || m.StopSeq != nil ||
		len(m.Content) != 1 || m.Content[0].Type != "text" || m.Content[0].Text != DefaultReply || !strings.HasPrefix(m.ID, "msg_") {
		t.Errorf("message %s", b)
	}
	// 4 prompt words, one of them read from the cache; 9 reply words.
	if m.Usage.Input != 3 || m.Usage.CacheRead != 1 || m.Usage.CacheWrite != 0 || m.Usage.Output != 9 {
		t.Errorf("usage %+v", m.Usage)
	}

	// Tools offered: the first is called with the arguments.
	resp, b = do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":1024,"messages":[{"role":"user","content":"weather?"}],
		"tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"other","input_schema":{"type":"object"}}]}`})
	json.Unmarshal(b, &m)
	if resp.StatusCode != 200 || m.StopReason != "tool_use" || len(m.Content) != 1 || m.Content[0].Type != "tool_use" ||
		m.Content[0].Name != "get_weather" || string(m.Content[0].Input) != DefaultToolArgs || !strings.HasPrefix(m.Content[0].ID, "toolu_") {
		t.Errorf("tool call %s", b)
	}
	// A named tool choice picks that tool; "none" answers with text.
	_, b = do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":1024,"messages":[{"role":"user","content":"x"}],
		"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"b"}}`})
	json.Unmarshal(b, &m)
	if m.Content[0].Name != "b" {
		t.Errorf("named tool choice: %s", b)
	}
	_, b = do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":1024,"messages":[{"role":"user","content":"x"}],
		"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"}}`})
	json.Unmarshal(b, &m)
	if m.StopReason != "end_turn" || m.Content[0].Type != "text" {
		t.Errorf("tool_choice none: %s", b)
	}
	// max_tokens and stop_sequences end the reply early.
	_, b = do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":2,"messages":[{"role":"user","content":"x"}]}`})
	json.Unmarshal(b, &m)
	if m.StopReason != "max_tokens" || m.Content[0].Text != "Hello from " || m.Usage.Output != 2 {
		t.Errorf("max_tokens: %s", b)
	}
	_, b = do(t, c, s, call{body: `{"model":"claude-sonnet-4-6","max_tokens":100,"stop_sequences":["emulator."],"messages":[{"role":"user","content":"x"}]}`})
	json.Unmarshal(b, &m)
	if m.StopReason != "stop_sequence" || m.StopSeq == nil || *m.StopSeq != "emulator." || m.Content[0].Text != "Hello from the " {
		t.Errorf("stop_sequences: %s", b)
	}
}

type event struct {
	name string
	data map[string]any
	raw  string
}

// readEvents parses an SSE body strictly as the API frames it: an event
// line, a data line, a blank line.
func readEvents(t *testing.T, b []byte) []event {
	t.Helper()
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		ev := sc.Text()
		if !sc.Scan() {
			t.Fatalf("event %q without data", ev)
		}
		data := sc.Text()
		if !sc.Scan() || sc.Text() != "" {
			t.Fatalf("event %q not followed by a blank line", ev)
		}
		name, ok1 := strings.CutPrefix(ev, "event: ")
		raw, ok2 := strings.CutPrefix(data, "data: ")
		if !ok1 || !ok2 {
			t.Fatalf("bad framing: %q / %q", ev, data)
		}
		e := event{name: name, raw: raw}
		if err := json.Unmarshal([]byte(raw), &e.data); err != nil {
			t.Fatalf("data of %s: %v", name, err)
		}
		if e.data["type"] != name {
			t.Errorf("event %s carries type %v", name, e.data["type"])
		}
		out = append(out, e)
	}
	return out
}

func names(evs []event) string {
	var n []string
	for _, e := range evs {
		n = append(n, e.name)
	}
	return strings.Join(n, ",")
}

func TestStream(t *testing.T) {
	s := start(t, Options{Reply: "one two three", CacheWriteTokens: 2})
	c := client(t)
	resp, b := do(t, c, s, call{body: `{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"say three words please"}]}`})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	golden.File(t, "stream_text.sse", b)
	evs := readEvents(t, b)
	want := "message_start,content_block_start,ping,content_block_delta,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop"
	if names(evs) != want {
		t.Fatalf("events %s, want %s", names(evs), want)
	}
	var text string
	for _, e := range evs[3:6] {
		text += e.data["delta"].(map[string]any)["text"].(string)
	}
	if text != "one two three" {
		t.Errorf("text %q", text)
	}
	u := evs[7].data["usage"].(map[string]any)
	if u["input_tokens"].(float64) != 2 || u["cache_creation_input_tokens"].(float64) != 2 || u["output_tokens"].(float64) != 3 {
		t.Errorf("final usage %v", u)
	}

	// Tool use streams input_json_delta pieces that add up to the arguments.
	args := `{"city":"Paris","days":[1,2,3]}`
	s.SetOptions(Options{ToolArgs: args})
	_, b = do(t, c, s, call{body: `{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"forecast","input_schema":{"type":"object"}}]}`})
	golden.File(t, "stream_tool_use.sse", b)
	evs = readEvents(t, b)
	var joined string
	pieces := 0
	for _, e := range evs {
		if e.name == "content_block_delta" {
			d := e.data["delta"].(map[string]any)
			if d["type"] != "input_json_delta" {
				t.Errorf("delta type %v", d["type"])
			}
			joined += d["partial_json"].(string)
			pieces++
		}
	}
	if joined != args || pieces != (len(args)+ToolArgPiece-1)/ToolArgPiece {
		t.Errorf("pieces %d joined %q", pieces, joined)
	}
	md := evs[len(evs)-2].data
	if md["delta"].(map[string]any)["stop_reason"] != "tool_use" || md["usage"].(map[string]any)["output_tokens"].(float64) != float64(pieces) {
		t.Errorf("message_delta %v", md)
	}
}

func TestFaults(t *testing.T) {
	c := client(t)
	streamBody := `{"model":"claude-opus-4-6","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}]}`

	t.Run("status", func(t *testing.T) {
		s := start(t, Options{Fault: Fault{Status: 529, RetryAfter: "12"}})
		resp, b := do(t, c, s, call{body: basic})
		if resp.StatusCode != 529 || resp.Header.Get("Retry-After") != "12" ||
			!strings.Contains(string(b), `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_`) {
			t.Errorf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
		s.SetOptions(Options{Fault: Fault{Status: 429, Message: "slow down"}})
		resp, b = do(t, c, s, call{method: "GET", path: "/v1/models"})
		if resp.StatusCode != 429 || !strings.Contains(string(b), `"error":{"type":"rate_limit_error","message":"slow down"}`) {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("error event", func(t *testing.T) {
		s := start(t, Options{Fault: Fault{ErrorAfter: 3}})
		_, b := do(t, c, s, call{body: streamBody})
		evs := readEvents(t, b)
		last := evs[len(evs)-1]
		if names(evs) != "message_start,content_block_start,ping,content_block_delta,content_block_delta,content_block_delta,error" ||
			last.raw != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` {
			t.Errorf("events %s, last %s", names(evs), last.raw)
		}
	})
	t.Run("cut", func(t *testing.T) {
		s := start(t, Options{Fault: Fault{CutAfter: 2}})
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(streamBody))
		req.Header.Set("anthropic-version", "2026-10-21")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read error %v, want unexpected EOF", err)
		}
		if strings.Count(string(b), "event: content_block_delta") != 2 || strings.Contains(string(b), "message_stop") {
			t.Errorf("body %s", b)
		}
	})
	t.Run("reset", func(t *testing.T) {
		s := start(t, Options{Fault: Fault{Reset: true}})
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(basic))
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Error("reset fault answered")
		}
	})
	t.Run("hang", func(t *testing.T) {
		s := start(t, Options{Fault: Fault{Hang: true}})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/messages", strings.NewReader(basic))
		if resp, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				resp.Body.Close()
			}
			t.Errorf("hang: err %v", err)
		}
	})
}

func TestModels(t *testing.T) {
	s := start(t, Options{APIKey: key})
	c := client(t)
	resp, b := do(t, c, s, call{method: "GET", path: "/v1/models"})
	var list struct {
		Data []struct {
			Type, ID, DisplayName, CreatedAt string
		} `json:"data"`
		HasMore bool   `json:"has_more"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
	}
	if err := json.Unmarshal(b, &list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if len(list.Data) != len(Models()) || list.HasMore || list.FirstID != Models()[0] || list.LastID != Models()[len(Models())-1] {
		t.Errorf("list %s", b)
	}
	for i, m := range list.Data {
		if m.Type != "model" || m.ID != Models()[i] {
			t.Errorf("entry %d: %+v", i, m)
		}
	}
	resp, b = do(t, c, s, call{method: "GET", path: "/v1/models/claude-opus-4-6"})
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"display_name":"Claude Opus 4.6"`) {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
