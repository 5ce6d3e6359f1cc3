package gemini

import (
	"context"
	"encoding/json"
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
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

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
	p, err := New(providers.Options{Name: "gemini", BaseURL: base, APIKey: testKey, KeyEnv: "GEMINI_API_KEY",
		HTTPClient: conformance.Client(t)})
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
	return conformance.Serve(t, geminiemu.New(o))
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
