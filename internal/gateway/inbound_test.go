package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// tagAPI is a client API that frames each chunk as an "event: chunk"
// and ends with "event: end": enough to see which framing the sink used.
type tagAPI struct{}

type tagStream struct{ n int }

func (tagAPI) Name() string                        { return "test.tag" }
func (tagAPI) ToChat(b []byte) ([]byte, error)     { return b, nil }
func (tagAPI) Completion(b []byte) ([]byte, error) { return append([]byte("tag:"), b...), nil }
func (tagAPI) Stream() inbound.Stream              { return &tagStream{} }
func (tagAPI) Error(e *providers.Error) []byte     { return []byte(`{"tag_error":"` + e.Message + `"}`) }
func (tagAPI) Forward(h http.Header) http.Header   { return nil }
func (s *tagStream) End(dst []byte) []byte         { return append(dst, "event: end\n\n"...) }
func (s *tagStream) Fail(dst []byte, e *providers.Error) []byte {
	return append(dst, "event: fail\ndata: "+e.Message+"\n\n"...)
}
func (s *tagStream) Chunk(dst, c []byte) ([]byte, error) {
	s.n++
	return append(append(append(dst, "event: chunk\ndata: "...), c...), "\n\n"...), nil
}

func TestSinkFramesForTheClientsAPI(t *testing.T) {
	role := []byte(`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
	content := []byte(`{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`)
	cand := router.Candidate{Model: &catalog.Model{ID: "m", Provider: "p"}}
	for _, tc := range []struct {
		name   string
		api    inbound.API
		raw    bool
		chunks [][]byte
		want   string
	}{
		{"openai", nil, false, [][]byte{role, content}, "data: " + string(role) + "\n\ndata: " + string(content) + "\n\ndata: [DONE]\n\n"},
		{"translated: the held preamble is translated too", tagAPI{}, false, [][]byte{role, content},
			"event: chunk\ndata: " + string(role) + "\n\nevent: chunk\ndata: " + string(content) + "\n\nevent: end\n\n"},
		{"native: events pass through, nothing added", tagAPI{}, true, [][]byte{[]byte("event: x\ndata: {}\n\n")}, "event: x\ndata: {}\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tw := &trackWriter{ResponseWriter: w}
			k := &sseSink{w: tw, dec: &router.Decision{}, api: tc.api}
			k.begin(cand, 1, tc.raw)
			for _, c := range tc.chunks {
				if err := k.Chunk(c); err != nil {
					t.Fatal(err)
				}
			}
			k.done()
			if got := w.Body.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if !tw.complete {
				t.Fatal("a complete stream was not marked complete: a shutdown would append an error to it")
			}
		})
	}
	t.Run("a broken translated stream ends with the API's error event", func(t *testing.T) {
		w := httptest.NewRecorder()
		k := &sseSink{w: w, dec: &router.Decision{}, api: tagAPI{}}
		k.begin(cand, 1, false)
		k.Chunk(content)
		k.fail(&providers.Error{Message: "cut"})
		if got, want := w.Body.String(), "event: chunk\ndata: "+string(content)+"\n\nevent: fail\ndata: cut\n\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("errors before the stream leave in the API's shape", func(t *testing.T) {
		w := httptest.NewRecorder()
		writeAPIError(w, tagAPI{}, &providers.Error{Status: 429, Message: "slow down", RetryAfter: 1500e6})
		if w.Code != 429 || w.Body.String() != `{"tag_error":"slow down"}` || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("got %d %q Retry-After %q", w.Code, w.Body.String(), w.Header().Get("Retry-After"))
		}
	})
}
