// Package providers defines the contract between the gateway and the
// adapters that speak to model providers (OpenAI-compatible servers, Ollama,
// Anthropic, Gemini). Each adapter lives in its own sub-package and imports
// only this package, openaiwire (OpenAI's shapes), the stream readers and
// its own SDK; it must not import the gateway, the router or another
// adapter. This package holds the contract (Provider, Sink, the requests,
// Result, Usage, Timing, Error), the error constructors and the few
// helpers every adapter needs (Retry-After, draining, a logger and errors
// scrubbed of the key); it imports only openaiwire of tiergate.
//
// The gateway's wire format is OpenAI's: a request arrives as the client's
// OpenAI JSON body and every adapter answers with OpenAI JSON (a whole
// chat.completion for unary calls, chat.completion.chunk payloads for
// streams). A pass-through adapter forwards bytes almost untouched; a
// translating adapter decodes the body with DecodeChat and re-encodes.
package providers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// Provider is one configured upstream: an account at a SaaS API, a local
// Ollama, or a self-hosted OpenAI-compatible server.
type Provider interface {
	// Name is the provider's configured name (for example "openai", "groq").
	Name() string
	// Chat performs a chat completion. For a streaming request every
	// chat.completion.chunk is handed to sink.Chunk as it arrives, and
	// Result.Body is empty; for a unary request sink is not used and
	// Result.Body holds the whole OpenAI chat.completion JSON.
	// An error returned after sink.Chunk was called means the stream broke.
	Chat(ctx context.Context, req *ChatRequest, sink Sink) (*Result, error)
	// Embed creates embeddings; Result.Body is OpenAI's embeddings list JSON.
	Embed(ctx context.Context, req *EmbedRequest) (*Result, error)
	// Models lists the model names the upstream serves.
	Models(ctx context.Context) ([]string, error)
	// Health is a cheap check that the upstream answers and accepts our
	// credentials. It must not cost tokens.
	Health(ctx context.Context) error
}

// Sink receives the chunks of a streamed chat completion.
type Sink interface {
	// Chunk delivers one chat.completion.chunk JSON object (without the SSE
	// "data: " framing). The slice is only valid during the call.
	Chunk(data []byte) error
}

// BufferedSink is implemented by sinks that can hold a chunk back
// without flushing it to the client. An adapter that already holds the
// next chunk in its read buffer may call ChunkBuffered instead of Chunk,
// so that chunks that arrived together leave together; the next Chunk
// call flushes them all. Adapters must end with a Chunk call (or return),
// never leave a buffered chunk for later.
type BufferedSink interface {
	Sink
	ChunkBuffered(data []byte) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(data []byte) error

// Chunk calls f(data).
func (f SinkFunc) Chunk(data []byte) error { return f(data) }

// ChatRequest is a chat completion as the client sent it.
type ChatRequest struct {
	// Model is the upstream model name to ask for (already resolved from
	// the catalog; not necessarily what the client wrote).
	Model string
	// Body is the client's OpenAI JSON body. Adapters must not modify it.
	Body []byte
	// Stream is the body's "stream" field.
	Stream bool
	// IncludeUsage reports whether the client asked for a usage chunk
	// (stream_options.include_usage). Adapters always obtain usage from the
	// upstream when it can give it, but send the usage chunk to the sink
	// only when this is true.
	IncludeUsage bool
	// OnFirstByte, when set, is called once when the upstream's response
	// headers arrive (before any chunk), so the caller can stop its
	// time-to-first-byte timer. Adapters must call it if it is set.
	OnFirstByte func()
}

// FirstByte calls r.OnFirstByte if it is set.
func (r *ChatRequest) FirstByte() {
	if r.OnFirstByte != nil {
		r.OnFirstByte()
	}
}

// DecodeChat decodes the request body into openaiwire's lossless request
// type, for translating adapters. Members it does not know are dropped,
// which is why pass-through adapters forward Body instead.
func (r *ChatRequest) DecodeChat() (*openaiwire.ChatRequest, error) {
	var req openaiwire.ChatRequest
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, BadRequest("invalid chat request: "+err.Error(), "")
	}
	return &req, nil
}

// EmbedRequest is an embeddings request as the client sent it.
type EmbedRequest struct {
	Model string
	Body  []byte
}

// Result describes a finished (or, for a stream, completed) response.
type Result struct {
	// Body is the OpenAI JSON response for unary calls.
	Body []byte
	// Usage is the token usage the upstream reported, nil when it gave none.
	Usage *Usage
	// FinishReason in OpenAI's terms ("stop", "length", "tool_calls", ...).
	FinishReason string
	// Timing holds what the adapter measured and what the upstream told.
	Timing Timing
}

// Usage is token usage in OpenAI's terms.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// CachedPromptTokens counts prompt tokens served from a prompt cache
	// (already included in PromptTokens).
	CachedPromptTokens int `json:"cached_prompt_tokens,omitempty"`
	// CacheWriteTokens counts prompt tokens written to a prompt cache
	// (Anthropic's cache_creation_input_tokens; included in PromptTokens).
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
	// ReasoningTokens counts hidden reasoning tokens (included in
	// CompletionTokens).
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
	// AudioSeconds is the length of the audio a transcription read
	// (billed per minute: catalog.Price.PerMinute).
	AudioSeconds float64 `json:"audio_seconds,omitempty"`
	// Characters counts the input characters a speech request spoke
	// (billed per million: catalog.Price.PerMillionChars).
	Characters int `json:"characters,omitempty"`
}

// Timing holds per-response timing facts.
type Timing struct {
	// Start is when the adapter began sending the upstream request.
	Start time.Time
	// FirstByte is when the upstream's response headers arrived.
	FirstByte time.Time
	// FirstToken is when the first chunk carrying generated content
	// (text, reasoning or a tool-call piece) arrived; zero for unary calls.
	FirstToken time.Time
	// End is when the last byte was read.
	End time.Time
	// Chunks counts content-carrying chunks in a stream.
	Chunks int
	// Upstream holds timings the upstream reported itself (Ollama's
	// load_duration, prompt_eval_duration, eval_duration; an OpenAI-compatible
	// server's x_groq or processing-time fields), keyed by their wire names.
	Upstream map[string]time.Duration
}

// Content counts a stream chunk carrying generated content; the first
// sets FirstToken.
func (t *Timing) Content() {
	if t.FirstToken.IsZero() {
		t.FirstToken = time.Now()
	}
	t.Chunks++
}

// Error is a failure in OpenAI's error vocabulary, with what the router
// needs to decide on a retry. Messages never contain credentials.
type Error struct {
	// Provider is the configured provider name.
	Provider string
	// Status is the HTTP status the gateway should answer with.
	Status int
	// Type, Code and Param are OpenAI's error fields.
	Type  string
	Code  string
	Param string
	// Message says what happened, in the provider's words where it gave any.
	Message string
	// Retryable reports whether another attempt (on this or another
	// backend) can succeed: connection failures, timeouts, 429, 5xx.
	Retryable bool
	// RetryAfter is the provider's Retry-After, zero when it gave none.
	RetryAfter time.Duration
}

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeUpstream       = "upstream_error"
	TypeUnavailable    = "service_unavailable"
)

func (e *Error) Error() string {
	if e.Provider != "" {
		return e.Provider + ": " + e.Message
	}
	return e.Message
}
