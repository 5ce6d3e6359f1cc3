package gemini

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

func streamReq(body string, includeUsage bool) *providers.ChatRequest {
	return &providers.ChatRequest{Model: testModel, Body: []byte(body), Stream: true, IncludeUsage: includeUsage}
}

func TestStreamText(t *testing.T) {
	for _, includeUsage := range []bool{true, false} {
		emu := newEmulator(t, geminiemu.Options{})
		p := newProvider(t, emu.URL)
		sink := &conformance.Collect{}
		req := streamReq(`{"messages":[{"role":"user","content":"say hello please"}]}`, includeUsage)
		firstBytes, chunksBeforeFirstByte := 0, -1
		req.OnFirstByte = func() { firstBytes++; chunksBeforeFirstByte = len(sink.All()) }
		res, err := p.Chat(context.Background(), req, sink)
		if err != nil {
			t.Fatal(err)
		}
		if firstBytes != 1 || chunksBeforeFirstByte != 0 {
			t.Errorf("OnFirstByte called %d times, after %d chunks; want once, before any chunk", firstBytes, chunksBeforeFirstByte)
		}
		views := conformance.ParseChunks(t, sink.All())
		words := strings.SplitAfter(geminiemu.DefaultReply, " ")
		want := len(words) + 1 // one chunk per word, then the finish chunk
		if includeUsage {
			want++
		}
		if len(views) != want {
			t.Fatalf("include_usage=%v: %d chunks, want %d", includeUsage, len(views), want)
		}
		var text strings.Builder
		for i, v := range views[:len(words)] {
			c := v.Choices[0]
			if (i == 0) != (c.Delta.Role == "assistant") {
				t.Errorf("chunk %d role = %q; only the first carries it", i, c.Delta.Role)
			}
			if c.FinishReason != nil {
				t.Errorf("chunk %d has a finish_reason", i)
			}
			text.WriteString(*c.Delta.Content)
		}
		if text.String() != geminiemu.DefaultReply {
			t.Errorf("text = %q", text.String())
		}
		fin := views[len(words)]
		if fr := fin.Choices[0].FinishReason; fr == nil || *fr != "stop" {
			t.Errorf("finish chunk = %+v", fin)
		}
		if includeUsage {
			u := views[len(words)+1]
			if len(u.Choices) != 0 || u.Usage == nil || u.Usage.PromptTokens != 3 || u.Usage.CompletionTokens != len(words) || u.Usage.TotalTokens != 3+len(words) {
				t.Errorf("usage chunk = %+v", u)
			}
		}
		if res.Usage == nil || res.Usage.CompletionTokens != len(words) {
			t.Errorf("Result.Usage = %+v (usage is kept even when the client did not ask for the chunk)", res.Usage)
		}
		if res.FinishReason != "stop" || res.Timing.Chunks != len(words) {
			t.Errorf("result = %+v", res)
		}
		tm := res.Timing
		if tm.Start.IsZero() || tm.FirstByte.Before(tm.Start) || tm.FirstToken.Before(tm.FirstByte) || tm.End.Before(tm.FirstToken) {
			t.Errorf("timing out of order: %+v", tm)
		}
		for _, v := range views {
			if v.ID != views[0].ID {
				t.Error("chunk ids differ")
			}
		}
	}
}

func TestStreamToolCall(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{ToolArgs: `{"city":"Oslo"}`})
	p := newProvider(t, emu.URL)
	sink := &conformance.Collect{}
	res, err := p.Chat(context.Background(), streamReq(`{"messages":[{"role":"user","content":"weather?"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`, false), sink)
	if err != nil {
		t.Fatal(err)
	}
	views := conformance.ParseChunks(t, sink.All())
	if len(views) != 3 {
		t.Fatalf("%d chunks, want head, arguments, finish", len(views))
	}
	head := views[0].Choices[0].Delta
	if head.Role != "assistant" || len(head.ToolCalls) != 1 {
		t.Fatalf("head = %+v", head)
	}
	h := head.ToolCalls[0]
	if h.Index == nil || *h.Index != 0 || !strings.HasPrefix(h.ID, "call_") || h.Type != "function" || h.Function.Name != "get_weather" || h.Function.Arguments != "" {
		t.Errorf("head tool call = %+v", h)
	}
	a := views[1].Choices[0].Delta.ToolCalls
	if len(a) != 1 || a[0].Index == nil || *a[0].Index != 0 || a[0].ID != "" || a[0].Function.Arguments != `{"city":"Oslo"}` {
		t.Errorf("arguments chunk = %+v", a)
	}
	if fr := views[2].Choices[0].FinishReason; fr == nil || *fr != "tool_calls" {
		t.Errorf("finish = %v", fr)
	}
	if res.FinishReason != "tool_calls" || res.Timing.Chunks != 2 {
		t.Errorf("result = %+v", res)
	}
}

// brokenStream streams hiBody from the upstream at url, which must end in
// a retryable error of status whose message holds contains, and returns
// the chunks delivered before it.
func brokenStream(t *testing.T, url string, status int, contains string) [][]byte {
	t.Helper()
	p := newProvider(t, url)
	sink := &conformance.Collect{}
	_, err := p.Chat(context.Background(), streamReq(hiBody, true), sink)
	if err == nil {
		t.Fatal("stream ended cleanly")
	}
	pe := conformance.AsError(t, err)
	if pe.Status != status || !pe.Retryable || !strings.Contains(pe.Message, contains) {
		t.Errorf("got %d retryable=%v %q, want a retryable %d containing %q", pe.Status, pe.Retryable, pe.Message, status, contains)
	}
	return sink.All()
}

// TestStreamFailures: a mid-stream error object or a cut connection must
// end in an error after the chunks already delivered, never a clean end.
func TestStreamFailures(t *testing.T) {
	words := len(strings.SplitAfter(geminiemu.DefaultReply, " "))
	cases := []struct {
		name      string
		fault     geminiemu.Fault
		delivered int
		status    int
		contains  string
	}{
		{"error object after 2 chunks", geminiemu.Fault{ErrorAfter: 2}, 2, 503, "overloaded"},
		{"custom error message", geminiemu.Fault{ErrorAfter: 1, Message: "Service is busy."}, 1, 503, "busy"},
		{"cut after 2 chunks", geminiemu.Fault{CutAfter: 2}, 2, 502, ""},
		{"cut before the finishing chunk", geminiemu.Fault{CutAfter: words}, words, 502, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := newEmulator(t, geminiemu.Options{Fault: tc.fault})
			views := conformance.ParseChunks(t, brokenStream(t, emu.URL, tc.status, tc.contains))
			if len(views) != tc.delivered {
				t.Errorf("%d chunks delivered, want %d", len(views), tc.delivered)
			}
			for _, v := range views {
				if len(v.Choices) == 0 || v.Choices[0].FinishReason != nil {
					t.Errorf("a broken stream must not send a finish or usage chunk: %+v", v)
				}
			}
			conformance.NoRetry(t, emu.Requests())
		})
	}
}

// TestStreamTranscripts covers transcripts the emulator does not produce.
func TestStreamTranscripts(t *testing.T) {
	const hel = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"}}]}\r\n\r\n"
	cases := []struct {
		name, transcript string
		status           int
		contains         string
		delivered        int
	}{
		{"clean end without finishReason", hel, 502, "finishReason", 1},
		{"empty stream", "", 502, "without any candidate", 0},
		{"error event in data line", hel + "data: {\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted\", \"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n", 429, "exhausted", 1},
		// The SDK would silently re-send the request from this token if
		// its automatic continuation were on.
		{"cut after a continuation token", "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"},\"continuationToken\": \"dG9rZW4=\"}]}\r\n\r\n", 502, "finishReason", 1},
		{"garbage line", hel + "not json at all\r\n\r\n", 502, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newReplay(t, 200, "text/event-stream", []byte(tc.transcript))
			if n := len(brokenStream(t, up.URL, tc.status, tc.contains)); n != tc.delivered {
				t.Errorf("%d chunks delivered, want %d", n, tc.delivered)
			}
			conformance.NoRetry(t, up.requests())
		})
	}
}

// TestNoAutomaticContinuation: a unary answer that stops with a
// continuation token is returned as is (finish "length"), not continued.
func TestNoAutomaticContinuation(t *testing.T) {
	body := `{"candidates":[{"content":{"role":"model","parts":[{"text":"part one"}]},"finishReason":"CONTINUATION","continuationToken":"dG9rZW4="}]}`
	up := newReplay(t, 200, "application/json", []byte(body))
	p := newProvider(t, up.URL)
	res, err := p.Chat(context.Background(), &providers.ChatRequest{Model: testModel, Body: []byte(hiBody)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinishReason != "length" {
		t.Errorf("finish = %q", res.FinishReason)
	}
	conformance.NoRetry(t, up.requests())
}

// TestStreamMidStreamErrorFixture replays a real gemini-2.0-flash stream
// that ended with Google's bare error object.
func TestStreamMidStreamErrorFixture(t *testing.T) {
	f := loadFixture(t, "stream_midstream_error.json")
	up := newReplay(t, 200, "text/event-stream", []byte(f.Transcript))
	p := newProvider(t, up.URL)
	sink := &conformance.Collect{}
	_, err := p.Chat(context.Background(), streamReq(hiBody, true), sink)
	pe := conformance.AsError(t, err)
	if pe.Status != 503 || pe.Type != providers.TypeUnavailable || !pe.Retryable || !strings.Contains(pe.Message, "overloaded") {
		t.Errorf("got %+v", pe)
	}
	views := conformance.ParseChunks(t, sink.All())
	if len(views) != 1 || *views[0].Choices[0].Delta.Content != "Okay" {
		t.Errorf("delivered %d chunks", len(views))
	}
}

// blockingUpstream answers a stream's first event, then holds the request
// open; started is closed when the request arrives, done when the server
// sees the client go away.
func blockingUpstream(t *testing.T, stream bool) (srv *httptest.Server, started, done chan struct{}) {
	started, done = make(chan struct{}), make(chan struct{})
	release := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(started)
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"}}]}\r\n\r\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			close(done)
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, started, done
}

// TestCancelStopsUpstream: cancelling the context (or a failing sink)
// drops the upstream request at once.
func TestCancelStopsUpstream(t *testing.T) {
	// closes fails the test unless done closes: what (the upstream request
	// or stream) is still open.
	closes := func(t *testing.T, done <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // deadlock guard, not a timing target
			t.Fatal(what + " still open")
		}
	}
	t.Run("unary", func(t *testing.T) {
		srv, started, done := blockingUpstream(t, false)
		p := newProvider(t, srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := p.Chat(ctx, &providers.ChatRequest{Model: testModel, Body: []byte(hiBody)}, nil)
		pe := conformance.AsError(t, err)
		if pe.Retryable {
			t.Errorf("a cancelled request is not retryable: %+v", pe)
		}
		closes(t, done, "upstream request")
	})
	t.Run("stream", func(t *testing.T) {
		srv, _, done := blockingUpstream(t, true)
		p := newProvider(t, srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		sink := &conformance.Collect{OnFirst: cancel}
		_, err := p.Chat(ctx, streamReq(hiBody, false), sink)
		if err == nil {
			t.Fatal("no error after cancel")
		}
		closes(t, done, "upstream stream")
	})
	t.Run("sink error", func(t *testing.T) {
		srv, _, done := blockingUpstream(t, true)
		p := newProvider(t, srv.URL)
		gone := errors.New("client went away")
		_, err := p.Chat(context.Background(), streamReq(hiBody, false), providers.SinkFunc(func([]byte) error { return gone }))
		if !errors.Is(err, gone) {
			t.Errorf("err = %v, want the sink's error", err)
		}
		closes(t, done, "upstream stream")
	})
	t.Run("deadline", func(t *testing.T) {
		emu := newEmulator(t, geminiemu.Options{Fault: geminiemu.Fault{Hang: true}})
		p := newProvider(t, emu.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := p.Chat(ctx, streamReq(hiBody, false), &conformance.Collect{})
		pe := conformance.AsError(t, err)
		if pe.Status != http.StatusGatewayTimeout || !pe.Retryable {
			t.Errorf("deadline: got %+v, want a retryable 504", pe)
		}
	})
}
