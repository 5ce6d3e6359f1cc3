package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tiergate/tiergate/internal/testing/ollamatest"
)

// chatLog is a reverse proxy in front of Ollama that keeps each /api/chat
// request body and the streamed answer it got (passed on as it arrives).
type chatLog struct {
	mu    sync.Mutex
	chats []*loggedChat
}

type loggedChat struct {
	request  []byte
	response bytes.Buffer
}

type teeBody struct {
	io.Reader
	io.Closer
}

func (l *chatLog) proxy(t *testing.T, target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // stream every chunk at once
	rp.ModifyResponse = func(resp *http.Response) error {
		if c, ok := resp.Request.Context().Value(chatKey{}).(*loggedChat); ok {
			resp.Body = teeBody{io.TeeReader(resp.Body, &lockedWriter{&l.mu, &c.response}), resp.Body}
		}
		return nil
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/chat" {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			c := &loggedChat{request: b}
			l.mu.Lock()
			l.chats = append(l.chats, c)
			l.mu.Unlock()
			r = r.WithContext(contextWith(r, c))
		}
		rp.ServeHTTP(w, r)
	}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// answer is the text of a logged NDJSON answer.
func (c *loggedChat) answer(t *testing.T) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(c.response.Bytes()))
	for sc.Scan() {
		var line struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("answer line %q: %v", sc.Text(), err)
		}
		b.WriteString(line.Message.Content)
	}
	return b.String()
}

type chatRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// TestRealOllamaWorkloads runs a ShareGPT dataset through cmd/bench's
// options against a real Ollama serving the tiny model (through the
// Ollama adapter, OLLAMA_HOST pointing at a logging proxy), first as
// single requests, then as two-turn conversations: each second turn
// carries the model's own first answer, as Ollama streamed it.
func TestRealOllamaWorkloads(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	var log chatLog
	px := log.proxy(t, srv.URL)
	defer px.Close()
	vars := map[string]string{"OLLAMA_HOST": px.URL}
	dir := t.TempDir()

	out := filepath.Join(dir, "single")
	r := runBench(t, vars, "-model", "ollama/"+srv.Model, "-dataset", "testdata/sharegpt.json", "-requests", "3", "-warmup", "1",
		"-max-tokens", "8", "-concurrency", "1", "-timeout", "2m", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\nstderr:\n%s\nstdout:\n%s", r.err, r.stderr, r.stdout)
	}
	res := readResults(t, out)
	if w := res.Settings.Workload; w == nil || w.Source != "dataset" || w.Format != "sharegpt" || res.Runs[0].Requests.Succeeded != 3 {
		t.Fatalf("workload %+v, requests %+v %+v", w, res.Runs[0].Requests, res.Runs[0].Errors)
	}
	log.mu.Lock()
	var firsts []string
	for _, c := range log.chats[1:] { // after the warm-up
		var q chatRequest
		json.Unmarshal(c.request, &q)
		firsts = append(firsts, q.Messages[len(q.Messages)-1].Content)
	}
	log.chats = nil
	log.mu.Unlock()
	if strings.Join(firsts, "|") != "What is the capital of France? Answer in one word.|Name a colour.|What is the capital of France? Answer in one word." {
		t.Errorf("single requests sent %q", firsts)
	}

	out = filepath.Join(dir, "multi")
	r = runBench(t, vars, "-model", "ollama/"+srv.Model, "-dataset", "testdata/sharegpt.json", "-turns", "2", "-requests", "4", "-warmup", "0",
		"-max-tokens", "8", "-concurrency", "1", "-timeout", "2m", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\nstderr:\n%s\nstdout:\n%s", r.err, r.stderr, r.stdout)
	}
	t.Logf("multi-turn:\n%s", r.stdout)
	res = readResults(t, out)
	if w := res.Settings.Workload; w == nil || w.Turns != 2 || res.Runs[0].Requests.Succeeded != 4 {
		t.Fatalf("workload %+v, requests %+v %+v", w, res.Runs[0].Requests, res.Runs[0].Errors)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.chats) != 4 {
		t.Fatalf("%d chats, want 4", len(log.chats))
	}
	for i := 1; i < 4; i += 2 {
		var first, second chatRequest
		json.Unmarshal(log.chats[i-1].request, &first)
		json.Unmarshal(log.chats[i].request, &second)
		answer := log.chats[i-1].answer(t)
		n := len(first.Messages)
		if len(second.Messages) != n+2 || second.Messages[n].Role != "assistant" {
			t.Fatalf("turn 2 of conversation %d: %+v after %+v", i/2, second.Messages, first.Messages)
		}
		if got := second.Messages[n].Content; got != answer || strings.TrimSpace(answer) == "" {
			t.Errorf("conversation %d: turn 2 carries %q, the model answered %q", i/2, got, answer)
		}
		for k := range n {
			if second.Messages[k] != first.Messages[k] {
				t.Errorf("conversation %d: turn 2 changed message %d of the history", i/2, k)
			}
		}
		t.Logf("conversation %d: the model's first answer %q went into turn 2", i/2, answer)
	}
}

type chatKey struct{}

func contextWith(r *http.Request, c *loggedChat) context.Context {
	return context.WithValue(r.Context(), chatKey{}, c)
}
