// Package messages serves Anthropic's Messages API (POST /v1/messages)
// through the gateway's chat path: it translates a Messages request into
// an OpenAI chat completion request, and the chat completion (whole, or
// chunk by chunk) back into a Message or Anthropic's event stream; errors
// leave in Anthropic's error shape. A backend whose adapter speaks the
// Messages API itself (Anthropic's) is given the client's body instead
// (providers.Native), so nothing is lost there; Fields says what a
// translated request keeps of each field.
//
// It implements inbound.API. It imports inbound, providers (the error
// type) and openaiwire (OpenAI's shapes, never declared again here);
// the Anthropic shapes it reads and writes are declared once, in
// types.go. It must not import the gateway, the router or an adapter.
package messages

import (
	"net/http"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Name is the API's name (inbound.API.Name, providers.NativeRequest.API).
const Name = "anthropic.messages"

// CountTokensAPI names POST /v1/messages/count_tokens to an adapter that
// passes it through (providers.NativeRequest.API).
const CountTokensAPI = "anthropic.messages.count_tokens"

// Options configure the API.
type Options struct {
	// Model resolves the model a client names (Claude Code's
	// claude-sonnet-4-5-20250929, say) to what the gateway routes: a
	// catalog id, "auto:<profile>" or the name unchanged. Nil: unchanged.
	Model func(string) string
}

// API is the Messages API.
type API struct{ o Options }

var _ inbound.API = (*API)(nil)

// New returns the API.
func New(o Options) *API { return &API{o: o} }

// Name implements inbound.API.
func (*API) Name() string { return Name }

// Model is the model the gateway routes for a client's model name.
func (a *API) Model(name string) string {
	if a.o.Model == nil {
		return name
	}
	return a.o.Model(name)
}

// ToChat implements inbound.API.
func (a *API) ToChat(body []byte) ([]byte, error) {
	r, err := ParseRequest(body)
	if err != nil {
		return nil, err
	}
	return a.translate(r)
}

// translate writes r as a chat completion request; one with fields only
// Anthropic serves is an *inbound.NativeOnly holding it.
func (a *API) translate(r *Request) ([]byte, error) {
	var tr translator
	c, err := tr.toChat(r, a.Model(r.Model))
	if err != nil {
		return nil, err
	}
	b, err := openaiwire.Marshal(c)
	if err != nil || tr.only == nil {
		return b, err
	}
	return nil, &inbound.NativeOnly{Chat: b, Err: tr.only}
}

// Forward implements inbound.API: Anthropic's version and beta headers.
func (*API) Forward(h http.Header) http.Header {
	var out http.Header
	for _, k := range []string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := h.Values(k); len(v) > 0 {
			if out == nil {
				out = http.Header{}
			}
			out[k] = append([]string(nil), v...)
		}
	}
	return out
}

// Error implements inbound.API: Anthropic's error body.
func (*API) Error(e *providers.Error) []byte {
	return openaiwire.MustMarshal(errorBody(e))
}

func errorBody(e *providers.Error) ErrorBody {
	return ErrorBody{Type: "error", Error: ErrorDetail{Type: ErrorType(e), Message: e.Message}}
}

// ErrorType is the Anthropic error type for e: from its status, else
// (no status, or one Anthropic gives no type) from its OpenAI type.
func ErrorType(e *providers.Error) string {
	switch e.Status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestTimeout, http.StatusUnprocessableEntity:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	switch e.Type { // a status of its own, or none
	case providers.TypeAuthentication:
		return "authentication_error"
	case providers.TypePermission:
		return "permission_error"
	case providers.TypeNotFound:
		return "not_found_error"
	case providers.TypeRateLimit:
		return "rate_limit_error"
	case providers.TypeUnavailable:
		return "overloaded_error"
	}
	if e.Status >= 400 && e.Status < 500 || e.Type == providers.TypeInvalidRequest {
		return "invalid_request_error"
	}
	return "api_error"
}

// CountChat translates a count_tokens body (a Messages request without
// max_tokens or stream) into the chat completion request whose prompt it
// counts.
func (a *API) CountChat(body []byte) ([]byte, error) {
	r, err := ParseRequest(body)
	if err != nil {
		return nil, err
	}
	r.Stream = false
	if r.MaxTokens == nil {
		r.MaxTokens = openaiwire.Ptr[int64](1)
	}
	return a.translate(r)
}
