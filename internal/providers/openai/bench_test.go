package openai

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
)

// streamBody is a 32-chunk stream with a usage chunk, as OpenAI sends it.
func streamBody() string {
	var b strings.Builder
	b.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n")
	for i := 0; i < 32; i++ {
		b.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n")
	}
	b.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	b.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":32,\"total_tokens\":37}}\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

const unaryBody = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`

func benchServer(b *testing.B) *httptest.Server {
	sb := streamBody()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "event-stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte(sb))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(unaryBody))
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchProvider(b *testing.B, url string) *Provider {
	p, err := New(providers.Options{Name: "openai", BaseURL: url, APIKey: "sk-proj-bench-key-0123456789"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.hc.CloseIdleConnections)
	return p
}

func BenchmarkChatStream(b *testing.B) {
	p := benchProvider(b, benchServer(b).URL)
	req := &providers.ChatRequest{Model: "m", Body: []byte(`{"model":"x","messages":[{"role":"user","content":"hi"}],"stream":true}`), Stream: true, IncludeUsage: true}
	sink := providers.SinkFunc(func([]byte) error { return nil })
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.Chat(context.Background(), req, sink); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatUnary(b *testing.B) {
	p := benchProvider(b, benchServer(b).URL)
	req := &providers.ChatRequest{Model: "m", Body: []byte(`{"model":"x","messages":[{"role":"user","content":"hi"}]}`)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.Chat(context.Background(), req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
