package providers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// Options configures an adapter. Every adapter package exposes
// New(Options) (*Provider, error) taking this struct.
type Options struct {
	// Name is the configured provider name, used in errors and metrics.
	Name string
	// BaseURL is the API root (for OpenAI-compatible servers it ends in
	// /v1; for Anthropic and Gemini it is the host root).
	BaseURL string
	// APIKey authenticates to the upstream. It must never appear in a
	// log line, an error or a metric: Redactor scrubs it.
	APIKey string
	// KeyEnv names the environment variable that holds the key, so that
	// an authentication error can tell the operator what to fix.
	KeyEnv string
	// HTTPClient carries upstream requests; nil means a client with
	// sensible transport timeouts and no overall timeout (streams are
	// bounded by the request context instead).
	HTTPClient *http.Client
	// Headers are extra headers sent on every upstream request.
	Headers map[string]string
	// DefaultMaxTokens is used when a provider requires max_tokens and
	// the client gave none (Anthropic).
	DefaultMaxTokens int
	// ResponsesAPI says the upstream serves OpenAI's Responses API
	// (config's responses_api): the openai adapter then passes
	// "openai.responses" requests through (providers.Native).
	ResponsesAPI bool
	// Logger receives adapter logs; nil means slog.Default().
	Logger *slog.Logger
}

// Redactor returns the scrubber for the configured key (and for the
// values of extra headers, which may hold credentials too).
func (o *Options) Redactor() *openaiwire.Redactor {
	secrets := []string{o.APIKey}
	for _, v := range o.Headers {
		if len(v) >= 16 { // a credential, not a version or a flag
			secrets = append(secrets, v)
		}
	}
	return openaiwire.NewRedactor(secrets...)
}

// Log returns the logger to use: o.Logger (or slog.Default()) with the
// key scrubbed from every message and attribute it writes.
func (o *Options) Log() *slog.Logger {
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
	r := o.Redactor()
	if !r.Active() {
		return l
	}
	return slog.New(&redactHandler{next: l.Handler(), r: r})
}

// redactHandler scrubs secrets from the records it passes on.
type redactHandler struct {
	next slog.Handler
	r    *openaiwire.Redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.r.String(a.Value.String()))
	case slog.KindGroup:
		g := a.Value.Group()
		as := make([]slog.Attr, len(g))
		for i, x := range g {
			as[i] = h.attr(x)
		}
		a.Value = slog.GroupValue(as...)
	case slog.KindAny:
		s := fmt.Sprint(a.Value.Any())
		if c := h.r.String(s); c != s {
			a.Value = slog.StringValue(c)
		}
	}
	return a
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(out), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), r: h.r}
}

// ScrubError returns e with the secrets r knows removed from its message
// (e itself, changed in place).
func ScrubError(e *Error, r *openaiwire.Redactor) *Error {
	if e != nil && r.Active() {
		e.Message = r.String(e.Message)
		e.Param = r.String(e.Param)
		e.Code = r.String(e.Code)
	}
	return e
}
