package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// StatusError builds an Error from an upstream HTTP status and the message
// the provider gave, choosing the status the gateway answers with and
// whether a retry can help:
//   - 4xx other than 408 and 429 pass through with the provider's message
//     (the request itself is at fault; 401/403 are not retried);
//   - 408, 429 and 529 (Anthropic's "overloaded") are retryable, answered as
//     429 (or 503 for overload) so client libraries back off;
//   - other 5xx are retryable and answered as 502.
func StatusError(provider string, status int, msg string, h http.Header) *Error {
	e := &Error{Provider: provider, Status: status, Message: msg}
	if h != nil {
		e.RetryAfter = ParseRetryAfter(h, time.Now())
	}
	switch {
	case status == http.StatusUnauthorized:
		e.Type = TypeAuthentication
	case status == http.StatusForbidden:
		e.Type = TypePermission
	case status == http.StatusNotFound:
		e.Type = TypeNotFound
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		e.Status, e.Type, e.Retryable = http.StatusTooManyRequests, TypeRateLimit, true
	case status == 529:
		e.Status, e.Type, e.Retryable = http.StatusServiceUnavailable, TypeUnavailable, true
	case status == http.StatusServiceUnavailable:
		e.Type, e.Retryable = TypeUnavailable, true
	case status >= 500:
		e.Status, e.Type, e.Retryable = http.StatusBadGateway, TypeUpstream, true
	case status >= 400:
		e.Type = TypeInvalidRequest
	default:
		e.Status, e.Type, e.Retryable = http.StatusBadGateway, TypeUpstream, true
	}
	switch {
	case e.Message == "":
		e.Message = fmt.Sprintf("%s answered %d %s", provider, status, http.StatusText(status))
	case status >= 500 || status == http.StatusTooManyRequests:
		e.Message = fmt.Sprintf("%s answered %d: %s", provider, status, msg)
	}
	return e
}

// TransportError turns a failure to reach the upstream (connect, TLS,
// reset, timeout) into a retryable 502 (504 for a timeout). The message
// names the provider and what failed, never the URL, the upstream's
// address (host:port, which goes to the adapter's log instead) or the
// URL's credentials.
func TransportError(provider string, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	msg := TransportCause(err)
	e := Upstream(provider, "cannot reach "+provider+": "+msg, true)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Status = http.StatusGatewayTimeout
		e.Message = provider + " did not answer in time: " + msg
	}
	return e
}

// TransportCause says what failed in a transport error without the
// method, the URL or an address: "dial tcp: connect: connection refused",
// "read tcp: connection reset by peer", "lookup: no such host".
func TransportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error repeats the method and URL; keep only the cause, so
		// that a key put in a query string never leaks.
		err = ue.Err
	}
	var msg string
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &de):
		msg = "lookup: " + de.Err
		if de.IsTimeout {
			msg = "lookup: timeout"
		}
	case errors.As(err, &oe) && oe.Err != nil:
		msg = oe.Op
		if oe.Net != "" {
			msg += " " + oe.Net
		}
		msg += ": " + oe.Err.Error()
	default:
		msg = err.Error()
	}
	return addrRE.ReplaceAllString(msg, "upstream")
}

// addrRE matches what looks like a host:port (an IPv4 or bracketed IPv6
// address, localhost, or a dotted name, with a port).
var addrRE = regexp.MustCompile(`(\[[0-9A-Fa-f:.%a-z]+\]|\b(?:\d{1,3}\.){3}\d{1,3}|\blocalhost|\b(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(:\d{1,5})\b`)

// ParseRetryAfter reads Retry-After (seconds or an HTTP date) and the
// retry-after-ms header some providers send. It returns zero when absent.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// AsError returns err as an *Error, wrapping anything else as a
// retryable upstream failure of provider.
func AsError(provider string, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Provider == "" {
			pe.Provider = provider
		}
		return pe
	}
	return TransportError(provider, err)
}
