package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// sseEvent is one event of Anthropic's stream as a client reads it.
type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

// msgAnswer is what a Messages client got.
type msgAnswer struct {
	status int
	header http.Header
	body   []byte
	events []sseEvent
}

// text is the answer's text: a Message's text blocks, or a stream's
// text deltas.
func (a msgAnswer) text() string {
	var s strings.Builder
	if a.events == nil {
		var m struct {
			Content []struct{ Type, Text string } `json:"content"`
		}
		json.Unmarshal(a.body, &m)
		for _, b := range m.Content {
			s.WriteString(b.Text)
		}
		return s.String()
	}
	for _, e := range a.events {
		if d, ok := e.data["delta"].(map[string]any); ok && d["type"] == "text_delta" {
			s.WriteString(d["text"].(string))
		}
	}
	return s.String()
}

// names are the stream's event names, pings left out.
func (a msgAnswer) names() []string {
	var out []string
	for _, e := range a.events {
		if e.name != "ping" {
			out = append(out, e.name)
		}
	}
	return out
}

// postMessages sends a Messages request to path (default /v1/messages).
func postMessages(t *testing.T, url, path, body string, h map[string]string) msgAnswer {
	t.Helper()
	if path == "" {
		path = "/v1/messages"
	}
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := msgAnswer{status: resp.StatusCode, header: resp.Header}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		a.body, _ = io.ReadAll(resp.Body)
		return a
	}
	a.events = []sseEvent{}
	r := bufio.NewReader(resp.Body)
	var cur sseEvent
	for {
		line, err := r.ReadString('\n')
		a.body = append(a.body, line...)
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimSpace(line[len("event: "):])
			cur.raw = line
		case strings.HasPrefix(line, "data: "):
			cur.raw += line
			if json.Unmarshal([]byte(line[len("data: "):]), &cur.data) != nil {
				t.Errorf("event %s: data is not JSON: %q", cur.name, line)
			}
		case line == "\n":
			a.events = append(a.events, cur)
			cur = sseEvent{}
		}
		if err != nil {
			return a
		}
	}
}

// backendKinds are the adapter types every Messages test runs on.
var backendKinds = []string{"anthropic", "openai", "gemini", "ollama"}

const (
	msgHello = `{"model":"auto","max_tokens":64,"messages":[{"role":"user","content":"Hello there"}]}`
	msgTools = `{"model":"auto","max_tokens":64,"tools":[{"name":"get_weather","description":"Get the weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"messages":[{"role":"user","content":"Weather in Paris?"}]}`
)

func streamed(body string) string { return strings.Replace(body, `{`, `{"stream":true,`, 1) }

// TestMessagesOnEveryBackend: /v1/messages answers in Anthropic's shape
// from every kind of backend, unary and streamed, text and tool use.
func TestMessagesOnEveryBackend(t *testing.T) {
	for _, typ := range backendKinds {
		t.Run(typ, func(t *testing.T) {
			_, url := faultFleet(t, typ)
			a := postMessages(t, url, "", msgHello, nil)
			var m struct {
				ID, Type, Role, Model string
				StopReason            string `json:"stop_reason"`
				Usage                 struct {
					Input  int `json:"input_tokens"`
					Output int `json:"output_tokens"`
				}
			}
			if err := json.Unmarshal(a.body, &m); err != nil || a.status != 200 {
				t.Fatalf("unary: %d %s", a.status, a.body)
			}
			if !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.StopReason != "end_turn" || m.Usage.Output == 0 {
				t.Errorf("unary: not a whole Message: %s", a.body)
			}
			if a.text() != emu.DefaultReply {
				t.Errorf("unary text %q, want %q", a.text(), emu.DefaultReply)
			}
			if got := a.header.Get("X-Tiergate-Model"); got != "bad-a" {
				t.Errorf("answered by %q, want bad-a", got)
			}

			s := postMessages(t, url, "", streamed(msgHello), nil)
			names := s.names()
			if s.status != 200 || len(names) < 5 || names[0] != "message_start" || names[len(names)-1] != "message_stop" || names[len(names)-2] != "message_delta" {
				t.Fatalf("stream: %d events %v: %s", s.status, names, s.body)
			}
			if s.text() != emu.DefaultReply {
				t.Errorf("stream text %q, want %q", s.text(), emu.DefaultReply)
			}
			md := s.events[len(s.events)-2].data
			if d := md["delta"].(map[string]any); d["stop_reason"] != "end_turn" {
				t.Errorf("message_delta %v", md)
			}
			if u := md["usage"].(map[string]any); u["output_tokens"].(float64) <= 0 {
				t.Errorf("message_delta has no output_tokens: %v", md)
			}

			tu := postMessages(t, url, "", msgTools, nil)
			var tm struct {
				StopReason string `json:"stop_reason"`
				Content    []struct {
					Type, ID, Name string
					Input          json.RawMessage
				}
			}
			json.Unmarshal(tu.body, &tm)
			var call *struct {
				Type, ID, Name string
				Input          json.RawMessage
			}
			for i := range tm.Content {
				if tm.Content[i].Type == "tool_use" {
					call = &tm.Content[i]
				}
			}
			if tu.status != 200 || tm.StopReason != "tool_use" || call == nil || call.Name != "get_weather" || call.ID == "" || !jsonEqual(call.Input, emu.DefaultToolArgs) {
				t.Fatalf("tool use: %d %s", tu.status, tu.body)
			}

			ts := postMessages(t, url, "", streamed(msgTools), nil)
			var args strings.Builder
			started := false
			for _, e := range ts.events {
				if cb, ok := e.data["content_block"].(map[string]any); ok && cb["type"] == "tool_use" && cb["name"] == "get_weather" {
					started = true
				}
				if d, ok := e.data["delta"].(map[string]any); ok && d["type"] == "input_json_delta" {
					args.WriteString(d["partial_json"].(string))
				}
			}
			if !started || !jsonEqual(json.RawMessage(args.String()), emu.DefaultToolArgs) {
				t.Fatalf("streamed tool use: args %q: %s", args.String(), ts.body)
			}

			// The round trip: the tool's result goes back with the call.
			round := fmt.Sprintf(`{"model":"auto","max_tokens":64,"tool_choice":{"type":"none"},"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[
				{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":%q,"name":"get_weather","input":%s}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":%q,"content":[{"type":"text","text":"18C and sunny"}]},{"type":"text","text":"Thanks"}]}]}`,
				call.ID, call.Input, call.ID)
			ra := postMessages(t, url, "", round, nil)
			if ra.status != 200 || ra.text() != emu.DefaultReply {
				t.Fatalf("round trip: %d %s", ra.status, ra.body)
			}
		})
	}
}

func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// emuIDs are the emulator's numbered ids, which differ per request.
var emuIDs = regexp.MustCompile(`(msg_emu|toolu_emu|req_emu)\d+`)

// TestMessagesPassThrough: to an Anthropic backend the client's body
// goes byte for byte but for the model, with its anthropic-version and
// anthropic-beta; the answer, and every event of a stream, comes back
// as Anthropic sent it.
func TestMessagesPassThrough(t *testing.T) {
	bad, url := faultFleet(t, "anthropic")
	h := map[string]string{"anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04,extra-2025"}
	body := `{ "model" : "auto", "max_tokens": 64, "temperature": 0.5, "top_k": 3, "metadata": {"user_id": "u-1"},
  "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
  "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]}`
	for _, stream := range []bool{false, true} {
		sent := body
		if stream {
			sent = streamed(body)
		}
		a := postMessages(t, url, "", sent, h)
		if a.status != 200 {
			t.Fatalf("stream=%v: %d %s", stream, a.status, a.body)
		}
		reqs := bad.requests()
		got := reqs[len(reqs)-1]
		want, _ := openaiwire.Rewrite{Model: bad.upstreams[0]}.Apply([]byte(sent))
		if string(got.Body) != string(want) {
			t.Errorf("stream=%v: upstream got\n%s\nwant\n%s", stream, got.Body, want)
		}
		if got.Header.Get("anthropic-version") != "2023-06-01" || strings.Join(got.Header.Values("anthropic-beta"), ",") != h["anthropic-beta"] {
			t.Errorf("stream=%v: upstream headers %v", stream, got.Header)
		}
		if got.Header.Get("x-api-key") != failKey && got.Header.Get("Authorization") != "Bearer "+failKey {
			t.Errorf("stream=%v: the adapter's key did not go upstream", stream)
		}
		// The same request straight to the emulator: the same bytes.
		direct := postMessages(t, strings.TrimSuffix(bad.url, "/"), "", string(want), map[string]string{
			"anthropic-version": "2023-06-01", "x-api-key": failKey})
		if g, w := emuIDs.ReplaceAllString(string(a.body), "$1#"), emuIDs.ReplaceAllString(string(direct.body), "$1#"); g != w {
			t.Errorf("stream=%v: the client got\n%s\nAnthropic sent\n%s", stream, g, w)
		}
		if d := a.header.Get("X-Tiergate-Dropped"); d != "" {
			t.Errorf("stream=%v: X-Tiergate-Dropped %q, but the body passed through whole", stream, d)
		}
		if stream && a.events[0].name != "message_start" {
			t.Errorf("stream does not begin with message_start: %s", a.body)
		}
	}
}

// TestMessagesNativeStreamIsNotBuffered: each event of an Anthropic
// stream reaches the client while the upstream is still sending.
func TestMessagesNativeStreamIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	var released atomic.Bool
	timer := time.AfterFunc(10*time.Second, func() { released.Store(true); close(release) })
	defer timer.Stop()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(name, data string) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
			w.(http.Flusher).Flush()
		}
		send("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`)
		send("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		send("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		send("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}`)
		send("content_block_stop", `{"type":"content_block_stop","index":0}`)
		send("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`)
		send("message_stop", `{"type":"message_stop"}`)
	}))
	defer up.Close()
	yaml := `providers:
  a: {type: anthropic, base_url: "` + up.URL + `", api_key_env: KA}
models:
  - {id: c, provider: a, upstream: claude-x, openness: proprietary, deployment: saas, tasks: [chat]}
`
	getenv := func(k string) string { return map[string]string{"KA": "k-a"}[k] }
	cfg, err := config.Load("one", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	url := startGateway(t, cfg, getenv)
	resp, err := http.Post(url+"/v1/messages", "application/json", strings.NewReader(`{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before its first delta: %v", err)
		}
		if strings.Contains(line, `"text":"Hello"`) {
			break
		}
	}
	if released.Load() {
		t.Fatal("the first delta reached the client only after the upstream finished: the stream was buffered")
	}
	timer.Stop()
	close(release)
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), "event: message_stop\n") {
		t.Fatalf("the rest of the stream: %s", rest)
	}
}

// TestMessagesFallBack: a backend that fails before content (an error
// status, or a stream cut after its opening events) is left for the
// next, and the client sees one whole answer.
func TestMessagesFallBack(t *testing.T) {
	for _, typ := range backendKinds {
		t.Run(typ, func(t *testing.T) {
			bad, url := faultFleet(t, typ)
			for _, tc := range []struct {
				name   string
				fault  emu.Fault
				stream bool
			}{
				{"500", emu.Fault{Status: 500, Message: "boom"}, false},
				{"500 stream", emu.Fault{Status: 500, Message: "boom"}, true},
				{"cut after the opening", emu.Fault{CutAtStart: true}, true},
			} {
				bad.setFault(tc.fault)
				body := msgHello
				if tc.stream {
					body = streamed(body)
				}
				a := postMessages(t, url, "", body, nil)
				if a.status != 200 || a.text() != emu.DefaultReply || a.header.Get("X-Tiergate-Model") != "good" {
					t.Fatalf("%s: %d from %q: %s", tc.name, a.status, a.header.Get("X-Tiergate-Model"), a.body)
				}
				if tc.stream {
					starts := 0
					for _, n := range a.names() {
						if n == "message_start" {
							starts++
						}
					}
					if n := a.names(); starts != 1 || n[0] != "message_start" || n[len(n)-1] != "message_stop" {
						t.Fatalf("%s: events %v", tc.name, n)
					}
				}
			}
		})
	}
}

// anthropicError is Anthropic's error body.
type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestMessagesErrors: errors on /v1/messages, the gateway's and the
// backends', leave in Anthropic's shape with the right status.
func TestMessagesErrors(t *testing.T) {
	pinned := strings.Replace(msgHello, `"auto"`, `"bad-a"`, 1)
	for _, tc := range []struct {
		name, path, body string
		fault            emu.Fault
		status           int
		typ, msg, retry  string
	}{
		{name: "no max_tokens", body: `{"model":"auto","messages":[{"role":"user","content":"x"}]}`, status: 400, typ: "invalid_request_error", msg: "max_tokens"},
		{name: "not JSON", body: `{"model":`, status: 400, typ: "invalid_request_error"},
		{name: "unknown model", body: strings.Replace(msgHello, `"auto"`, `"no-such-model"`, 1), status: 404, typ: "not_found_error", msg: "no-such-model"},
		{name: "unknown path", path: "/v1/messages/nope", body: `{}`, status: 404, typ: "not_found_error", msg: "Unknown request URL"},
		{name: "upstream 429", body: pinned, fault: emu.Fault{Status: 429, RetryAfter: "7", Message: "slow down"}, status: 429, typ: "rate_limit_error", msg: "slow down", retry: "7"},
		{name: "upstream 403", body: pinned, fault: emu.Fault{Status: 403, Message: "not for you"}, status: 403, typ: "permission_error", msg: "not for you"},
		{name: "upstream 529", body: pinned, fault: emu.Fault{Status: 529}, status: 503, typ: "overloaded_error"},
		{name: "upstream 500", body: pinned, fault: emu.Fault{Status: 500, Message: "boom"}, status: 502, typ: "api_error", msg: "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, url := faultFleet(t, "anthropic") // a fleet each: a fault cools its backend down
			bad.setFault(tc.fault)
			a := postMessages(t, url, tc.path, tc.body, nil)
			var e anthropicError
			if err := json.Unmarshal(a.body, &e); err != nil || e.Type != "error" || e.Error.Message == "" {
				t.Fatalf("not Anthropic's error shape: %d %s", a.status, a.body)
			}
			if a.status != tc.status || e.Error.Type != tc.typ || !strings.Contains(e.Error.Message, tc.msg) {
				t.Errorf("got %d %s, want %d %s with %q", a.status, a.body, tc.status, tc.typ, tc.msg)
			}
			if got := a.header.Get("Retry-After"); got != tc.retry {
				t.Errorf("Retry-After %q, want %q", got, tc.retry)
			}
			if strings.Contains(string(a.body), failKey) {
				t.Errorf("the upstream key leaked: %s", a.body)
			}
		})
	}
	t.Run("mid-stream", func(t *testing.T) {
		bad, url := faultFleet(t, "anthropic")
		bad.setFault(emu.Fault{ErrorAfter: 2})
		a := postMessages(t, url, "", streamed(pinned), nil)
		n := a.names()
		if a.status != 200 || len(n) < 2 || n[len(n)-1] != "error" || n[0] != "message_start" {
			t.Fatalf("events %v: %s", n, a.body)
		}
		last := a.events[len(a.events)-1]
		if e := last.data["error"].(map[string]any); last.data["type"] != "error" || e["type"] != "overloaded_error" {
			t.Errorf("error event %s", last.raw)
		}
	})
}

// TestMessagesAuthErrors: the gateway's own 401 (no key, a wrong key),
// 403 (a model the key's policy forbids) and 429 (the key's rpm) on
// /v1/messages are Anthropic's.
func TestMessagesAuthErrors(t *testing.T) {
	good := openaiemu.New(openaiemu.Options{APIKey: "k-good"})
	defer good.Close()
	key := "tg-" + strings.Repeat("k", 43)
	yaml := `auth: {mode: keys, keys: [{name: ci, key: ` + key + `, policy: {rpm: 2, models: [good]}}]}
providers:
  good: {type: openai, base_url: "` + good.URL + `", api_key_env: KG}
models:
  - {id: good, provider: good, upstream: gpt-good, openness: proprietary, deployment: saas, tasks: [chat]}
  - {id: other, provider: good, upstream: gpt-other, openness: proprietary, deployment: saas, tasks: [chat]}
`
	getenv := func(k string) string { return map[string]string{"KG": "k-good"}[k] }
	cfg, err := config.Load("auth", []byte(yaml), getenv)
	if err != nil {
		t.Fatal(err)
	}
	url := startGateway(t, cfg, getenv)
	body := strings.Replace(msgHello, `"auto"`, `"good"`, 1)
	for _, tc := range []struct {
		name   string
		h      map[string]string
		status int
		typ    string
	}{
		{"no key", nil, 401, "authentication_error"},
		{"wrong x-api-key", map[string]string{"x-api-key": "tg-wrong"}, 401, "authentication_error"},
		{"a model the key may not use", map[string]string{"x-api-key": key, "model": "other"}, 403, "permission_error"},
		{"x-api-key", map[string]string{"x-api-key": key}, 200, ""},
		// The refused request above counted toward the rpm too.
		{"over the key's rpm", map[string]string{"x-api-key": key}, 429, "rate_limit_error"},
	} {
		b := body
		if m := tc.h["model"]; m != "" {
			b = strings.Replace(body, `"good"`, `"`+m+`"`, 1)
			delete(tc.h, "model")
		}
		a := postMessages(t, url, "", b, tc.h)
		if a.status != tc.status {
			t.Fatalf("%s: %d %s", tc.name, a.status, a.body)
		}
		if tc.typ == "" {
			continue
		}
		var e anthropicError
		if json.Unmarshal(a.body, &e) != nil || e.Type != "error" || e.Error.Type != tc.typ {
			t.Errorf("%s: %s", tc.name, a.body)
		}
	}
}

// TestMessagesCountTokens: Anthropic counts for an Anthropic backend;
// another backend's count is the gateway's estimate, said so.
func TestMessagesCountTokens(t *testing.T) {
	body := `{"model":"auto","system":"Be brief.","messages":[{"role":"user","content":"one two three four five six seven eight"}]}`
	for _, typ := range backendKinds {
		t.Run(typ, func(t *testing.T) {
			bad, url := faultFleet(t, typ)
			a := postMessages(t, url, "/v1/messages/count_tokens", body, map[string]string{"anthropic-version": "2023-06-01"})
			var c struct {
				InputTokens int `json:"input_tokens"`
			}
			if a.status != 200 || json.Unmarshal(a.body, &c) != nil || c.InputTokens <= 0 {
				t.Fatalf("%d %s", a.status, a.body)
			}
			estimate := a.header.Get("X-Tiergate-Token-Count") == "estimate"
			if typ == "anthropic" {
				reqs := bad.requests()
				if estimate || c.InputTokens != 10 || reqs[len(reqs)-1].Path != "/v1/messages/count_tokens" {
					t.Errorf("not Anthropic's count: %s (estimate %v)", a.body, estimate)
				}
				return
			}
			if !estimate {
				t.Errorf("an estimate not marked as one: %s", a.body)
			}
		})
	}
}

// TestMessagesModelNames: the names Claude Code sends reach a catalog
// entry by id or upstream name, dated or -latest, else Anthropic; a
// Claude name no backend serves goes where router.aliases says (auto by
// default).
func TestMessagesModelNames(t *testing.T) {
	_, url := faultFleet(t, "anthropic")
	for _, name := range []string{"bad-a", "claude-sonnet-4-6", "claude-sonnet-4-6-20260217", "claude-sonnet-4-6-latest", "claude-haiku-4-5-20251001"} {
		a := postMessages(t, url, "", strings.Replace(msgHello, `"auto"`, `"`+name+`"`, 1), nil)
		want := "bad-a"
		if strings.Contains(name, "haiku") {
			want = "bad-b"
		}
		if a.status != 200 || a.header.Get("X-Tiergate-Model") != want {
			t.Errorf("%s: %d from %q, want %s: %s", name, a.status, a.header.Get("X-Tiergate-Model"), want, a.body)
		}
	}
	// A Claude name outside the catalog goes to the provider that speaks
	// the Messages API, which knows its own names.
	if a := postMessages(t, url, "", strings.Replace(msgHello, `"auto"`, `"claude-opus-4-6"`, 1), nil); a.status != 200 || a.header.Get("X-Tiergate-Model") != "bad/claude-opus-4-6" {
		t.Errorf("claude-opus-4-6: %d from %q: %s", a.status, a.header.Get("X-Tiergate-Model"), a.body)
	}
	if a := postMessages(t, url, "", strings.Replace(msgHello, `"auto"`, `"claude-opus-4-1"`, 1), nil); a.status != 404 || !strings.Contains(string(a.body), "not_found_error") {
		t.Errorf("claude-opus-4-1, which Anthropic does not serve: %d %s", a.status, a.body)
	}

	// The default configuration, with only an OpenAI key.
	_, srv := withOpenAI(t, openaiemu.Options{})
	for _, name := range []string{"claude-opus-4-1", "claude-sonnet-4-5-20250929", "claude-3-5-haiku-latest"} {
		a := postMessages(t, srv.URL, "", strings.Replace(msgHello, `"auto"`, `"`+name+`"`, 1), nil)
		if a.status != 200 || a.header.Get("X-Tiergate-Provider") != "openai" {
			t.Errorf("%s: %d from %q: %s", name, a.status, a.header.Get("X-Tiergate-Provider"), a.body)
		}
	}
}

// TestMessagesNativeOnly: what only Anthropic serves (a server tool, a
// document) goes to an Anthropic backend whole, never to another; with
// none to take it, the client gets the 400 naming the field.
func TestMessagesNativeOnly(t *testing.T) {
	body := `{"model":"auto","max_tokens":64,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}],
  "messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"A short note."}},{"type":"text","text":"Summarise it"}]}]}`
	bad, url := faultFleet(t, "anthropic")
	a := postMessages(t, url, "", body, nil)
	if a.status != 200 || a.header.Get("X-Tiergate-Model") != "bad-a" {
		t.Fatalf("%d from %q: %s", a.status, a.header.Get("X-Tiergate-Model"), a.body)
	}
	reqs := bad.requests()
	if want, _ := (openaiwire.Rewrite{Model: bad.upstreams[0]}).Apply([]byte(body)); string(reqs[len(reqs)-1].Body) != string(want) {
		t.Errorf("Anthropic got %s", reqs[len(reqs)-1].Body)
	}
	// Anthropic failing, the other provider is not tried with it.
	bad.setFault(emu.Fault{Status: 500, Message: "boom"})
	a = postMessages(t, url, "", body, nil)
	if a.status == 200 || !strings.Contains(string(a.body), "boom") || !strings.Contains(string(a.body), `"type":"error"`) {
		t.Errorf("with Anthropic down: %d %s", a.status, a.body)
	}

	for _, typ := range []string{"openai", "gemini"} {
		_, url := faultFleet(t, typ)
		a := postMessages(t, url, "", body, nil)
		var e anthropicError
		json.Unmarshal(a.body, &e)
		if a.status != 400 || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, `"document"`) {
			t.Errorf("%s: %d %s", typ, a.status, a.body)
		}
	}
}
