// Package inbound is the seam between the gateway and the client APIs it
// serves besides OpenAI's chat completions: Anthropic's Messages and
// OpenAI's Responses. Each such API translates its request into an OpenAI
// chat completion body, which the gateway routes and runs like any chat
// (keys, policy, limits, fallback, spend), and translates the answer
// back: a whole completion, or the chunks of a stream as they arrive. An
// adapter that speaks the API itself (providers.Native) is given the
// client's request unchanged instead.
//
// This package holds the contract only; each API is a sub-package
// (inbound/messages, inbound/responses). It imports providers (for the
// error type) and nothing else of tiergate; neither it nor its
// sub-packages may import the gateway, the router or an adapter.
package inbound

import (
	"net/http"

	"github.com/tiergate/tiergate/internal/providers"
)

// API is one client API served through the chat path.
type API interface {
	// Name names the API in logs, metrics and to adapters that speak it
	// natively (providers.NativeRequest.API): "anthropic.messages",
	// "openai.responses".
	Name() string
	// ToChat translates the client's request body into an OpenAI chat
	// completion body. A streamed request must ask for the usage chunk
	// (stream_options.include_usage), so the translated stream can
	// report usage. An error is the client's: a *providers.Error (400,
	// naming the field) or any error, answered 400; or a *NativeOnly,
	// for a request only adapters that speak the API can serve.
	ToChat(body []byte) ([]byte, error)
	// Completion translates a whole OpenAI chat.completion body into the
	// API's response body (JSON).
	Completion(chat []byte) ([]byte, error)
	// Stream begins translating one streamed answer.
	Stream() Stream
	// Error renders e in the API's error shape (a JSON body; the gateway
	// sets the status and Retry-After).
	Error(e *providers.Error) []byte
	// Forward picks the client's headers that a native adapter passes on
	// upstream (Anthropic's anthropic-version and anthropic-beta); nil
	// when none.
	Forward(h http.Header) http.Header
}

// Stream translates one streamed answer, chunk by chunk. It is used by
// one goroutine and holds what the API's events need across chunks
// (the open content block, the usage so far).
type Stream interface {
	// Chunk appends to dst the API's server-sent events for one OpenAI
	// chat.completion.chunk (JSON without the "data: " framing); it may
	// append nothing.
	Chunk(dst, chunk []byte) ([]byte, error)
	// End appends the events that close a complete answer.
	End(dst []byte) []byte
	// Fail appends the events that end an answer broken after bytes
	// reached the client, so that no client takes it for complete.
	Fail(dst []byte, e *providers.Error) []byte
}

// NativeOnly is ToChat's error for a request that uses what the
// translation cannot carry (Anthropic's server tools, say): only an
// adapter that speaks the API itself (providers.Native) can serve it.
// Chat is the translation without those parts, which the gateway routes
// by; Err is the 400 the client gets when no such adapter can take it.
type NativeOnly struct {
	Chat []byte
	Err  *providers.Error
}

func (e *NativeOnly) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *NativeOnly) Unwrap() error { return e.Err }
