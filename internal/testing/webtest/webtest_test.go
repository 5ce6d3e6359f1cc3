package webtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSend: the method, body and headers arrive as given, no body is sent
// for "", and the answer comes back whole.
func TestSend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+"|"+r.Header.Get("X-Test")+"|"+string(b))
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "answer")
	}))
	defer srv.Close()
	for _, tc := range []struct{ method, body, want string }{
		{"POST", "hello", "POST|yes|hello"},
		{"GET", "", "GET|yes|"},
	} {
		resp, b := Send(t, tc.method, srv.URL, tc.body, map[string]string{"X-Test": "yes"})
		if resp.StatusCode != http.StatusTeapot || string(b) != "answer" || resp.Header.Get("X-Seen") != tc.want {
			t.Errorf("%s: got %d %q, seen %q; want 418 \"answer\", %q", tc.method, resp.StatusCode, b, resp.Header.Get("X-Seen"), tc.want)
		}
	}
}
