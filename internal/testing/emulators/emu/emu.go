// Package emu holds what every provider emulator shares: the fault
// vocabulary, the options and request log (Log), the loopback server an
// emulator embeds (Server), and the small helpers that wait and drop
// connections. Emulators are test infrastructure, never backends;
// this package imports nothing of tiergate.
package emu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault injects a failure into an emulator's answers.
type Fault struct {
	Status     int      // answer with this HTTP status and the provider's real error body
	Message    string   // the error message in that body (and in a mid-stream error)
	RetryAfter string   // Retry-After header value sent with Status
	Hang       bool     // accept the request, never answer until the client goes away
	Reset      bool     // hijack and close the TCP connection without an answer
	CutAfter   int      // streams: after this many content chunks, close without the end marker (0 = off)
	ErrorAfter int      // streams: after this many content chunks, send the provider's mid-stream error (0 = off)
	CutAtStart bool     // streams: close after the stream's opening (role chunk, message_start), before any content
	Models     []string // fault only requests for these models (empty: every model)
}

// For is the fault as it applies to a request for model: f, or no fault
// when f names other models.
func (f Fault) For(model string) Fault {
	if len(f.Models) == 0 || slices.Contains(f.Models, model) {
		return f
	}
	return Fault{}
}

// ModelOf reads the "model" field of a JSON request body ("" if none).
func ModelOf(body []byte) string {
	var m struct {
		Model string `json:"model"`
	}
	json.Unmarshal(body, &m)
	return m.Model
}

// Request is one request as an emulator received it.
type Request struct {
	Method, Path string
	// Query is the raw query string, e.g. alt=sse.
	Query  string
	Header http.Header
	Body   []byte
}

// Log is what tests read and change while an emulator runs: its options
// and the requests it received. It is safe for concurrent use; an
// emulator embeds it, which gives it SetOptions and Requests.
type Log[O any] struct {
	mu   sync.Mutex
	opts O
	reqs []Request
}

// NewLog returns a log with the options o.
func NewLog[O any](o O) *Log[O] { return &Log[O]{opts: o} }

// SetOptions changes the behaviour for the requests that follow.
func (l *Log[O]) SetOptions(o O) {
	l.mu.Lock()
	l.opts = o
	l.mu.Unlock()
}

// Options returns the options in force.
func (l *Log[O]) Options() O {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opts
}

// Requests returns a copy of the request log.
func (l *Log[O]) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, len(l.reqs))
	for i, r := range l.reqs {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// Forget empties the request log (a long fuzz run keeps it from growing).
func (l *Log[O]) Forget() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// maxBody bounds the request body an emulator reads.
const maxBody = 64 << 20

// Record reads r's body (up to 64 MiB) and logs the request. It leaves
// r.Body readable again and returns the body and the options in force
// for this request.
func (l *Log[O]) Record(r *http.Request) ([]byte, O, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	return body, l.opts, err
}

// Sleep waits d, or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool { return sleep(ctx, d, nil) }

// sleep waits d, or until ctx ends or done closes (a nil done never
// does); it reports whether it waited the whole d.
func sleep(ctx context.Context, d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-done:
		return false
	}
}

// Reset closes the client's connection without an answer (or mid-answer).
// Where the connection cannot be hijacked (HTTP/2), it aborts the handler,
// which resets the stream.
func Reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Interrupt acts on the faults that answer nothing: Reset drops the
// connection, Hang waits until the client goes away or done closes. It
// reports whether it handled the request.
func (f Fault) Interrupt(w http.ResponseWriter, r *http.Request, done <-chan struct{}) bool {
	switch {
	case f.Reset:
		Reset(w)
		return true
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-done:
		}
		return true
	}
	return false
}

// Refuse answers with f's error Status, when it sets one: the Retry-After
// header (when RetryAfter is set), then the provider's error body, which
// write sends. It reports whether it answered.
func (f Fault) Refuse(w http.ResponseWriter, write func(http.ResponseWriter, Fault)) bool {
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	write(w, f)
	return true
}

// MessageOr is f.Message, or def when f sets none.
func (f Fault) MessageOr(def string) string {
	if f.Message == "" {
		return def
	}
	return f.Message
}

// Server is an emulator's loopback HTTP server and its request log. An
// emulator embeds it, which gives it URL, Close, SetOptions and Requests.
type Server[O any] struct {
	// URL is the base URL a client configures.
	URL string
	*Log[O]

	ts   *httptest.Server
	done chan struct{}
	once sync.Once
}

// NewServer returns a server, not yet started, whose log holds o.
func NewServer[O any](o O) *Server[O] {
	return &Server[O]{Log: NewLog(o), done: make(chan struct{})}
}

// Start serves h on 127.0.0.1; URL becomes the server's root followed by
// base (e.g. "/v1", or "" for the host root).
func (s *Server[O]) Start(h http.Handler, base string) {
	s.ts = httptest.NewServer(h)
	s.URL = s.ts.URL + base
}

// Done is closed when Close begins, releasing handlers that wait on it.
func (s *Server[O]) Done() <-chan struct{} { return s.done }

// Wait sleeps d; it reports false when the client went away or the server
// is closing.
func (s *Server[O]) Wait(ctx context.Context, d time.Duration) bool {
	return sleep(ctx, d, s.done)
}

// Close stops the server, ending hung requests first.
func (s *Server[O]) Close() {
	s.once.Do(func() { close(s.done) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Step is what a stream does at a content piece.
type Step int

const (
	Send Step = iota // send the piece
	Stop             // end the handler: the client left or the connection was cut
	Fail             // send the provider's mid-stream error, then end
)

// Before waits gap before every piece but the first and applies f's
// stream faults to piece i: CutAfter resets the connection, ErrorAfter
// asks for the mid-stream error.
func (f Fault) Before(ctx context.Context, w http.ResponseWriter, i int, gap time.Duration) Step {
	if i > 0 && !Sleep(ctx, gap) {
		return Stop
	}
	if f.CutAfter > 0 && i == f.CutAfter {
		Reset(w)
		return Stop
	}
	if f.ErrorAfter > 0 && i == f.ErrorAfter {
		return Fail
	}
	return Send
}

// DefaultReply is the assistant text an emulator streams when its options
// set none.
const DefaultReply = "Hello from the emulator. This reply arrives in pieces."

// DefaultToolArgs are the tool-call arguments an emulator sends when its
// options set none.
const DefaultToolArgs = `{"location":"Paris","unit":"celsius"}`

// Words splits a reply into the pieces an emulator streams: each word
// with the space after it (a further space is a piece of its own), so
// that the pieces concatenate back to the reply.
func Words(reply string) []string {
	var out []string
	for _, w := range strings.SplitAfter(reply, " ") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Pieces splits s into n-byte pieces (the last may be shorter), as
// emulators stream tool-call arguments.
func Pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
