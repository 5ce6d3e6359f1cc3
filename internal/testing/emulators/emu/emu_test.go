package emu

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestLog: a recorded request's body stays readable for the handler, the
// log hands out copies a test may change, options change at run time, and
// Forget empties the log.
func TestLog(t *testing.T) {
	l := NewLog(Fault{Status: 500})
	r := httptest.NewRequest("POST", "/v1/x?alt=sse", strings.NewReader(`{"a":1}`))
	body, o, err := l.Record(r)
	if err != nil || string(body) != `{"a":1}` || o.Status != 500 {
		t.Fatalf("Record = %q, %+v, %v", body, o, err)
	}
	if again, _ := io.ReadAll(r.Body); string(again) != `{"a":1}` {
		t.Fatalf("the handler reads %q after Record", again)
	}
	got := l.Requests()
	if len(got) != 1 || got[0].Path != "/v1/x" || got[0].Query != "alt=sse" || got[0].Method != "POST" {
		t.Fatalf("log = %+v", got)
	}
	got[0].Body[0] = 'X'
	if l.Requests()[0].Body[0] != '{' {
		t.Error("changing a returned request changed the log")
	}
	l.SetOptions(Fault{Hang: true})
	if !l.Options().Hang {
		t.Error("SetOptions did not take")
	}
	l.Forget()
	if len(l.Requests()) != 0 {
		t.Error("Forget left requests in the log")
	}
}

// TestRefuse: a fault with a Status is answered by the provider's writer,
// with Retry-After when the fault sets it; one without is left alone.
func TestRefuse(t *testing.T) {
	for _, tc := range []struct {
		f           Fault
		want        int
		retryAfter  string
		wantRefused bool
	}{
		{Fault{}, 200, "", false},
		{Fault{Status: 429, RetryAfter: "7"}, 429, "7", true},
		{Fault{Status: 503}, 503, "", true},
	} {
		rec := httptest.NewRecorder()
		refused := tc.f.Refuse(rec, func(w http.ResponseWriter, f Fault) { w.WriteHeader(f.Status) })
		if refused != tc.wantRefused || rec.Code != tc.want || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%+v: refused %v, status %d, Retry-After %q", tc.f, refused, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}

func TestWordsAndPieces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello", []string{"Hello"}},
		{"Hello there. ", []string{"Hello ", "there. "}},
		{" a  b", []string{" ", "a ", " ", "b"}},
	} {
		if got := Words(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		n    int
		want []string
	}{
		{"", 5, nil},
		{"abc", 5, []string{"abc"}},
		{"abcdefghij", 5, []string{"abcde", "fghij"}},
		{"abcdefghijk", 5, []string{"abcde", "fghij", "k"}},
	} {
		if got := Pieces(tc.in, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("Pieces(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
