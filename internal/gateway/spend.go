package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// DefaultMaxTokens is the completion a chat request without max_tokens
// reserves under its key's tpm and budget.
const DefaultMaxTokens = 4096

// reserve holds a keyed request's tokens (prompt estimate plus the
// completion it may ask for) under its key's tpm, and their cost at the
// most expensive of the decision's candidates under its budget, before
// the call; the answer carries OpenAI's x-ratelimit-*-tokens headers.
// Over tpm: 429 rate_limit_exceeded with Retry-After; budget spent: 429
// insufficient_quota. The Settle (nil: nothing held) takes what the call
// really used (try's settle).
func (s *Server) reserve(w http.ResponseWriter, r *http.Request, dec *router.Decision, prompt, completion int) (keys.Settle, error) {
	if s.keys == nil {
		return nil, nil
	}
	id, ok := keys.FromContext(r.Context())
	if !ok || (id.Policy.TPM <= 0 && id.Policy.Budget == nil) {
		return nil, nil
	}
	usd := 0.0
	for _, c := range dec.Candidates {
		usd = max(usd, metrics.Cost(c.Model.Price, prompt, completion))
	}
	t, settle := s.keys.Reserve(id, prompt+completion, usd)
	t.Headers(w.Header().Set)
	if !t.Allowed {
		s.log.Info("request refused: key limit", "limit", t.Refused, "key_id", id.ID, "key_name", id.Name)
		s.metrics.KeyRefused(id.Name, t.Refused)
		return nil, tokensError(id, t, prompt+completion)
	}
	return settle, nil
}

// tokensError is the 429 of a key over its tpm or budget, as OpenAI
// words them.
func tokensError(id keys.Identity, t keys.Tokens, requested int) *providers.Error {
	if t.Refused == keys.RefusedUnavailable {
		return limitsUnavailable(id, t.RetryAfter)
	}
	if t.Refused == "budget" {
		return &providers.Error{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota",
			Message: fmt.Sprintf("You exceeded your current quota for gateway key %s: its budget is $%.2f per %s and $%.4f of it is spent or reserved. "+
				"Ask the operator to raise it (PATCH /admin/keys/%s) or wait for the next period, from %s.",
				id.Name, t.BudgetUSD, id.Policy.Period(), t.SpentUSD, id.ID, t.PeriodEnd.UTC().Format(time.RFC3339))}
	}
	return &providers.Error{Status: http.StatusTooManyRequests, Type: providers.TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: t.RetryAfter,
		Message: "Rate limit reached for gateway key " + id.Name + " on tokens per min (TPM): Limit " + strconv.Itoa(t.TPM) + ", Used " +
			strconv.Itoa(t.TPM-t.Remaining) + ", Requested " + strconv.Itoa(requested) + ". Please try again in " + t.RetryAfter.Round(time.Millisecond).String() + "."}
}
