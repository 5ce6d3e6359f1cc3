package messages

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// resolve stands in for the gateway's model resolution.
func resolve(name string) string {
	if name == "claude-opus-4-1" {
		return "auto:general"
	}
	return strings.TrimSuffix(name, "-20250929")
}

// TestToChat: the requests of Anthropic's documentation (a plain turn,
// system blocks and sampling, images, tool use with thinking in the
// history, tool results with images and errors, tool_choice none) as the
// chat completion requests the gateway routes (testdata/requests/*.chat.json).
func TestToChat(t *testing.T) {
	api := New(Options{Model: resolve})
	golden.Each(t, "requests", ".json", func(t *testing.T, in []byte, stem string) {
		out, err := api.ToChat(in)
		if err != nil {
			t.Fatal(err)
		}
		info, err := openaiwire.ParseChat(out)
		if err != nil {
			t.Fatalf("the gateway cannot read the translation: %v", err)
		}
		if info.Stream && !info.IncludeUsage {
			t.Error("a stream does not ask for the usage chunk")
		}
		golden.JSON(t, stem+".chat.json", out)
	})
}

func TestToChatRefuses(t *testing.T) {
	api := New(Options{})
	for _, tc := range []struct {
		name, body, param string
		native            bool // Anthropic's own backends can serve it (inbound.NativeOnly)
	}{
		{"not JSON", `{"model":`, "", false},
		{"no model", `{"max_tokens":1,"messages":[]}`, "model", false},
		{"no messages", `{"model":"m","max_tokens":1}`, "messages", false},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens", false},
		{"zero max_tokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens", false},
		{"wrong type", `{"model":"m","max_tokens":"9","messages":[]}`, "max_tokens", false},
		{"bad role", `{"model":"m","max_tokens":9,"messages":[{"role":"system","content":"x"}]}`, "messages.0.role", false},
		{"document block", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}`, "messages.0.content.0.type", true},
		{"server tool", `{"model":"m","max_tokens":9,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}`, "tools.0.type", true},
		{"mcp servers", `{"model":"m","max_tokens":9,"mcp_servers":[{"type":"url","url":"https://example.com","name":"x"}],"messages":[{"role":"user","content":"x"}]}`, "mcp_servers", true},
		{"image file source", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages.0.content.0.source.type", true},
		{"image media type", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"x"}}]}]}`, "messages.0.content.0.source.media_type", false},
		{"tool input not an object", `{"model":"m","max_tokens":9,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}`, "messages.0.content.0.input", false},
		{"tool_result without id", `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages.0.content.0.tool_use_id", false},
		{"tool_choice type", `{"model":"m","max_tokens":9,"tool_choice":{"type":"required"},"tools":[{"name":"f"}],"messages":[{"role":"user","content":"x"}]}`, "tool_choice.type", false},
		{"system image", `{"model":"m","max_tokens":9,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]}`, "system.0.type", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.ToChat([]byte(tc.body))
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest || pe.Param != tc.param {
				t.Fatalf("got %#v, want a 400 naming %q", err, tc.param)
			}
			var no *inbound.NativeOnly
			if errors.As(err, &no) != tc.native {
				t.Fatalf("native only: %v, want %v", no != nil, tc.native)
			}
			if no != nil {
				if _, err := openaiwire.ParseChat(no.Chat); err != nil {
					t.Fatalf("the translation to route by: %v: %s", err, no.Chat)
				}
			}
		})
	}
}

// TestCompletion: OpenAI chat.completions (text with cached tokens, two
// tool calls, reasoning cut by max tokens) as Messages.
func TestCompletion(t *testing.T) {
	api := New(Options{})
	golden.Each(t, "completions", ".json", func(t *testing.T, in []byte, stem string) {
		out, err := api.Completion(in)
		if err != nil {
			t.Fatal(err)
		}
		golden.JSON(t, stem+".message.json", out)
	})
	if _, err := api.Completion([]byte(`{"choices":[]}`)); err == nil {
		t.Error("a completion without choices was translated")
	}
}

// TestStream: chunk sequences (text, text then two tool calls, reasoning
// then text) as Anthropic's event stream, with its event: lines.
func TestStream(t *testing.T) {
	api := New(Options{})
	golden.Each(t, "streams", ".chunks", func(t *testing.T, in []byte, stem string) {
		st := api.Stream()
		var out []byte
		sc := bufio.NewScanner(bytes.NewReader(in))
		for sc.Scan() {
			var err error
			if out, err = st.Chunk(out, sc.Bytes()); err != nil {
				t.Fatal(err)
			}
		}
		out = st.End(out)
		checkEvents(t, out)
		golden.File(t, stem+".sse", out)
	})
	t.Run("a broken stream ends with an error event", func(t *testing.T) {
		st := api.Stream()
		out, _ := st.Chunk(nil, []byte(`{"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}`))
		out = st.Fail(out, &providers.Error{Status: 503, Message: "the backend went away"})
		golden.File(t, filepath.Join("streams", "failed.sse"), out)
	})
	t.Run("an empty stream still opens and closes", func(t *testing.T) {
		out := api.Stream().End(nil)
		checkEvents(t, out)
		if !bytes.HasPrefix(out, []byte("event: message_start\n")) || !bytes.HasSuffix(out, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
			t.Fatalf("%s", out)
		}
	})
}

// checkEvents: each event's name is its data's type, blocks open and
// close in order with increasing indexes.
func checkEvents(t *testing.T, sse []byte) {
	t.Helper()
	open, next := -1, 0
	for _, ev := range strings.Split(strings.TrimSuffix(string(sse), "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(ev, "\ndata: ")
		var d struct {
			Type  string `json:"type"`
			Index *int   `json:"index"`
		}
		if !ok || !strings.HasPrefix(name, "event: ") || json.Unmarshal([]byte(data), &d) != nil || d.Type != name[len("event: "):] {
			t.Fatalf("malformed event %q", ev)
		}
		switch d.Type {
		case "content_block_start":
			if open >= 0 || *d.Index != next {
				t.Fatalf("block %d starts while %d is open (next %d)", *d.Index, open, next)
			}
			open = *d.Index
		case "content_block_delta":
			if *d.Index != open {
				t.Fatalf("a delta for block %d while %d is open", *d.Index, open)
			}
		case "content_block_stop":
			if *d.Index != open {
				t.Fatalf("block %d stops while %d is open", *d.Index, open)
			}
			open, next = -1, next+1
		case "message_delta", "message_stop":
			if open >= 0 {
				t.Fatalf("%s while block %d is open", d.Type, open)
			}
		}
	}
}

func TestError(t *testing.T) {
	api := New(Options{})
	for _, tc := range []struct {
		status    int
		want, typ string
	}{
		{400, "invalid_request_error", ""}, {401, "authentication_error", ""}, {403, "permission_error", ""}, {404, "not_found_error", ""},
		{413, "request_too_large", ""}, {429, "rate_limit_error", ""}, {500, "api_error", ""}, {502, "api_error", ""}, {503, "overloaded_error", ""},
		{504, "timeout_error", ""}, {529, "overloaded_error", ""}, {0, "api_error", ""}, {418, "invalid_request_error", ""},
		{0, "rate_limit_error", providers.TypeRateLimit}, {0, "overloaded_error", providers.TypeUnavailable},
		{0, "invalid_request_error", providers.TypeInvalidRequest}, {0, "authentication_error", providers.TypeAuthentication},
	} {
		var e ErrorBody
		if err := json.Unmarshal(api.Error(&providers.Error{Status: tc.status, Type: tc.typ, Message: "m"}), &e); err != nil || e.Type != "error" || e.Error.Type != tc.want || e.Error.Message != "m" {
			t.Errorf("%d: got %+v, want %s", tc.status, e, tc.want)
		}
	}
	golden.File(t, "error.json", append(api.Error(&providers.Error{Status: 429, Message: "Number of request tokens has exceeded your per-minute rate limit"}), '\n'))
}

func TestForward(t *testing.T) {
	api := New(Options{})
	h := http.Header{}
	h.Set("Anthropic-Version", "2023-06-01")
	h.Add("Anthropic-Beta", "a")
	h.Add("Anthropic-Beta", "b")
	h.Set("X-Api-Key", "secret")
	got := api.Forward(h)
	if len(got) != 2 || got.Get("anthropic-version") != "2023-06-01" || strings.Join(got.Values("anthropic-beta"), ",") != "a,b" {
		t.Fatalf("%v", got)
	}
	if api.Forward(http.Header{"X-Api-Key": {"k"}}) != nil {
		t.Fatal("forwarded what is not Anthropic's")
	}
}

// FuzzToChat: no request makes the translation panic, and whatever it
// accepts the gateway can read.
func FuzzToChat(f *testing.F) {
	golden.Seed(f, "requests", ".json")
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}]}`))
	api := New(Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := api.ToChat(body)
		var no *inbound.NativeOnly
		if errors.As(err, &no) {
			out, err = no.Chat, nil
		}
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if _, err := openaiwire.ParseChat(out); err != nil {
			t.Fatalf("accepted %s but wrote %s, which the gateway cannot read: %v", body, out, err)
		}
	})
}
