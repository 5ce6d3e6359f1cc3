package providers

import (
	"log/slog"
	"net/http"
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
	// log line, an error or a metric.
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
	// Logger receives adapter logs; nil means slog.Default().
	Logger *slog.Logger
}

// Log returns the logger to use.
func (o *Options) Log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
