package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/providers"
)

// openPaths are served without a key: what probes and Prometheus reach.
var openPaths = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// authenticate serves r with next once its gateway key checks out (or
// without one when the gateway is open, or for the open paths). The key
// comes as Authorization: Bearer (OpenAI SDKs) or x-api-key (Anthropic
// SDKs); a missing, unknown, expired or revoked one gets 401 in OpenAI's
// shape with code invalid_api_key. The request's context then carries the
// key's identity (keys.FromContext), and an API call (POST /v1/...) is
// admitted under the key's rpm and max_concurrent: beyond them 429 with
// Retry-After and OpenAI's x-ratelimit-*-requests headers. The secret is hashed and looked up in
// memory, never logged nor echoed.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if s.keys == nil || openPaths[r.URL.Path] || !s.keys.Enforcing() {
		next.ServeHTTP(w, r)
		return
	}
	id, err := s.keys.Authenticate(secretOf(r))
	if err != nil {
		reason, who := "unknown", keys.Identity{}
		if ae := (*keys.AuthError)(nil); errors.As(err, &ae) {
			reason, who = ae.Reason, ae.Key
		}
		// Only the reason and, for a known key, its id and name.
		s.log.Info("request refused: gateway key", "reason", reason, "key_id", who.ID, "key_name", who.Name,
			"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="tiergate"`)
		s.fail(w, r, &providers.Error{Status: http.StatusUnauthorized, Type: providers.TypeInvalidRequest, Code: "invalid_api_key", Message: err.Error()})
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/") {
		l, release := s.keys.Acquire(id)
		l.Headers(w.Header().Set)
		if !l.Allowed {
			s.log.Info("request refused: key limit", "limit", l.Refused, "key_id", id.ID, "key_name", id.Name)
			s.metrics.KeyRefused(id.Name, l.Refused)
			s.fail(w, r, limitError(id, l))
			return
		}
		defer release()
	}
	next.ServeHTTP(w, r.WithContext(keys.NewContext(r.Context(), id)))
}

// limitError is the 429 of a key over a limit, as OpenAI words it; the
// SDKs retry after Retry-After on their own.
func limitError(id keys.Identity, l keys.Limit) *providers.Error {
	if l.Refused == keys.RefusedUnavailable {
		return limitsUnavailable(id, l.RetryAfter)
	}
	msg := "Rate limit reached for gateway key " + id.Name + " on requests per min (RPM): Limit " + strconv.Itoa(l.RPM) +
		". Please try again in " + l.RetryAfter.Round(time.Millisecond).String() + "."
	if l.Refused == "max_concurrent" {
		msg = "Rate limit reached for gateway key " + id.Name + " on concurrent requests: Limit " + strconv.Itoa(id.Policy.MaxConcurrent) +
			". Please try again when one of them has finished."
	}
	return &providers.Error{Status: http.StatusTooManyRequests, Type: providers.TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: l.RetryAfter, Message: msg}
}

// limitsUnavailable is the 429 of a limited key while the shared store
// that counts its limits across replicas is down and state.on_failure is
// closed: a 429 with Retry-After, so that SDKs back off and retry.
func limitsUnavailable(id keys.Identity, retry time.Duration) *providers.Error {
	return &providers.Error{Status: http.StatusTooManyRequests, Type: providers.TypeRateLimit, Code: "limits_unavailable", RetryAfter: retry,
		Message: "gateway key " + id.Name + " has limits, and the shared store that counts them across the gateway's replicas (Redis) is unreachable; " +
			"the gateway refuses limited keys until it is back (state.on_failure: closed). Please try again in " + retry.Round(time.Millisecond).String() +
			"; the operator can set state.on_failure: open to let each replica enforce its share meanwhile."}
}

// secretOf returns the key a request sends ("": none).
func secretOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, v, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(v)
		}
		return "\x00" // some other scheme (Basic): never a gateway key
	}
	return strings.TrimSpace(r.Header.Get("x-api-key"))
}
