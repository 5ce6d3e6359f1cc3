// Package overhead measures what the gateway adds to a request, against
// the floor of one bare Go HTTP hop (httputil.ReverseProxy), in one run
// against the same fast upstream: added latency at a fixed rate (unary),
// added time to the first streamed chunk, and requests per second at
// saturation with the proxy under test pinned to one core, plus its
// memory. The figures are ratios, as this machine is small and shared.
// It imports no tiergate package but procmem (a /proc reader that imports
// nothing) and keys (to make the gateway key of a -key run): the gateway
// runs as its own process.
package overhead

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Upstream is a minimal OpenAI-compatible server whose answers are
// precomputed, so that it costs the same on every path and little.
type Upstream struct {
	unary  []byte
	chunks [][]byte
	// Gap is the delay between streamed chunks.
	Gap time.Duration
	// hold, when set, stops every stream after its first content chunk
	// until it is closed (Hold).
	hold atomic.Pointer[chan struct{}]
}

// Hold makes the streams that start from now on stop after their first
// content chunk until release is called (or their client goes), so that
// a run can count what an open stream costs.
func (u *Upstream) Hold() (release func()) {
	ch := make(chan struct{})
	u.hold.Store(&ch)
	return func() {
		u.hold.CompareAndSwap(&ch, nil)
		close(ch)
	}
}

// NewUpstream returns an upstream whose stream has n content chunks.
func NewUpstream(n int, gap time.Duration) *Upstream {
	u := &Upstream{Gap: gap}
	u.unary = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, this is a fixed reply."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}}` + "\n")
	u.chunks = append(u.chunks, []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n"))
	for i := 0; i < n; i++ {
		u.chunks = append(u.chunks, []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`+"\n\n"))
	}
	u.chunks = append(u.chunks, []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n"),
		[]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":`+strconv.Itoa(n)+`,"total_tokens":`+strconv.Itoa(n+9)+`}}`+"\n\n"),
		[]byte("data: [DONE]\n\n"))
	return u
}

// ServeHTTP answers /v1/chat/completions; a body containing
// `"stream":true` gets the stream.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf [4096]byte
	n, stream := 0, false
	for {
		m, err := r.Body.Read(buf[n:])
		n += m
		if err != nil || n == len(buf) {
			break
		}
	}
	if n == len(buf) {
		io.Copy(io.Discard, r.Body) // a large body is read to its end, as a real server would
	}
	stream = bytes.Contains(buf[:n], []byte(`"stream":true`))
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(u.unary)))
		w.Write(u.unary)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	hold := u.hold.Load()
	for i, c := range u.chunks {
		if i == 2 && hold != nil {
			select {
			case <-*hold:
			case <-r.Context().Done():
				return
			}
		}
		if i > 1 && u.Gap > 0 {
			time.Sleep(u.Gap)
		}
		if _, err := w.Write(c); err != nil {
			return
		}
		fl.Flush()
	}
}

// GoroutinesPath is where the floor proxy (ServeProxy) answers with its
// goroutine count, as the gateway's /metrics gives its go_goroutines.
const GoroutinesPath = "/debug/overhead/goroutines"

// NewProxy is the floor: a bare reverse proxy to target that flushes
// every write, as a streaming gateway must.
func NewProxy(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
		},
		FlushInterval: -1,
		Transport:     &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
	}
	return p, nil
}
