package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/golden"
	"github.com/tiergate/tiergate/internal/testing/leak"
)

// testKey is distinctive so that a leak into a message is easy to spot.
const testKey = "AIzaSyTEST-do-not-leak-0123456789"

const testModel = "gemini-2.5-flash"

func TestMain(m *testing.M) { leak.VerifyTestMain(m) }

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
	b := golden.Read(t, filepath.Join("fixtures", name))
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Source == "" {
		t.Fatalf("%s names no source URL", name)
	}
	return f
}
