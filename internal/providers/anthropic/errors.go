package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/tiergate/tiergate/internal/providers"
)

// typeStatus is the HTTP status Anthropic documents for each error type.
// A stream's `error` event arrives inside a 200 response, so its status
// comes from here.
func typeStatus(t string) int {
	switch t {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	default: // api_error and types added later
		return http.StatusInternalServerError
	}
}

// apiError maps an Anthropic error (a status with its
// {"type":"error","error":{"type":...,"message":...}} body, or a stream's
// error event) to the gateway's vocabulary.
func (p *Provider) apiError(e *sdk.Error) *providers.Error {
	status := e.StatusCode
	typ := string(e.Type())
	if status < 400 { // an error event inside a streamed 200
		status = typeStatus(typ)
	}
	var h http.Header
	if e.Response != nil {
		h = e.Response.Header
	}
	msg := p.scrub(e.Message)
	if msg == "" && typ == "" {
		// Not Anthropic's error body (a proxy's page, say): keep the
		// status, say so, and never repeat an unknown body.
		msg = fmt.Sprintf("Anthropic answered %d %s without an error body", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if status == http.StatusUnauthorized {
		env := p.keyEnv
		if env == "" {
			env = "the provider's configured API key"
		}
		if msg != "" {
			msg = fmt.Sprintf("Anthropic rejected the API key (%s): check %s", msg, env)
		} else {
			msg = "Anthropic rejected the API key: check " + env
		}
	}
	pe := providers.StatusError(p.name, status, msg, h)
	pe.Code = typ
	p.log.Debug("upstream error", "provider", p.name, "status", e.StatusCode, "type", typ)
	return pe
}

// fail turns any error of a call into a *providers.Error.
func (p *Provider) fail(err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Provider == "" {
			pe.Provider = p.name
		}
		return pe
	}
	var ae *sdk.Error
	if errors.As(err, &ae) {
		return p.apiError(ae)
	}
	te := providers.TransportError(p.name, err)
	te.Message = p.scrub(te.Message)
	p.log.Debug("upstream call failed", "provider", p.name, "error", err)
	if errors.Is(err, context.Canceled) {
		te.Message, te.Retryable = "request to "+p.name+" cancelled", false
	}
	return te
}

// scrub removes the API key from a message, in case an upstream or a
// proxy ever echoes it.
func (p *Provider) scrub(s string) string { return p.red.String(s) }
