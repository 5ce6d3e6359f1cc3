package anthropic

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

const nativeBody = `{"model": "client-name", "max_tokens": 64, "messages": [{"role": "user", "content": "one two three"}]}`

func native(body string, stream bool) *providers.NativeRequest {
	if stream {
		body = strings.Replace(body, `{`, `{"stream": true, `, 1)
	}
	return &providers.NativeRequest{API: apiMessages, Model: "claude-haiku-4-5", Body: []byte(body), Stream: stream,
		Header: http.Header{"Anthropic-Version": {"2023-06-01"}, "Anthropic-Beta": {"b1", "b2"}}}
}

func TestNativeSpeaks(t *testing.T) {
	p := newTestProvider(t, "http://127.0.0.1:1", nil)
	if !p.Speaks("anthropic.messages") || !p.Speaks("anthropic.messages.count_tokens") || p.Speaks("openai.responses") {
		t.Fatal("Speaks")
	}
}

func TestNativeUnary(t *testing.T) {
	s := newEmu(t, anthropicemu.Options{CacheReadTokens: 1})
	p := newTestProvider(t, s.URL, nil)
	first := false
	req := native(nativeBody, false)
	req.OnFirstByte = func() { first = true }
	res, err := p.CallNative(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Requests()[0]
	if want := strings.Replace(nativeBody, `"client-name"`, `"claude-haiku-4-5"`, 1); string(got.Body) != want {
		t.Errorf("upstream body\n%s\nwant\n%s", got.Body, want)
	}
	if got.Header.Get("anthropic-version") != "2023-06-01" || strings.Join(got.Header.Values("anthropic-beta"), ",") != "b1,b2" {
		t.Errorf("headers %v", got.Header)
	}
	if !bytes.Contains(res.Body, []byte(`"type":"message"`)) || !first {
		t.Errorf("body %s, first byte %v", res.Body, first)
	}
	if u := res.Usage; u == nil || u.PromptTokens != 3 || u.CachedPromptTokens != 1 || u.CompletionTokens == 0 || res.FinishReason != "stop" {
		t.Errorf("usage %+v finish %q", res.Usage, res.FinishReason)
	}
}

// TestNativeStream: each event reaches the sink whole, alone and as the
// upstream sent it, and usage is read on the way.
func TestNativeStream(t *testing.T) {
	s := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, s.URL, nil)
	var events []string
	res, err := p.CallNative(context.Background(), native(nativeBody, true), providers.SinkFunc(func(b []byte) error {
		events = append(events, string(b))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range events {
		name, _, _ := strings.Cut(strings.TrimPrefix(e, "event: "), "\n")
		names = append(names, name)
		if !strings.HasPrefix(e, "event: ") || !strings.HasSuffix(e, "\n\n") || strings.Count(e, "\n\n") != 1 || !strings.Contains(e, "\ndata: {") {
			t.Errorf("not one whole event: %q", e)
		}
	}
	if len(names) < 6 || names[0] != "message_start" || names[2] != "ping" || names[len(names)-1] != "message_stop" {
		t.Errorf("events %v", names)
	}
	if res.Usage == nil || res.Usage.PromptTokens != 3 || res.Usage.CompletionTokens != res.Timing.Chunks || res.FinishReason != "stop" {
		t.Errorf("usage %+v chunks %d finish %q", res.Usage, res.Timing.Chunks, res.FinishReason)
	}
}

func TestNativeCountTokens(t *testing.T) {
	s := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, s.URL, nil)
	req := &providers.NativeRequest{API: apiCountTokens, Model: "claude-haiku-4-5", Body: []byte(`{"model":"x","messages":[{"role":"user","content":"a b c d"}]}`)}
	res, err := p.CallNative(context.Background(), req, nil)
	if err != nil || string(res.Body) != `{"input_tokens":4}` || s.Requests()[0].Path != "/v1/messages/count_tokens" {
		t.Fatalf("%v %s", err, res.Body)
	}
}

// TestNativeErrors: upstream errors are the adapter's, as Chat's are.
func TestNativeErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     emu.Fault
		key       string
		stream    bool
		status    int
		retryable bool
		after     time.Duration
		msg       string
	}{
		{name: "429", fault: emu.Fault{Status: 429, RetryAfter: "7", Message: "slow"}, status: 429, retryable: true, after: 7 * time.Second, msg: "slow"},
		{name: "401", key: "sk-ant-wrong-key-00000000", status: 401, msg: "ANTHROPIC_API_KEY"},
		{name: "529", fault: emu.Fault{Status: 529}, status: 503, retryable: true},
		{name: "500", fault: emu.Fault{Status: 500, Message: "boom"}, status: 502, retryable: true, msg: "boom"},
		{name: "400", fault: emu.Fault{Status: 400, Message: "bad field"}, status: 400, msg: "bad field"},
		{name: "in-stream error", fault: emu.Fault{ErrorAfter: 1}, stream: true, status: 503, retryable: true, msg: "Overloaded"},
		{name: "cut", fault: emu.Fault{CutAtStart: true}, stream: true, status: 502, retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEmu(t, anthropicemu.Options{Fault: tc.fault})
			p := newTestProvider(t, s.URL, func(o *providers.Options) {
				if tc.key != "" {
					o.APIKey = tc.key
				}
			})
			var sent []string
			_, err := p.CallNative(context.Background(), native(nativeBody, tc.stream), providers.SinkFunc(func(b []byte) error {
				sent = append(sent, string(b))
				return nil
			}))
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Status != tc.status || pe.Retryable != tc.retryable || pe.RetryAfter != tc.after || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("got %#v", err)
			}
			if strings.Contains(pe.Message, testKey) || tc.key != "" && strings.Contains(pe.Message, tc.key) {
				t.Errorf("a key in the error: %s", pe.Message)
			}
			for _, e := range sent {
				if strings.HasPrefix(e, "event: error") {
					t.Errorf("the upstream's error event was passed on as well as returned: %q", e)
				}
			}
		})
	}
}
