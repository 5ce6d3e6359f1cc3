package providers

import (
	"fmt"
	"net/http"
	"time"
)

// The constructors below are the usual errors, so that no adapter builds
// an Error literal by hand. Each sets Status, Type and Retryable as the
// router expects; set Provider, Code or Param on the result where needed.

// BadRequest is a 400 invalid_request_error naming the parameter at fault
// (param may be empty). It is not retryable: the request itself is wrong.
func BadRequest(msg, param string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: param, Message: msg}
}

// BadRequestf is BadRequest with a format.
func BadRequestf(param, format string, args ...any) *Error {
	return BadRequest(fmt.Sprintf(format, args...), param)
}

// Unsupported is a 400 for a parameter provider cannot honour, saying why.
func Unsupported(provider, param, why string) *Error {
	e := BadRequest(provider+" cannot honour "+param+": "+why, param)
	return e
}

// Upstream is a 502 upstream_error of provider: it answered something the
// adapter cannot use, or broke off. retryable says whether another
// attempt may succeed (false once a stream has sent content).
func Upstream(provider, msg string, retryable bool) *Error {
	return &Error{Provider: provider, Status: http.StatusBadGateway, Type: TypeUpstream, Retryable: retryable, Message: msg}
}

// Unavailable is a retryable 503 service_unavailable, with the
// Retry-After to advertise (zero for none).
func Unavailable(msg string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeUnavailable, Retryable: true, RetryAfter: retryAfter, Message: msg}
}

// RateLimited is a retryable 429 rate_limit_error of provider.
func RateLimited(provider, msg string, retryAfter time.Duration) *Error {
	return &Error{Provider: provider, Status: http.StatusTooManyRequests, Type: TypeRateLimit, Retryable: true, RetryAfter: retryAfter, Message: msg}
}

// Timeout is a retryable 504 of provider: it did not answer in time.
func Timeout(provider, msg string) *Error {
	return &Error{Provider: provider, Status: http.StatusGatewayTimeout, Type: TypeUpstream, Retryable: true, Message: msg}
}

// Internal is a 500 server_error: the gateway itself failed.
func Internal(provider, msg string) *Error {
	return &Error{Provider: provider, Status: http.StatusInternalServerError, Type: TypeServer, Message: msg}
}

// NotFound is a 404 invalid_request_error with an OpenAI code such as
// model_not_found or unknown_url.
func NotFound(code, msg string) *Error {
	return &Error{Status: http.StatusNotFound, Type: TypeInvalidRequest, Code: code, Message: msg}
}

// In sets e.Provider (when unset) and returns e, for the constructors
// above that take no provider.
func (e *Error) In(provider string) *Error {
	if e.Provider == "" {
		e.Provider = provider
	}
	return e
}
