// Package emu holds what every provider emulator shares: the fault
// vocabulary, the request log entry, and the small helpers that wait and
// drop connections. Emulators are test infrastructure, never backends;
// this package imports nothing of tiergate.
package emu

import (
	"context"
	"net/http"
	"time"
)

// Fault injects a failure into an emulator's answers.
type Fault struct {
	Status     int    // answer with this HTTP status and the provider's real error body
	Message    string // the error message in that body (and in a mid-stream error)
	RetryAfter string // Retry-After header value sent with Status
	Hang       bool   // accept the request, never answer until the client goes away
	Reset      bool   // hijack and close the TCP connection without an answer
	CutAfter   int    // streams: after this many content chunks, close without the end marker (0 = off)
	ErrorAfter int    // streams: after this many content chunks, send the provider's mid-stream error (0 = off)
}

// Request is one request as an emulator received it.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// Sleep waits d, or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
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
	}
}

// Reset closes the client's connection without an answer (or mid-answer).
func Reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
		}
	}
}
