package ollamatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/sse"
	"github.com/tiergate/tiergate/internal/testing/golden"
	"github.com/tiergate/tiergate/internal/testing/tinygguf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServer runs the real Ollama with the tiny model and checks the
// behaviour tiergate's Ollama adapter and benchmark depend on.
func TestServer(t *testing.T) {
	srv := Start(t, Options{})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	post := func(t *testing.T, path, body string) *http.Response {
		t.Helper()
		resp, err := client.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
		}
		return resp
	}
	onlyFavoured := func(t *testing.T, text string) {
		t.Helper()
		if text == "" || strings.Trim(text, tinygguf.FavouredBytes) != "" {
			t.Errorf("generated %q, want non-empty text of [a-z ]", text)
		}
	}

	t.Run("tags lists the model", func(t *testing.T) {
		resp, err := client.Get(srv.URL + "/api/tags")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tags struct {
			Models []struct {
				Name    string `json:"name"`
				Details struct {
					Format string `json:"format"`
					Family string `json:"family"`
				} `json:"details"`
			} `json:"models"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil {
			t.Fatal(err)
		}
		if len(tags.Models) != 1 || tags.Models[0].Name != srv.Model ||
			tags.Models[0].Details.Format != "gguf" || tags.Models[0].Details.Family != "llama" {
			t.Errorf("tags = %+v, want only %s (gguf, llama)", tags.Models, srv.Model)
		}
	})

	t.Run("native chat streams NDJSON", func(t *testing.T) {
		resp := post(t, "/api/chat", `{"model":"`+srv.Model+`","stream":true,"options":{"num_predict":8},
			"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}]}`)
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q, want application/x-ndjson", ct)
		}
		type chunk struct {
			Model   string `json:"model"`
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			Done               bool   `json:"done"`
			DoneReason         string `json:"done_reason"`
			TotalDuration      int64  `json:"total_duration"`
			LoadDuration       int64  `json:"load_duration"`
			PromptEvalCount    int    `json:"prompt_eval_count"`
			PromptEvalDuration int64  `json:"prompt_eval_duration"`
			EvalCount          int    `json:"eval_count"`
			EvalDuration       int64  `json:"eval_duration"`
		}
		var chunks []chunk
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var c chunk
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("line %d %q: %v", len(chunks)+1, sc.Bytes(), err)
			}
			if len(chunks) > 0 && chunks[len(chunks)-1].Done {
				t.Fatalf("line after the done line: %s", sc.Bytes())
			}
			chunks = append(chunks, c)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if len(chunks) < 2 {
			t.Fatalf("%d lines, want content lines and a done line", len(chunks))
		}
		var text strings.Builder
		for _, c := range chunks {
			if c.Model != srv.Model && c.Model != "tiny" {
				t.Errorf("chunk model %q", c.Model)
			}
			if c.Message.Role != "assistant" {
				t.Errorf("chunk role %q, want assistant", c.Message.Role)
			}
			text.WriteString(c.Message.Content)
		}
		onlyFavoured(t, text.String())
		last := chunks[len(chunks)-1]
		if !last.Done || last.DoneReason != "length" {
			t.Errorf("last line done=%v done_reason=%q, want done with reason length", last.Done, last.DoneReason)
		}
		if last.EvalCount != 8 || last.EvalDuration <= 0 || last.PromptEvalCount <= 0 ||
			last.PromptEvalDuration <= 0 || last.TotalDuration <= 0 || last.LoadDuration < 0 {
			t.Errorf("final counters %+v: want eval_count 8 and positive durations", last)
		}
		t.Logf("generated %q; load %dns prompt_eval %d tokens/%dns eval %d tokens/%dns",
			text.String(), last.LoadDuration, last.PromptEvalCount, last.PromptEvalDuration, last.EvalCount, last.EvalDuration)
	})

	t.Run("OpenAI-compatible chat streams SSE", func(t *testing.T) {
		resp := post(t, "/v1/chat/completions", `{"model":"`+srv.Model+`","stream":true,"max_tokens":4,
			"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("Content-Type %q, want text/event-stream", ct)
		}
		r := sse.NewReader(resp.Body, 1<<20)
		var text strings.Builder
		var finish string
		var usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
		done := false
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if done {
				t.Fatalf("event after [DONE]: %s", ev.Data)
			}
			if string(ev.Data) == "[DONE]" {
				done = true
				continue
			}
			var c struct {
				Object  string `json:"object"`
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				} `json:"choices"`
				Usage *struct {
					PromptTokens     int `json:"prompt_tokens"`
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(ev.Data, &c); err != nil {
				t.Fatalf("data %q: %v", ev.Data, err)
			}
			if c.Object != "chat.completion.chunk" {
				t.Errorf("object %q, want chat.completion.chunk", c.Object)
			}
			for _, ch := range c.Choices {
				text.WriteString(ch.Delta.Content)
				if ch.FinishReason != nil {
					finish = *ch.FinishReason
				}
			}
			if c.Usage != nil {
				usage = c.Usage
			}
		}
		if !done {
			t.Error("stream did not end with data: [DONE]")
		}
		onlyFavoured(t, text.String())
		if finish != "length" {
			t.Errorf("finish_reason %q, want length", finish)
		}
		if usage == nil || usage.CompletionTokens != 4 || usage.PromptTokens <= 0 {
			t.Errorf("usage %+v, want 4 completion tokens and some prompt tokens", usage)
		}
	})

	// Ollama's llama.cpp runner embeds with any model: /api/embed returns
	// one L2-normalized vector of embedding_length floats per input.
	t.Run("embed works with the tiny model", func(t *testing.T) {
		resp := post(t, "/api/embed", `{"model":"`+srv.Model+`","input":["hello","world"]}`)
		var e struct {
			Embeddings      [][]float64 `json:"embeddings"`
			PromptEvalCount int         `json:"prompt_eval_count"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		if len(e.Embeddings) != 2 || e.PromptEvalCount <= 0 {
			t.Fatalf("%d embeddings, prompt_eval_count %d; want 2 and > 0", len(e.Embeddings), e.PromptEvalCount)
		}
		for i, v := range e.Embeddings {
			var ss float64
			for _, x := range v {
				ss += x * x
			}
			if len(v) != 64 || math.Abs(math.Sqrt(ss)-1) > 1e-3 {
				t.Errorf("embedding %d: %d floats with norm %.4f, want 64 with norm 1", i, len(v), math.Sqrt(ss))
			}
		}
		if len(e.Embeddings[0]) == 64 && len(e.Embeddings[1]) == 64 && e.Embeddings[0][1] == e.Embeddings[1][1] {
			t.Error("different inputs gave the same embedding")
		}
	})
}

func TestModelfile(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{name: "defaults", o: Options{}},
		{name: "custom", o: Options{Template: "{{ .Prompt }}", NumCtx: 256, NumPredict: 4}},
		{name: "no num_predict", o: Options{NumPredict: -1}},
		{name: "triple quote", o: Options{Template: `say """`}, err: `must not contain """`},
		{name: "negative ctx", o: Options{NumCtx: -1}, err: "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modelfile(tc.o.withDefaults())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden.File(t, strings.ReplaceAll(tc.name, " ", "_")+".Modelfile", []byte(got))
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "internal", "pkg")
	for _, d := range []string{filepath.Join(root, "scripts"), deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A nested go.mod without the script must not stop the walk.
	for _, f := range []string{"go.mod", "scripts/ensure-ollama.sh", "internal/go.mod"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ from, want string }{
		{deep, root},
		{root, root},
	}
	for _, tc := range tests {
		got, err := repoRoot(tc.from)
		if err != nil || got != tc.want {
			t.Errorf("repoRoot(%s) = %q, %v; want %q", tc.from, got, err, tc.want)
		}
	}
	if _, err := repoRoot(t.TempDir()); err == nil {
		t.Error("repoRoot found a root in an empty tree")
	}
}

func TestServerEnv(t *testing.T) {
	base := []string{"PATH=/bin", "OLLAMA_HOST=0.0.0.0:11434", "OLLAMA_MODELS=/root/.ollama", "HOME=/root", "GOFLAGS=-x"}
	got := serverEnv(base, "127.0.0.1:5", "/m", "/h", []string{"OLLAMA_NUM_PARALLEL=2"})
	want := []string{"PATH=/bin", "GOFLAGS=-x", "OLLAMA_HOST=127.0.0.1:5", "OLLAMA_MODELS=/m", "HOME=/h", "OLLAMA_NUM_PARALLEL=2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("serverEnv = %v, want %v", got, want)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"one", 1, "one"},
	}
	for _, tc := range tests {
		if got := tail([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	if got := tailFile(filepath.Join(t.TempDir(), "missing"), 3); !bytes.Contains([]byte(got), []byte("no such file")) {
		t.Errorf("tailFile of a missing file = %q", got)
	}
}
