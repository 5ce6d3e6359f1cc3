// Package webtest sends HTTP requests for tests and reads the answers
// whole: the one home of the "build a request, send it, read and close
// the body, fail the test on a transport error" helper that gateway, app,
// admin and emulator tests share. It is test infrastructure: only tests
// import it, and it imports only the standard library.
package webtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// NewRequest builds a request with body (none when "") and the headers
// hdr, failing the test on a malformed method or URL.
func NewRequest(t testing.TB, method, url, body string, hdr map[string]string) *http.Request {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// Do sends req with c (http.DefaultClient when nil) and returns the
// response and its body, read and closed; a transport or read error fails
// the test.
func Do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Send builds a request (see NewRequest), sends it with
// http.DefaultClient and returns the response and its body (see Do).
func Send(t testing.TB, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return Do(t, nil, NewRequest(t, method, url, body, hdr))
}
