package gemini

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/providers"
)

// guard turns a panic inside the SDK into a retryable upstream error. The
// SDK type-asserts upstream JSON without checking it (a body such as
// {"candidates": ""} panics in its converters), and a broken or hostile
// upstream must not bring the gateway down. Use as: defer p.guard(&err).
func (p *Provider) guard(err *error) {
	if r := recover(); r != nil {
		msg := p.red.String(fmt.Sprint(r))
		p.log.Warn("the Gemini SDK panicked on an upstream response", "provider", p.name, "panic", msg)
		*err = providers.Upstream(p.name, p.name+" sent a response the adapter cannot read: "+msg, true)
	}
}

func (p *Provider) invalid(param, msg string) *providers.Error {
	return providers.BadRequest(msg, param).In(p.name)
}

// mapError turns whatever the SDK returned into a providers.Error.
func (p *Provider) mapError(ctx context.Context, ci *callInfo, err error) *providers.Error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Provider == "" {
			pe.Provider = p.name
		}
		return pe
	}
	var header http.Header
	var firstByte time.Time
	status := 0
	if ci != nil {
		firstByte, status, header = ci.snapshot()
	}
	var apiErr genai.APIError
	var apiErrPtr *genai.APIError
	switch {
	case errors.As(err, &apiErr):
		return p.fromAPIError(apiErr, status, header)
	case errors.As(err, &apiErrPtr) && apiErrPtr != nil:
		return p.fromAPIError(*apiErrPtr, status, header)
	}
	if ctx.Err() != nil {
		return p.contextError(ctx.Err())
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		p.log.Debug("upstream call failed", "provider", p.name, "error", err)
		e := providers.TransportError(p.name, err)
		if !firstByte.IsZero() && status/100 == 2 {
			e.Message = "the connection to " + p.name + " broke during the response: " + providers.TransportCause(err)
		}
		e.Message = p.red.String(e.Message)
		return e
	}
	return providers.Upstream(p.name, p.name+" sent a response the adapter cannot read: "+p.red.String(err.Error()), true)
}

func (p *Provider) contextError(err error) *providers.Error {
	e := providers.TransportError(p.name, err)
	if errors.Is(err, context.Canceled) {
		e.Retryable = false
		e.Message = "request to " + p.name + " was cancelled"
	}
	return e
}

// fromAPIError maps Google's error body ({"error":{"code","message",
// "status","details"}}) to the gateway's vocabulary. status and header
// come from the HTTP response when there was one (they are zero for an
// error object that arrived inside a 200 stream).
func (p *Provider) fromAPIError(e genai.APIError, httpStatus int, header http.Header) *providers.Error {
	code := e.Code
	if code == 0 {
		code = httpStatus
	}
	if code == 0 {
		code = http.StatusBadGateway
	}
	msg := p.red.String(strings.TrimSpace(e.Message))
	if msg == "" {
		msg = fmt.Sprintf("%s answered %d %s", p.name, code, http.StatusText(code))
	}
	out := &providers.Error{Provider: p.name, Message: msg}
	retryAfter := func() time.Duration {
		if d := retryDelay(e.Details); d > 0 {
			return d
		}
		if header != nil {
			return providers.ParseRetryAfter(header, time.Now())
		}
		return 0
	}

	if isKeyProblem(e) {
		out.Status, out.Type, out.Code = http.StatusUnauthorized, providers.TypeAuthentication, "invalid_api_key"
		out.Message = fmt.Sprintf("%s rejected the API key (check %s): %s", p.name, p.keyEnv, msg)
		return out
	}
	switch googleStatus(e.Status, code) {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		out.Status, out.Type = http.StatusBadRequest, providers.TypeInvalidRequest
	case "UNAUTHENTICATED":
		out.Status, out.Type, out.Code = http.StatusUnauthorized, providers.TypeAuthentication, "invalid_api_key"
		out.Message = fmt.Sprintf("%s did not accept the credentials (check %s): %s", p.name, p.keyEnv, msg)
	case "PERMISSION_DENIED":
		out.Status, out.Type = http.StatusForbidden, providers.TypePermission
	case "NOT_FOUND":
		out.Status, out.Type = http.StatusNotFound, providers.TypeNotFound
		if strings.Contains(msg, "models/") {
			out.Code = "model_not_found"
		}
	case "RESOURCE_EXHAUSTED":
		out.Status, out.Type, out.Code, out.Retryable = http.StatusTooManyRequests, providers.TypeRateLimit, "rate_limit_exceeded", true
		out.RetryAfter = retryAfter()
	case "UNAVAILABLE":
		out.Status, out.Type, out.Retryable = http.StatusServiceUnavailable, providers.TypeUnavailable, true
		out.RetryAfter = retryAfter()
	case "DEADLINE_EXCEEDED":
		out.Status, out.Type, out.Retryable = http.StatusGatewayTimeout, providers.TypeUpstream, true
	case "INTERNAL", "UNKNOWN", "DATA_LOSS", "ABORTED", "CANCELLED":
		out.Status, out.Type, out.Retryable = http.StatusBadGateway, providers.TypeUpstream, true
	default:
		se := providers.StatusError(p.name, code, msg, header)
		return se
	}
	return out
}

// googleStatus returns the google.rpc.Code name of an error, derived from
// the HTTP code when the body gave none (or gave an HTTP status line, as
// the SDK does for non-JSON error bodies).
func googleStatus(status string, code int) string {
	if status != "" && strings.ToUpper(status) == status && !strings.ContainsAny(status, " 0123456789") {
		return status
	}
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 500:
		return "INTERNAL"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return ""
}

// isKeyProblem recognises the answers Google gives for a bad or missing
// API key: 400 INVALID_ARGUMENT with reason API_KEY_INVALID ("API key not
// valid. Please pass a valid API key."), 403 PERMISSION_DENIED for a
// missing key ("Method doesn't allow unregistered callers"), and
// UNAUTHENTICATED.
func isKeyProblem(e genai.APIError) bool {
	if e.Status == "UNAUTHENTICATED" {
		return true
	}
	for _, d := range e.Details {
		if r, _ := d["reason"].(string); r == "API_KEY_INVALID" || r == "API_KEY_EXPIRED" {
			return true
		}
	}
	m := strings.ToLower(e.Message)
	for _, s := range []string{"api key not valid", "api key not found", "api key expired", "unregistered callers"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// retryDelay reads google.rpc.RetryInfo.retryDelay ("30s", "1.5s") from
// the error details.
func retryDelay(details []map[string]any) time.Duration {
	for _, d := range details {
		t, _ := d["@type"].(string)
		if !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		switch v := d["retryDelay"].(type) {
		case string:
			if dur, err := time.ParseDuration(v); err == nil && dur > 0 {
				return dur
			}
		case map[string]any: // {"seconds": 30, "nanos": 0}
			secs, _ := v["seconds"].(float64)
			nanos, _ := v["nanos"].(float64)
			if dur := time.Duration(secs*float64(time.Second) + nanos); dur > 0 {
				return dur
			}
		}
	}
	return 0
}
