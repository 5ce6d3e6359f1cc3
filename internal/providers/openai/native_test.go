package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

func newResponsesP(t *testing.T, url string, on bool) *Provider {
	p, err := New(providers.Options{Name: "openai", BaseURL: url, APIKey: key, KeyEnv: "OPENAI_API_KEY", ResponsesAPI: on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.hc.CloseIdleConnections)
	return p
}

// eventSink records what CallNative passes on.
type eventSink struct{ chunks [][]byte }

func (s *eventSink) Chunk(b []byte) error { s.chunks = append(s.chunks, bytes.Clone(b)); return nil }

func TestSpeaksOnlyWhenConfigured(t *testing.T) {
	if newResponsesP(t, "http://127.0.0.1:1/v1", false).Speaks(responsesAPI) {
		t.Error("an upstream without responses_api speaks the Responses API")
	}
	p := newResponsesP(t, "http://127.0.0.1:1/v1", true)
	if !p.Speaks(responsesAPI) || p.Speaks("anthropic.messages") {
		t.Error("Speaks is wrong for a responses_api upstream")
	}
	if providers.NativeFor(p, responsesAPI) == nil {
		t.Error("NativeFor does not find the adapter")
	}
}

const nativeBody = `{"model": "client-name", "route": {"openness": "open"}, "input": [{"role": "user", "content": "Say hello"}], "store": false, "metadata": {"a": "b"}}`

func TestCallNativeUnary(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key})
	defer emu.Close()
	p := newResponsesP(t, emu.URL, true)
	res, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "gpt-4o", Body: []byte(nativeBody)}, &eventSink{})
	if err != nil {
		t.Fatal(err)
	}
	reqs := emu.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/responses" {
		t.Fatalf("upstream saw %v", reqs)
	}
	// The body is the client's but for the model and the route member.
	want := `{"model": "gpt-4o", "input": [{"role": "user", "content": "Say hello"}], "store": false, "metadata": {"a": "b"}}`
	if got := string(reqs[0].Body); got != want {
		t.Errorf("upstream body\n%s\nwant\n%s", got, want)
	}
	var r struct {
		Object string `json:"object"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(res.Body, &r); err != nil || r.Object != "response" || r.Status != "completed" {
		t.Fatalf("body %s", res.Body)
	}
	if res.Usage == nil || res.Usage.PromptTokens != 2 || res.Usage.CompletionTokens != len(strings.Fields(openaiemu.DefaultReply)) || res.FinishReason != "stop" {
		t.Errorf("usage %+v finish %q", res.Usage, res.FinishReason)
	}
}

func TestCallNativeStream(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key})
	defer emu.Close()
	p := newResponsesP(t, emu.URL, true)
	body := strings.Replace(nativeBody, `"store"`, `"stream": true, "store"`, 1)
	sink := &eventSink{}
	res, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "gpt-4o", Body: []byte(body), Stream: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	// Raw: what the emulator wrote, event for event. The two opening
	// events travel with the first output event.
	var all []byte
	for _, c := range sink.chunks {
		all = append(all, c...)
	}
	events := strings.Split(strings.TrimSuffix(string(all), "\n\n"), "\n\n")
	if len(sink.chunks) != len(events)-2 {
		t.Errorf("%d chunks for %d events: the events were not passed one by one", len(sink.chunks), len(events))
	}
	if !strings.HasPrefix(events[0], "event: response.created\ndata: {") || !strings.HasPrefix(events[len(events)-1], "event: response.completed\ndata: {") {
		t.Errorf("stream %q", all)
	}
	if res.Usage == nil || res.Usage.CompletionTokens != len(strings.Fields(openaiemu.DefaultReply)) || res.FinishReason != "stop" || res.Timing.Chunks == 0 {
		t.Errorf("usage %+v finish %q chunks %d", res.Usage, res.FinishReason, res.Timing.Chunks)
	}
	if got := emu.Requests()[0].Body; bytes.Contains(got, []byte("stream_options")) {
		t.Errorf("the Responses body was given chat's stream_options: %s", got)
	}
}

// An upstream stream's failure: before any output, a retryable error and
// nothing passed on (the gateway may try another backend); after it, an
// error, its event not passed on (the gateway ends the client's stream).
func TestCallNativeStreamFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     openaiemu.Fault
		sent      bool
		retryable bool
	}{
		{"cut before output", openaiemu.Fault{CutAtStart: true}, false, true},
		{"error event after output", openaiemu.Fault{ErrorAfter: 2, Message: "boom"}, true, false},
		{"cut after output", openaiemu.Fault{CutAfter: 2}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := openaiemu.New(openaiemu.Options{APIKey: key, Fault: tc.fault})
			defer emu.Close()
			p := newResponsesP(t, emu.URL, true)
			sink := &eventSink{}
			_, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "gpt-4o", Body: []byte(`{"model":"x","input":"hi","stream":true}`), Stream: true}, sink)
			pe, ok := err.(*providers.Error)
			if !ok {
				t.Fatalf("err %v", err)
			}
			if pe.Retryable != tc.retryable || (len(sink.chunks) > 0) != tc.sent {
				t.Errorf("retryable %v, %d chunks passed on: %+v", pe.Retryable, len(sink.chunks), pe)
			}
			for _, c := range sink.chunks {
				if bytes.Contains(c, []byte("event: error")) {
					t.Errorf("the upstream's error event was passed on: %s", c)
				}
			}
		})
	}
	t.Run("an error event before output", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{}}\n\n" +
				"event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,\"code\":\"rate_limit_exceeded\",\"message\":\"slow down " + key + "\",\"param\":null}\n\n"))
		}))
		defer srv.Close()
		p := newResponsesP(t, srv.URL, true)
		sink := &eventSink{}
		_, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "m", Body: []byte(`{"model":"x","input":"hi","stream":true}`), Stream: true}, sink)
		pe, _ := err.(*providers.Error)
		if pe == nil || !pe.Retryable || pe.Status != 429 || len(sink.chunks) != 0 || strings.Contains(pe.Message, key) {
			t.Fatalf("err %+v, %d chunks", pe, len(sink.chunks))
		}
	})
}

func TestCallNativeErrors(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: key, Fault: openaiemu.Fault{Status: 429, Message: "slow down", RetryAfter: "2"}})
	defer emu.Close()
	p := newResponsesP(t, emu.URL, true)
	_, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "m", Body: []byte(`{"model":"x","input":"hi"}`)}, &eventSink{})
	pe, _ := err.(*providers.Error)
	if pe == nil || pe.Status != 429 || !pe.Retryable || pe.Message != "slow down" {
		t.Fatalf("err %+v", err)
	}
	if _, err := newResponsesP(t, emu.URL, false).CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "m", Body: []byte(`{}`)}, &eventSink{}); err == nil {
		t.Fatal("an adapter without responses_api passed a Responses request through")
	}
}

// TestCallNativeStreamUnchanged: the events reach the sink byte for byte
// as the upstream wrote them (an OpenAI stream as the Responses streaming
// reference shows it, with a keep-alive comment the reader skips).
func TestCallNativeStreamUnchanged(t *testing.T) {
	const stream = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
		"event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n" +
		": keep-alive\n\n" +
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"content\":[],\"role\":\"assistant\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi <b>&\",\"logprobs\":[]}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":4,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\"}],\"usage\":{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":3,\"output_tokens_details\":{\"reasoning_tokens\":1},\"total_tokens\":8}}}\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(stream))
	}))
	defer srv.Close()
	p := newResponsesP(t, srv.URL, true)
	sink := &eventSink{}
	res, err := p.CallNative(context.Background(), &providers.NativeRequest{API: responsesAPI, Model: "m", Body: []byte(`{"model":"x","input":"hi","stream":true}`), Stream: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(stream, ": keep-alive\n\n", "", 1)
	if got := string(bytes.Join(sink.chunks, nil)); got != want {
		t.Errorf("passed on\n%q\nwant\n%q", got, want)
	}
	if u := res.Usage; u == nil || u.PromptTokens != 5 || u.CompletionTokens != 3 || u.CachedPromptTokens != 2 || u.ReasoningTokens != 1 || res.FinishReason != "stop" {
		t.Errorf("usage %+v finish %q", res.Usage, res.FinishReason)
	}
}
