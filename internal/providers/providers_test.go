package providers

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		name      string
		e         *Error
		status    int
		typ       string
		retryable bool
	}{
		{"BadRequest", BadRequest("bad", "n"), 400, TypeInvalidRequest, false},
		{"Unsupported", Unsupported("Gemini", "logit_bias", "no biasing"), 400, TypeInvalidRequest, false},
		{"Upstream", Upstream("groq", "broke", true), 502, TypeUpstream, true},
		{"Unavailable", Unavailable("all cooling", 2*time.Second), 503, TypeUnavailable, true},
		{"RateLimited", RateLimited("groq", "slow down", time.Second), 429, TypeRateLimit, true},
		{"Timeout", Timeout("groq", "late"), 504, TypeUpstream, true},
		{"Internal", Internal("", "oops"), 500, TypeServer, false},
		{"NotFound", NotFound("model_not_found", "no such model"), 404, TypeInvalidRequest, false},
	}
	for _, tt := range tests {
		if tt.e.Status != tt.status || tt.e.Type != tt.typ || tt.e.Retryable != tt.retryable {
			t.Errorf("%s = %d %s retryable=%v, want %d %s %v", tt.name, tt.e.Status, tt.e.Type, tt.e.Retryable, tt.status, tt.typ, tt.retryable)
		}
	}
	if e := Unsupported("Gemini", "logit_bias", "no biasing"); e.Param != "logit_bias" || e.Message != "Gemini cannot honour logit_bias: no biasing" {
		t.Errorf("Unsupported = %+v", e)
	}
	if e := BadRequest("x", "").In("p"); e.Provider != "p" || e.In("q").Provider != "p" {
		t.Errorf("In must set an empty provider only: %+v", e)
	}
	if e := Unavailable("x", 3*time.Second); e.RetryAfter != 3*time.Second {
		t.Errorf("Unavailable RetryAfter = %v", e.RetryAfter)
	}
}

func TestTransportErrorNamesNoAddress(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8443},
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err  error
		want string
	}{
		{&url.Error{Op: "Post", URL: "https://api.groq.com:443/openai/v1/chat/completions?key=sk-x", Err: refused}, "cannot reach groq: dial tcp: connect: connection refused"},
		{&url.Error{Op: "Get", URL: "http://h", Err: &net.DNSError{Err: "no such host", Name: "api.groq.com"}}, "cannot reach groq: lookup: no such host"},
		{errors.New("read tcp 127.0.0.1:5555->[::1]:11434: connection reset by peer"), "cannot reach groq: read tcp upstream->upstream: connection reset by peer"},
		{errors.New("proxyconnect to localhost:3128 and api.openai.com:443 failed"), "cannot reach groq: proxyconnect to upstream and upstream failed"},
	}
	for _, tt := range tests {
		e := TransportError("groq", tt.err)
		if e.Message != tt.want || e.Status != http.StatusBadGateway || !e.Retryable {
			t.Errorf("TransportError(%v) = %d %q, want 502 %q", tt.err, e.Status, e.Message, tt.want)
		}
	}
}

func TestLogScrubsTheKey(t *testing.T) {
	const key = "sk-log-test-key-0123456789"
	var buf bytes.Buffer
	o := Options{APIKey: key, Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	log := o.Log().With("base", "https://x/?key="+key)
	log.Debug("call failed: key="+key, "error", errors.New("upstream said "+key), "body", key,
		slog.Group("req", "auth", "Bearer "+key), "n", 3)
	out := buf.String()
	if strings.Contains(out, key) {
		t.Errorf("the log holds the key: %s", out)
	}
	if !strings.Contains(out, `"n":3`) || !strings.Contains(out, "[redacted]") {
		t.Errorf("the log lost what it should keep: %s", out)
	}
	if (&Options{}).Log() != slog.Default() {
		t.Error("without a key the logger is used as it is")
	}
}

func TestScrubError(t *testing.T) {
	o := Options{APIKey: "gsk_scrub0123456789"}
	e := ScrubError(Upstream("groq", "bad key gsk_scrub0123456789", false), o.Redactor())
	if strings.Contains(e.Message, "gsk_scrub") {
		t.Errorf("ScrubError kept the key: %q", e.Message)
	}
}

// TestTimingContent: every content chunk is counted; only the first sets
// FirstToken.
func TestTimingContent(t *testing.T) {
	var tm Timing
	tm.Content()
	first := tm.FirstToken
	tm.Content()
	if first.IsZero() || !tm.FirstToken.Equal(first) || tm.Chunks != 2 {
		t.Errorf("after two chunks: FirstToken %v (first %v), Chunks %d", tm.FirstToken, first, tm.Chunks)
	}
}
