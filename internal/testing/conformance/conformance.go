// Package conformance holds the adapter conformance suite and the test
// helpers every adapter's tests share: canonical JSON and its golden-file
// comparison (over package golden), a collecting Sink, and helpers to read
// errors, answers and chunks (as openaiwire's types), and what an upstream was asked. The suite itself (conformance_test.go) runs one
// table of cases (unary, stream, include_usage, streamed tool arguments,
// a cut mid-stream, 429 with Retry-After, 401, a parameter the provider
// cannot honour) and one table of key shapes echoed by an upstream against
// every adapter with its emulator, with golden output in testdata.
//
// It is test infrastructure: only tests import it. It imports providers
// and openaiwire, never an adapter (the adapters' own tests import it).
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// GoldenJSON is golden.File for JSON, compared in its Canonical form.
func GoldenJSON(t testing.TB, name string, got []byte) {
	t.Helper()
	golden.File(t, name, Canonical(t, got))
}

// Canonical re-indents JSON with sorted keys, numbers as written and no
// HTML escaping, ending in a newline, so that golden files are stable and
// readable.
func Canonical(t testing.TB, b []byte) []byte {
	t.Helper()
	v := decode(t, b)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decode reads JSON keeping numbers as written.
func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

// Collect is a Sink that keeps a copy of every chunk. OnFirst, when set,
// runs after the first chunk arrives. It is safe for concurrent use.
type Collect struct {
	OnFirst func()

	mu     sync.Mutex
	chunks [][]byte
}

// Chunk keeps a copy of b.
func (c *Collect) Chunk(b []byte) error {
	c.mu.Lock()
	c.chunks = append(c.chunks, bytes.Clone(b))
	first := len(c.chunks) == 1
	c.mu.Unlock()
	if first && c.OnFirst != nil {
		c.OnFirst()
	}
	return nil
}

// All returns the chunks received so far.
func (c *Collect) All() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.chunks...)
}

// JSONArray joins JSON chunks into one JSON array.
func JSONArray(chunks [][]byte) []byte {
	return append(append([]byte("["), bytes.Join(chunks, []byte(","))...), ']')
}

// AsError returns err as a *providers.Error, failing the test otherwise.
func AsError(t testing.TB, err error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %T (%v) is not a *providers.Error", err, err)
	}
	return pe
}

// ParseCompletion decodes a chat.completion body, failing the test on
// anything else.
func ParseCompletion(t testing.TB, body []byte) openaiwire.ChatCompletion {
	t.Helper()
	var c openaiwire.ChatCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("the answer is not JSON: %v\n%s", err, body)
	}
	if c.Object != openaiwire.ObjectCompletion {
		t.Fatalf("the answer's object = %q\n%s", c.Object, body)
	}
	return c
}

// ParseChunks decodes chat.completion.chunk payloads, failing the test on
// anything else.
func ParseChunks(t testing.TB, raw [][]byte) []openaiwire.ChatCompletionChunk {
	t.Helper()
	out := make([]openaiwire.ChatCompletionChunk, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("chunk %d is not JSON: %v\n%s", i, err, b)
		}
		if out[i].Object != openaiwire.ObjectChunk {
			t.Fatalf("chunk %d object = %q", i, out[i].Object)
		}
	}
	return out
}

// Volatile replaces the values that change from run to run (ids,
// timestamps, generated call ids) in a JSON document with fixed
// placeholders, so that answers can be compared with a golden file.
func Volatile(t testing.TB, b []byte) []byte {
	t.Helper()
	out, err := json.Marshal(fixVolatile(decode(t, b)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fixVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "id", "system_fingerprint":
				if _, ok := e.(string); ok {
					x[k] = "(" + k + ")"
					continue
				}
			case "created":
				x[k] = 0
				continue
			}
			x[k] = fixVolatile(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fixVolatile(e)
		}
	}
	return v
}

// Client is an HTTP client with its own transport, whose idle connections
// are closed when the test ends (so that goleak sees no reader left).
func Client(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// OnlyRequest is the one request an upstream (an emulator's log, a
// replay's) received, failing the test at once when it saw another number.
func OnlyRequest[R any](t testing.TB, reqs []R) R {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// NoRetry fails the test unless the upstream saw exactly one request: an
// adapter (and its SDK) never retries or continues on its own; the
// gateway decides.
func NoRetry[R any](t testing.TB, reqs []R) {
	t.Helper()
	if len(reqs) != 1 {
		t.Errorf("upstream saw %d requests, want 1: the adapter and its SDK must neither retry nor continue", len(reqs))
	}
}

// Serve registers s (an emulator, a test server) to be closed when the
// test ends, and returns it.
func Serve[S interface{ Close() }](t testing.TB, s S) S {
	t.Cleanup(s.Close)
	return s
}
