package responses

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// TestToChat translates the requests of OpenAI's Responses documentation
// (testdata/request/*.json) into chat bodies (*.chat.golden), each of
// which the gateway's own chat parser must accept.
func TestToChat(t *testing.T) {
	golden.Each(t, "request", ".json", func(t *testing.T, in []byte, stem string) {
		out, err := New().ToChat(in)
		if err != nil {
			t.Fatal(err)
		}
		info, err := openaiwire.ParseChat(out)
		if err != nil {
			t.Fatalf("the gateway's chat parser refuses the translation: %v\n%s", err, out)
		}
		var req Request
		json.Unmarshal(in, &req)
		if info.Model != req.Model || info.Stream != (req.Stream != nil && *req.Stream) || info.Stream != info.IncludeUsage {
			t.Errorf("model %q stream %v include_usage %v, from %s", info.Model, info.Stream, info.IncludeUsage, in)
		}
		golden.JSON(t, stem+".chat.golden", out)
	})
}

// TestToChatRefuses: what the gateway cannot serve is a 400 naming the
// parameter and saying what to send instead.
func TestToChatRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, param string
		says              []string
	}{
		{"previous_response_id", `{"model":"m","input":"more","previous_response_id":"resp_abc123"}`, "previous_response_id", []string{"stateless", "whole conversation"}},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_123"}`, "conversation", []string{"stateless"}},
		{"background", `{"model":"m","input":"x","background":true}`, "background", []string{"stateless"}},
		{"stored prompt", `{"model":"m","prompt":{"id":"pmpt_123"}}`, "prompt", []string{"stateless"}},
		{"web_search", `{"model":"m","input":"x","tools":[{"type":"web_search"}]}`, "tools[0]", []string{`"web_search"`, "function tools"}},
		{"file_search", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"file_search","vector_store_ids":["vs_1"]}]}`, "tools[1]", []string{`"file_search"`}},
		{"image by file_id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-abc"}]}]}`, "input[0].content[0].file_id", []string{"file_id", "image_url"}},
		{"file by id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-abc"}]}]}`, "input[0].content[0]", []string{"file_data"}},
		{"item_reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0]", []string{"stateless"}},
		{"unknown item", `{"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]}`, "input[0].type", []string{`"computer_call_output"`}},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role", []string{`"tool"`}},
		{"no input", `{"model":"m"}`, "input", []string{"missing"}},
		{"empty input", `{"model":"m","input":[]}`, "input", []string{"empty"}},
		{"input of another type", `{"model":"m","input":3}`, "input", []string{"string or a list"}},
		{"call without call_id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0]", []string{"call_id"}},
		{"tool_choice built in", `{"model":"m","input":"x","tool_choice":{"type":"file_search"}}`, "tool_choice", []string{"function tools"}},
		{"format unknown", `{"model":"m","input":"x","text":{"format":{"type":"grammar"}}}`, "text.format.type", []string{`"grammar"`}},
		{"schema without name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format", []string{"name"}},
		{"not an object", `[1]`, "", []string{"not a valid Responses request"}},
		{"empty body", ``, "", []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New().ToChat([]byte(tc.body))
			pe, ok := err.(*providers.Error)
			if !ok {
				t.Fatalf("got %v, want a *providers.Error", err)
			}
			if pe.Status != http.StatusBadRequest || pe.Param != tc.param {
				t.Errorf("status %d param %q, want 400 %q", pe.Status, pe.Param, tc.param)
			}
			for _, s := range tc.says {
				if !strings.Contains(pe.Message, s) {
					t.Errorf("message %q does not say %q", pe.Message, s)
				}
			}
		})
	}
}

// TestCompletion turns chat.completion bodies (testdata/completion) into
// Response objects.
func TestCompletion(t *testing.T) {
	golden.Each(t, "completion", ".chat.json", func(t *testing.T, in []byte, stem string) {
		out, err := New().Completion(in)
		if err != nil {
			t.Fatal(err)
		}
		golden.JSON(t, stem+".response.golden", out)
	})
	t.Run("not JSON", func(t *testing.T) {
		if _, err := New().Completion([]byte("<html>")); err == nil {
			t.Fatal("no error")
		}
	})
}

// TestStream turns chat chunk sequences (testdata/stream/*.chunks, a
// chunk a line) into the Responses event stream (*.events.golden), and
// checks what every client relies on: sequence numbers count up from 0,
// each event's "event:" line names its type, and the last event holds
// the whole response.
func TestStream(t *testing.T) {
	golden.Each(t, "stream", ".chunks", func(t *testing.T, in []byte, stem string) {
		s := New().Stream()
		var out []byte
		for _, line := range bytes.Split(bytes.TrimSpace(in), []byte("\n")) {
			var err error
			if out, err = s.Chunk(out, line); err != nil {
				t.Fatal(err)
			}
		}
		out = s.End(out)
		checkEvents(t, out)
		golden.File(t, stem+".events.golden", out)
	})
	t.Run("a broken stream ends failed, with an error event", func(t *testing.T) {
		s := New().Stream()
		out, _ := s.Chunk(nil, []byte(`{"id":"chatcmpl-x","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}`))
		out = s.Fail(out, &providers.Error{Status: 502, Type: providers.TypeUpstream, Message: "openai closed the stream before its end marker"})
		evs := checkEvents(t, out)
		last, failed := evs[len(evs)-1], evs[len(evs)-2]
		if last["type"] != "error" || last["code"] != "server_error" || last["message"] != "openai closed the stream before its end marker" {
			t.Errorf("last event %v", last)
		}
		resp, _ := failed["response"].(map[string]any)
		if failed["type"] != "response.failed" || resp["status"] != "failed" {
			t.Errorf("before it: %v", failed)
		}
		if e, _ := resp["error"].(map[string]any); e["code"] != "server_error" {
			t.Errorf("response.error = %v", resp["error"])
		}
	})
	t.Run("a failure on a stream opened by a passed-through upstream", func(t *testing.T) {
		out := New().Stream().Fail(nil, &providers.Error{Type: providers.TypeRateLimit, Message: "slow down"})
		evs := checkEvents(t, out)
		if len(evs) != 2 || evs[0]["type"] != "response.failed" || evs[1]["code"] != "rate_limit_exceeded" {
			t.Errorf("events %v", evs)
		}
	})
}

// checkEvents parses an event stream and checks its framing; it returns
// the events' data.
func checkEvents(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\n\n")) {
		t.Fatalf("the stream does not end with a blank line: %q", b)
	}
	var evs []map[string]any
	for i, ev := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		lines := strings.Split(ev, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("event %d is not an event line and a data line: %q", i, ev)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &d); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if d["type"] != strings.TrimPrefix(lines[0], "event: ") {
			t.Errorf("event %d: event line %q, type %v", i, lines[0], d["type"])
		}
		if d["sequence_number"] != float64(i) {
			t.Errorf("event %d has sequence_number %v", i, d["sequence_number"])
		}
		evs = append(evs, d)
	}
	return evs
}

func TestError(t *testing.T) {
	got := New().Error(&providers.Error{Status: 429, Type: providers.TypeRateLimit, Code: "rate_limit_exceeded", Message: "slow down"})
	var e openaiwire.ErrorBody
	if err := json.Unmarshal(got, &e); err != nil || e.Error == nil {
		t.Fatalf("%s: %v", got, err)
	}
	if e.Error.Message != "slow down" || e.Error.Type != providers.TypeRateLimit || e.Error.CodeString() != "rate_limit_exceeded" || e.Error.Param != nil {
		t.Errorf("%s", got)
	}
}

// FuzzToChat: any body is translated or refused with a 400, never a
// panic, and every translation is a chat body the gateway accepts.
func FuzzToChat(f *testing.F) {
	golden.Seed(f, "request", ".json")
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_data":"data:application/pdf;base64,AA==","filename":"a.pdf"}]}]}`))
	f.Add([]byte(`{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := New().ToChat(body)
		if err != nil {
			if pe, ok := err.(*providers.Error); !ok || pe.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if _, err := openaiwire.ParseChat(out); err != nil && !strings.Contains(err.Error(), "must provide a model") {
			t.Fatalf("translation %s refused by ParseChat: %v", out, err)
		}
	})
}

// BenchmarkStreamChunk is the translation's cost per streamed text chunk.
func BenchmarkStreamChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}]}`)
	s := New().Stream()
	buf, _ := s.Chunk(nil, chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, _ = s.Chunk(buf[:0], chunk)
	}
}
