package anthropic

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

func sdkStop(s string) sdk.StopReason { return sdk.StopReason(s) }

const hello = `{"messages":[{"role":"user","content":"hello"}]}`

func asProviderError(t *testing.T, err error) *providers.Error {
	t.Helper()
	pe := conformance.AsError(t, err)
	if pe.Provider != "anthropic" {
		t.Errorf("Provider = %q", pe.Provider)
	}
	if strings.Contains(pe.Message, testKey) || strings.Contains(pe.Error(), testKey) {
		t.Errorf("error leaks the API key: %q", pe.Message)
	}
	return pe
}

// TestErrorMapping drives each documented Anthropic error through the
// emulator, unary and streamed, and checks what the gateway answers.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name       string
		fault      anthropicemu.Fault
		key        string // provider key when not testKey
		model      string
		status     int
		typ, code  string
		retryable  bool
		retryAfter time.Duration
		say        string
	}{
		{name: "invalid_request_error", fault: anthropicemu.Fault{Status: 400, Message: "messages: text content blocks must be non-empty"},
			status: 400, typ: providers.TypeInvalidRequest, code: "invalid_request_error", say: "text content blocks must be non-empty"},
		{name: "authentication_error", key: "sk-ant-wrong-key-000000000000",
			status: 401, typ: providers.TypeAuthentication, code: "authentication_error", say: "Anthropic rejected the API key (invalid x-api-key): check ANTHROPIC_API_KEY"},
		{name: "permission_error", fault: anthropicemu.Fault{Status: 403, Message: "Your API key does not have permission to use the specified resource."},
			status: 403, typ: providers.TypePermission, code: "permission_error", say: "does not have permission"},
		{name: "not_found_error", model: "claude-nonexistent",
			status: 404, typ: providers.TypeNotFound, code: "not_found_error", say: "model: claude-nonexistent"},
		{name: "request_too_large", fault: anthropicemu.Fault{Status: 413},
			status: 413, typ: providers.TypeInvalidRequest, code: "request_too_large", say: "maximum allowed number of bytes"},
		{name: "rate_limit_error", fault: anthropicemu.Fault{Status: 429, RetryAfter: "7"},
			status: 429, typ: providers.TypeRateLimit, code: "rate_limit_error", retryable: true, retryAfter: 7 * time.Second, say: "rate limit"},
		{name: "api_error", fault: anthropicemu.Fault{Status: 500},
			status: 502, typ: providers.TypeUpstream, code: "api_error", retryable: true, say: "Internal server error"},
		{name: "overloaded_error", fault: anthropicemu.Fault{Status: 529, RetryAfter: "3"},
			status: 503, typ: providers.TypeUnavailable, code: "overloaded_error", retryable: true, retryAfter: 3 * time.Second, say: "Overloaded"},
		{name: "overloaded_error without Retry-After", fault: anthropicemu.Fault{Status: 529},
			status: 503, typ: providers.TypeUnavailable, code: "overloaded_error", retryable: true, say: "Overloaded"},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/unary", true: "/stream"}[stream], func(t *testing.T) {
				emu := newEmu(t, anthropicemu.Options{Fault: tc.fault})
				p := newTestProvider(t, emu.URL, func(o *providers.Options) {
					if tc.key != "" {
						o.APIKey = tc.key
					}
				})
				model := tc.model
				if model == "" {
					model = "claude-sonnet-4-6"
				}
				var sink conformance.Collect
				_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: model, Body: []byte(hello), Stream: stream}, &sink)
				pe := asProviderError(t, err)
				if tc.key != "" && strings.Contains(pe.Message, tc.key) {
					t.Errorf("message leaks the key: %q", pe.Message)
				}
				if pe.Status != tc.status || pe.Type != tc.typ || pe.Code != tc.code || pe.Retryable != tc.retryable || pe.RetryAfter != tc.retryAfter {
					t.Errorf("got status %d type %q code %q retryable %v retry-after %v; want %d %q %q %v %v",
						pe.Status, pe.Type, pe.Code, pe.Retryable, pe.RetryAfter, tc.status, tc.typ, tc.code, tc.retryable, tc.retryAfter)
				}
				if !strings.Contains(pe.Message, tc.say) {
					t.Errorf("message %q does not say %q", pe.Message, tc.say)
				}
				if len(sink.All()) != 0 {
					t.Errorf("%d chunks sent before an HTTP error", len(sink.All()))
				}
				conformance.NoRetry(t, emu.Requests())
			})
		}
	}
}

// TestStreamBreaks: an error event mid-stream and a stream cut before
// message_stop both end in an error, never a clean end.
func TestStreamBreaks(t *testing.T) {
	cases := []struct {
		name      string
		fault     anthropicemu.Fault
		status    int
		retryable bool
		say       string
	}{
		{"error event", anthropicemu.Fault{ErrorAfter: 2}, 503, true, "Overloaded"},
		{"cut", anthropicemu.Fault{CutAfter: 2}, 502, true, ""},
		{"cut after all content", anthropicemu.Fault{CutAfter: 9}, 502, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := newEmu(t, anthropicemu.Options{Reply: "a b c d e f g h i", Fault: tc.fault})
			p := newTestProvider(t, emu.URL, nil)
			var sink conformance.Collect
			res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello), Stream: true, IncludeUsage: true}, &sink)
			if res != nil {
				t.Errorf("a broken stream returned a result: %+v", res)
			}
			pe := asProviderError(t, err)
			if pe.Status != tc.status || pe.Retryable != tc.retryable || !strings.Contains(pe.Message, tc.say) {
				t.Errorf("got %d retryable %v %q; want %d %v containing %q", pe.Status, pe.Retryable, pe.Message, tc.status, tc.retryable, tc.say)
			}
			for _, c := range parseChunks(t, sink.All()) {
				for _, ch := range c.Choices {
					if ch.FinishReason != nil {
						t.Error("a broken stream sent a finish_reason")
					}
				}
				if c.Usage != nil {
					t.Error("a broken stream sent a usage chunk")
				}
			}
			if tc.name == "error event" && len(sink.All()) != 1+2 {
				t.Errorf("%d chunks before the error event, want role + 2", len(sink.All()))
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("reset", func(t *testing.T) {
		emu := newEmu(t, anthropicemu.Options{Fault: anthropicemu.Fault{Reset: true}})
		p := newTestProvider(t, emu.URL, nil)
		_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello)}, nil)
		pe := asProviderError(t, err)
		if pe.Status != 502 || !pe.Retryable || pe.Type != providers.TypeUpstream {
			t.Errorf("reset: %+v", pe)
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close() // nothing listens there any more
		p := newTestProvider(t, url, nil)
		_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello)}, nil)
		pe := asProviderError(t, err)
		if pe.Status != 502 || !pe.Retryable || !strings.Contains(pe.Message, "cannot reach anthropic") {
			t.Errorf("refused: %+v", pe)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		emu := newEmu(t, anthropicemu.Options{Fault: anthropicemu.Fault{Hang: true}})
		p := newTestProvider(t, emu.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := p.Chat(ctx, &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello)}, nil)
		pe := asProviderError(t, err)
		if pe.Status != 504 || !pe.Retryable {
			t.Errorf("deadline: %+v", pe)
		}
	})
}

// TestCancelStopsUpstream: cancelling the context mid-stream ends the
// upstream request at once (the server sees its request context end).
func TestCancelStopsUpstream(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never finishes on its own
		close(gone)
	}))
	t.Cleanup(srv.Close)
	p := newTestProvider(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan error, 1)
	sink := providers.SinkFunc(func(b []byte) error {
		if strings.Contains(string(b), `"Hi"`) {
			cancel() // the client goes away after the first token
		}
		return nil
	})
	go func() {
		_, err := p.Chat(ctx, &providers.ChatRequest{Model: "m", Body: []byte(hello), Stream: true}, sink)
		got <- err
	}()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was still open 10s after the context was cancelled")
	}
	err := <-got
	pe := asProviderError(t, err)
	if pe.Retryable {
		t.Errorf("a cancelled call is marked retryable: %+v", pe)
	}
}

// TestSinkErrorStops: when the sink fails (the client went away), Chat
// returns that error and stops reading.
func TestSinkErrorStops(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{Reply: "a b c d e f"})
	p := newTestProvider(t, emu.URL, nil)
	boom := errors.New("client gone")
	n := 0
	_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello), Stream: true},
		providers.SinkFunc(func([]byte) error {
			n++
			if n == 2 {
				return boom
			}
			return nil
		}))
	if !errors.Is(err, boom) || n != 2 {
		t.Errorf("err = %v after %d chunks, want the sink's error after 2", err, n)
	}
}

func TestModelsHealthEmbed(t *testing.T) {
	emu := newEmu(t, anthropicemu.Options{})
	p := newTestProvider(t, emu.URL, nil)
	ids, err := p.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := anthropicemu.Models(); strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("Models = %v, want %v", ids, want)
	}
	if err := p.Health(context.Background()); err != nil {
		t.Errorf("Health: %v", err)
	}
	for _, r := range emu.Requests() {
		if r.Method != "GET" || r.Path != "/v1/models" {
			t.Errorf("Models/Health sent %s %s", r.Method, r.Path)
		}
	}

	bad := newTestProvider(t, emu.URL, func(o *providers.Options) { o.APIKey = "sk-ant-another-key-0000000000" })
	pe := asProviderError(t, bad.Health(context.Background()))
	if pe.Status != 401 || !strings.Contains(pe.Message, "ANTHROPIC_API_KEY") || strings.Contains(pe.Message, "sk-ant-another") {
		t.Errorf("Health with a bad key: %+v", pe)
	}
	_, err = bad.Models(context.Background())
	if pe := asProviderError(t, err); pe.Status != 401 {
		t.Errorf("Models with a bad key: %+v", pe)
	}

	_, err = p.Embed(context.Background(), &providers.EmbedRequest{Model: "claude-opus-4-6", Body: []byte(`{"input":"x"}`)})
	pe = asProviderError(t, err)
	if pe.Status != 400 || pe.Type != providers.TypeInvalidRequest || !strings.Contains(pe.Message, "no embeddings API") {
		t.Errorf("Embed: %+v", pe)
	}
}

func TestNewDefaults(t *testing.T) {
	p, err := New(providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "anthropic" || p.maxTokens != 4096 || p.legacy {
		t.Errorf("defaults: name %q max %d legacy %v", p.Name(), p.maxTokens, p.legacy)
	}
	// A base URL written with /v1 reaches the same paths.
	emu := newEmu(t, anthropicemu.Options{})
	q := newTestProvider(t, emu.URL+"/v1/", nil)
	if _, err := q.Chat(context.Background(), &providers.ChatRequest{Model: "claude-opus-4-6", Body: []byte(hello)}, nil); err != nil {
		t.Errorf("base URL with /v1: %v", err)
	}
}

// TestStreamEndsWithoutStop: a response that ends cleanly (no transport
// error) but without message_stop is still a broken stream.
func TestStreamEndsWithoutStop(t *testing.T) {
	full := golden.Read(t, filepath.Join("fixtures", "stream_text.sse"))
	cut := full[:bytes.Index(full, []byte("event: message_stop"))]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(cut)
	}))
	t.Cleanup(srv.Close)
	p := newTestProvider(t, srv.URL, nil)
	var sink conformance.Collect
	_, err := p.Chat(context.Background(), &providers.ChatRequest{Model: "m", Body: []byte(hello), Stream: true, IncludeUsage: true}, &sink)
	pe := asProviderError(t, err)
	if pe.Status != 502 || !pe.Retryable || !strings.Contains(pe.Message, "before message_stop") {
		t.Errorf("got %+v", pe)
	}
	if len(sink.All()) != 3 {
		t.Errorf("%d chunks, want role + 2 text chunks and no finish", len(sink.All()))
	}
}
