package providers

import (
	"context"
	"net/http"
)

// NativeRequest is a request in a client API's own wire format
// (inbound.API.Name: "anthropic.messages", "openai.responses"), for an
// adapter that speaks that API itself.
type NativeRequest struct {
	API string
	// Model is the upstream model name; the adapter writes it into Body
	// (openaiwire.Rewrite replaces a top-level "model" member).
	Model string
	// Body is the client's body. Adapters must not modify it.
	Body []byte
	// Header holds the client's headers the API passes on
	// (inbound.API.Forward), nil when none.
	Header http.Header
	// Stream is the body's "stream" field.
	Stream bool
	// OnFirstByte is as ChatRequest.OnFirstByte.
	OnFirstByte func()
}

// FirstByte calls r.OnFirstByte if it is set.
func (r *NativeRequest) FirstByte() {
	if r.OnFirstByte != nil {
		r.OnFirstByte()
	}
}

// Native is implemented by adapters that pass a client API's requests
// through unchanged but for the model, and its answers back unchanged.
type Native interface {
	// Speaks reports whether the adapter passes api through.
	Speaks(api string) bool
	// CallNative sends req upstream. For a stream, each whole
	// server-sent event (its "event:" and "data:" lines and the blank
	// line that ends it) goes to sink.Chunk as it arrives and Result.Body
	// is empty; for a unary call Result.Body is the upstream's body.
	// Result.Usage and FinishReason are read from the answer, so spend
	// and limits count it; errors are *Error, as Chat's.
	CallNative(ctx context.Context, req *NativeRequest, sink Sink) (*Result, error)
}

// NativeFor returns p as a Native adapter when it passes api through,
// nil otherwise.
func NativeFor(p Provider, api string) Native {
	if n, ok := p.(Native); ok && api != "" && n.Speaks(api) {
		return n
	}
	return nil
}
