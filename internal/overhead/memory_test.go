package overhead

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestUpstreamHold: a stream that starts while the upstream holds stops
// after its first content chunk and ends, whole, once released; a stream
// after the release is not held.
func TestUpstreamHold(t *testing.T) {
	up := NewUpstream(3, 0)
	url := serve(t, up)
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	release := up.Hold()
	first := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := holdOne(context.Background(), c, url, first)
		done <- err
	}()
	select {
	case <-first:
	case err := <-done:
		t.Fatalf("held stream ended before its first chunk: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("held stream ended while held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("released stream: %v", err)
	}
	resp, err := c.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "data: [DONE]") {
		t.Errorf("stream after the release: %s", b)
	}
}

// TestHeldStreams runs the memory phase on the floor proxy in this
// process: every stream is held and released, and each open stream adds
// goroutines (the proxy's server and transport, the upstream's, the
// client's) and memory.
func TestHeldStreams(t *testing.T) {
	up := NewUpstream(3, 0)
	proxy, err := NewProxy(serve(t, up))
	if err != nil {
		t.Fatal(err)
	}
	p := &Path{Name: "reverseproxy", URL: serve(t, proxy), pid: os.Getpid(), Memory: &Memory{}}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer c.CloseIdleConnections()
	count := func() (int, error) { return runtime.NumGoroutine(), nil }
	if err := heldStreams(context.Background(), up, c, p, 5, 20, time.Millisecond, count); err != nil {
		t.Fatal(err)
	}
	m := p.Memory
	if m.Streams != 20 || m.Base != 5 || p.Errors != 0 {
		t.Errorf("memory phase: %+v, errors %d; want 20 streams over 5, no error", m, p.Errors)
	}
	// Per stream here: the proxy's conn and background read, its
	// transport's read and write loops, the upstream's conn and
	// background read, the client's two loops and the test's stream.
	if m.StreamGoroutines < 8 || m.StreamGoroutines > 10 {
		t.Errorf("goroutines per open stream = %.2f, want 8 to 10 in this process", m.StreamGoroutines)
	}
	t.Logf("goroutines per open stream: %.2f", m.StreamGoroutines)
	if m.BurstRSS <= 0 {
		t.Errorf("no RSS read: %+v", m)
	}
}
