package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testKey is distinctive so that a leak into a message is easy to spot.
const testKey = "AIzaSyTEST-do-not-leak-0123456789"

const testModel = "gemini-2.5-flash"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started at init by go.opencensus.io, a dependency of the SDK.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// newProvider returns a provider for base with a deterministic clock and
// ids, whose idle connections are closed when the test ends.
func newProvider(t testing.TB, base string) *Provider {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p, err := New(providers.Options{Name: "gemini", BaseURL: base, APIKey: testKey, KeyEnv: "GEMINI_API_KEY",
		HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return time.Unix(1700000000, 0) }
	var n atomic.Int64
	p.newID = func() string { return fmt.Sprintf("test%04d", n.Add(1)) }
	return p
}

func newEmulator(t testing.TB, o geminiemu.Options) *geminiemu.Server {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = testKey
	}
	s := geminiemu.New(o)
	t.Cleanup(s.Close)
	return s
}

// replay is an upstream that answers every request with a fixed status,
// headers and body, and remembers what it was asked.
type replay struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
	reqs   []*http.Request
}

func newReplay(t testing.TB, status int, contentType string, body []byte) *replay {
	t.Helper()
	r := &replay{status: status, header: http.Header{"Content-Type": {contentType}}, body: body}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		status, header, body := r.status, r.header, r.body
		r.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *replay) set(status int, header http.Header, body []byte) {
	r.mu.Lock()
	r.status, r.header, r.body = status, header, body
	r.mu.Unlock()
}

func (r *replay) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// fixture is a published Gemini API response kept in testdata/fixtures.
type fixture struct {
	Source     string          `json:"source"`
	Note       string          `json:"note"`
	Body       json.RawMessage `json:"body"`
	Transcript string          `json:"transcript"`
}

func loadFixture(t testing.TB, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Source == "" {
		t.Fatalf("%s names no source URL", name)
	}
	return f
}

// canonical re-indents JSON so that golden files are stable and readable.
func canonical(t testing.TB, b []byte) []byte {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// golden compares got (JSON) with testdata/<path>, or rewrites it with -update.
func golden(t testing.TB, path string, got []byte) {
	t.Helper()
	got = canonical(t, got)
	full := filepath.Join("testdata", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(full)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", full, got, want)
	}
}

// collect is a sink that keeps every chunk.
type collect struct {
	mu      sync.Mutex
	chunks  [][]byte
	onFirst func()
}

func (c *collect) Chunk(b []byte) error {
	c.mu.Lock()
	c.chunks = append(c.chunks, bytes.Clone(b))
	first := len(c.chunks) == 1
	c.mu.Unlock()
	if first && c.onFirst != nil {
		c.onFirst()
	}
	return nil
}

func (c *collect) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.chunks...)
}

// asJSONArray joins chunks into one JSON array for golden comparison.
func asJSONArray(chunks [][]byte) []byte {
	return append(append([]byte("["), bytes.Join(chunks, []byte(","))...), ']')
}

func asProviderError(t testing.TB, err error) *providers.Error {
	t.Helper()
	pe, ok := err.(*providers.Error)
	if !ok {
		t.Fatalf("error %T (%v) is not a *providers.Error", err, err)
	}
	return pe
}

// chunkView is the part of a chat.completion.chunk tests look at.
type chunkView struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role             string  `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			ToolCalls        []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func parseChunks(t testing.TB, chunks [][]byte) []chunkView {
	t.Helper()
	out := make([]chunkView, len(chunks))
	for i, c := range chunks {
		if err := json.Unmarshal(c, &out[i]); err != nil {
			t.Fatalf("chunk %d is not JSON: %v\n%s", i, err, c)
		}
		if out[i].Object != "chat.completion.chunk" {
			t.Fatalf("chunk %d object = %q", i, out[i].Object)
		}
	}
	return out
}
