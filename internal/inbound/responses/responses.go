// Package responses serves OpenAI's Responses API (POST /v1/responses)
// through the gateway's chat path (inbound.API "openai.responses"): a
// request's input items, instructions, function tools, text format and
// sampling settings become an OpenAI chat completion body, which is
// routed to any backend; the answer (a chat.completion, or the chunks of
// a stream) becomes a Response object or the Responses stream events
// (response.created ... response.completed), with sequence numbers and
// "event:" lines as OpenAI writes them. An adapter that speaks the
// Responses API itself (OpenAI's, with providers.Native) gets the
// client's body instead, and its answer passes back unchanged.
//
// The gateway is stateless: nothing is stored, so previous_response_id,
// conversation, background and stored prompts are refused with a 400 that
// says to send the whole input; store is accepted and changes nothing.
// OpenAI's built-in tools (web_search, file_search, ...) run inside
// OpenAI's service and are refused with a 400 naming the tool.
//
// The Responses shapes are declared here, once; the chat side uses
// openaiwire's. It imports inbound, providers and openaiwire only.
package responses

import (
	"net/http"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Name is the API's name (inbound.API.Name, providers.NativeRequest.API).
const Name = "openai.responses"

// API is OpenAI's Responses API as an inbound.API.
type API struct{}

var _ inbound.API = API{}

// New returns the API.
func New() API { return API{} }

// Name implements inbound.API.
func (API) Name() string { return Name }

// Forward implements inbound.API: no client header is passed on.
func (API) Forward(http.Header) http.Header { return nil }

// Error renders e in OpenAI's error shape, which the Responses API shares
// with the rest of OpenAI's API.
func (API) Error(e *providers.Error) []byte {
	typ := e.Type
	if typ == "" {
		typ = providers.TypeServer
	}
	return openaiwire.MustMarshal(openaiwire.NewError(e.Message, typ, e.Param, e.Code))
}

// Stream implements inbound.API.
func (API) Stream() inbound.Stream { return &Stream{} }

// NotStored is the answer to every other request under /v1/responses/
// (retrieving, deleting or cancelling a response, listing its input
// items): the gateway keeps no responses.
func NotStored(method, path string) *providers.Error {
	return &providers.Error{Status: http.StatusNotFound, Type: providers.TypeInvalidRequest, Code: "response_not_found",
		Message: method + " " + path + ": tiergate stores no responses (store is ignored), so there is nothing to retrieve, delete or cancel. " +
			"It is a stateless gateway that serves POST /v1/responses only: keep the output you need, and send the whole conversation in input on the next turn."}
}
