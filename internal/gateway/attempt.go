package gateway

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// try runs a decision's candidates in order until one answers: each
// attempt is admitted by the router (a half-open circuit lets one trial
// through), counted in flight, reported back to the router and the
// metrics, and followed by the next candidate only when its error is
// retryable, the client is still there and nothing has been sent yet
// (streamed reports that). After a failure, the next attempt goes to a
// provider that has not failed this request: the decision's next such
// candidate, else the best of the other eligible providers (the router
// routes q again without the failed ones), and only then a second model
// of a provider that failed; so max_attempts reaches a healthy provider.
// (q is nil for embeddings: another model's vectors would not compare, so
// only the decision's own candidates are tried.)
// No attempt starts once the request has failed over for
// router.failover_timeout, and each waits for its first byte only for
// its adaptive deadline (router.Attempt.FirstByteDeadline), bounded by
// what is left of that time. It returns the answer, the candidate that
// gave it (or failed last), the attempts made and the last error.
func (s *Server) try(r *http.Request, op string, t0 time.Time, q *router.Query, dec *router.Decision, stream bool, held keys.Settle,
	call func(ctx context.Context, c router.Candidate, attempt int, deadline time.Duration) (*providers.Result, error),
	streamed func() bool) (*providers.Result, router.Candidate, int, error) {
	cfg := s.router.Config()
	var lastErr error
	var last router.Candidate
	attempts := 0
	var spent spend
	if q != nil {
		spent.prompt = q.PromptTokens
	}
	defer func() {
		if held != nil {
			held(spent.in+spent.out, spent.cost)
		}
		s.settle(r, last, &spent, lastErr, streamed)
	}()
	queue := dec.Candidates
	var failed []string // providers that failed this request
	rerouted := 0       // len(failed) when the router was last asked
	for len(queue) > 0 && attempts < max(cfg.MaxAttempts, 1) {
		if len(failed) > 0 && !dec.Pinned {
			queue = healthyFirst(queue, failed)
			if q != nil && slices.Contains(failed, queue[0].Model.Provider) && rerouted < len(failed) {
				rerouted = len(failed)
				queue = append(slices.Clip(s.router.RouteAvoiding(q, failed)), queue...)
			}
		}
		c := queue[0]
		queue = queue[1:]
		left := cfg.FailoverTimeout - time.Since(t0)
		if attempts > 0 && left <= 0 {
			s.log.Warn("failover deadline reached", "op", op, "attempts", attempts, "failover_timeout", cfg.FailoverTimeout)
			break
		}
		att, ok := s.router.Begin(c)
		if !ok {
			continue // a half-open circuit whose trial is already out
		}
		deadline := att.FirstByteDeadline(stream, len(queue) == 0 || attempts+1 >= cfg.MaxAttempts)
		deadline = min(deadline, max(left, cfg.TTFTFloor))
		if attempts > 0 {
			s.metrics.Fallback(last.Model.ID, c.Model.ID, metrics.ErrorType(lastErr))
		}
		last = c
		attempts++
		res, err := call(r.Context(), c, attempts, deadline)
		clientGone := r.Context().Err() != nil
		att.Done(res, err, clientGone)
		s.observe(op, c, t0, res, err)
		spent.add(c, res)
		if err == nil {
			lastErr = nil
			return res, c, attempts, nil
		}
		lastErr = err
		if clientGone {
			s.log.Debug("client disconnected", "model", c.Model.ID)
			return nil, c, attempts, err
		}
		pe := providers.AsError(c.Model.Provider, err)
		provider := router.ProviderFault(pe)
		s.log.Warn("backend failed", "op", op, "model", c.Model.ID, "provider", c.Model.Provider, "status", pe.Status,
			"retryable", pe.Retryable, "provider_fault", provider, "err", pe.Message, "streamed", streamed())
		lastErr = clientSafe(pe)
		if streamed() || !pe.Retryable {
			break
		}
		if !slices.Contains(failed, c.Model.Provider) {
			failed = append(failed, c.Model.Provider)
		}
	}
	if lastErr == nil {
		lastErr = &providers.Error{Status: http.StatusServiceUnavailable, Type: providers.TypeUnavailable, Code: "no_backend", RetryAfter: time.Second,
			Message: "every eligible backend is busy with a trial request after failures; retry shortly"}
	}
	return nil, last, attempts, lastErr
}

// writeWhole writes try's outcome for a whole (unary) answer: res's body
// as contentType with the route headers, else the last error (nothing
// when the client has gone).
func writeWhole(w http.ResponseWriter, r *http.Request, dec *router.Decision, contentType string, res *providers.Result, c router.Candidate, attempts int, err error) {
	switch {
	case err == nil:
		setRouteHeaders(w.Header(), dec, c, attempts)
		w.Header().Set("Content-Type", contentType)
		w.Write(res.Body)
	case r.Context().Err() != nil:
	default:
		w.Header().Set("X-Tiergate-Attempts", strconv.Itoa(attempts))
		writeError(w, providers.AsError("", err))
	}
}

// spend is what a request's attempts used, summed over them.
type spend struct {
	in, out int
	cost    float64
	// prompt is the request's prompt estimate (router.Query.PromptTokens).
	prompt int
}

// add counts one attempt: the usage the upstream reported, else, for a
// stream that was cancelled or cut after content came (the usage chunk
// comes last), the prompt estimate and a token per content chunk, since
// the upstream bills what it generated. (The backends' cost metric counts
// reported usage only; the ledger, the key's metrics and its budget count
// both.)
func (sp *spend) add(c router.Candidate, res *providers.Result) {
	if res == nil {
		return
	}
	var in, out int
	switch {
	case res.Usage != nil:
		in, out = max(res.Usage.PromptTokens, 0), max(res.Usage.CompletionTokens, 0)
		// The speech tasks bill audio seconds or input characters.
		sp.cost += c.Model.Price.AudioCost(res.Usage.AudioSeconds, res.Usage.Characters)
	case res.Timing.Chunks > 0:
		in, out = max(sp.prompt, 0), res.Timing.Chunks
	default:
		return
	}
	sp.in += in
	sp.out += out
	sp.cost += metrics.Cost(c.Model.Price, in, out)
}

// settle writes a keyed request's ledger entry once try is done with
// it (after the key's reservation, if any, took the same figures): its attempts' tokens and cost (at the catalog's prices, as the
// metrics count them), the model that answered or failed last, and how
// it ended. The write is queued (keys.Ring.Record), off the response path.
func (s *Server) settle(r *http.Request, c router.Candidate, sp *spend, err error, streamed func() bool) {
	if s.keys == nil || c.Model == nil {
		return
	}
	id, ok := keys.FromContext(r.Context())
	if !ok {
		return
	}
	status := keys.StatusOK
	switch {
	case err == nil:
	case errors.Is(context.Cause(r.Context()), errShutdown):
		status = keys.StatusCut
	case r.Context().Err() != nil:
		status = keys.StatusCancelled
	case streamed():
		status = keys.StatusCut
	default:
		status = keys.StatusError
	}
	s.keys.Record(keys.Entry{KeyID: id.ID, KeyName: id.Name, Model: c.Model.ID, Provider: c.Model.Provider,
		TokensIn: sp.in, TokensOut: sp.out, CostUSD: sp.cost, Status: status, At: time.Now()})
	s.metrics.ObserveKey(metrics.KeyRequest{Name: id.Name, Status: status, TokensIn: sp.in, TokensOut: sp.out, CostUSD: sp.cost})
}

// healthyFirst moves the candidates of providers not in failed to the
// front of q, keeping the order of both parts.
func healthyFirst(q []router.Candidate, failed []string) []router.Candidate {
	out := make([]router.Candidate, 0, len(q))
	for _, c := range q {
		if !slices.Contains(failed, c.Model.Provider) {
			out = append(out, c)
		}
	}
	for _, c := range q {
		if slices.Contains(failed, c.Model.Provider) {
			out = append(out, c)
		}
	}
	return out
}

// hostPort matches an upstream address in an error message: host:port
// or an IPv6 [addr]:port.
var hostPort = regexp.MustCompile(`(?i)\[[0-9a-f:.]+\]:\d{1,5}\b|\b[a-z0-9][a-z0-9.-]*:\d{1,5}\b`)

// clientSafe is pe as a client may see it: the upstream's address, which
// the log has, is left out of the message.
func clientSafe(pe *providers.Error) *providers.Error {
	msg := hostPort.ReplaceAllString(pe.Message, "upstream")
	if msg == pe.Message {
		return pe
	}
	e := *pe
	e.Message = msg
	return &e
}

// attempt runs one candidate under the first-byte deadline (for a
// stream, the wait for its first content, since the preamble is held
// back: see sseSink) and the total timeout; call makes the adapter call,
// given what to call when a unary answer's first byte arrives. timedOut
// says which bound fired, "" when none.
func (s *Server) attempt(parent context.Context, cfg config.Router, c router.Candidate, stream bool, sink *sseSink,
	deadline time.Duration, call func(ctx context.Context, firstByte func()) (*providers.Result, error)) (*providers.Result, string, error) {
	awaited := "first byte"
	if stream {
		awaited = "content"
	}
	return bounded(parent, cfg, deadline, awaited, func(ctx context.Context, first func()) (*providers.Result, error) {
		// A unary answer's first byte is its headers; a stream's is its
		// first content, which the sink sees (the role-only preamble is
		// held, so a stream that dies before content can still fall back).
		var firstByte func()
		if !stream {
			firstByte = first
		}
		sink.onFirst = first
		return call(ctx, firstByte)
	})
}

// bounded runs one attempt under the deadline for what it awaits first
// (its "first byte" or "content"; first is what the adapter or sink
// calls when that arrives) and the total timeout; timedOut says which
// fired, "" when none. One timer serves both bounds: it first waits for
// the first byte, then is moved to the end of the total timeout.
func bounded[T any](parent context.Context, cfg config.Router, deadline time.Duration, awaited string, run func(ctx context.Context, first func()) (T, error)) (T, string, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	start := time.Now()
	var phase atomic.Int32 // 0: waiting for the first byte; 1: receiving; 2: fired
	var why atomic.Value
	timer := time.AfterFunc(min(deadline, cfg.Timeout), func() {
		if phase.Load() == 0 {
			why.Store("sent no " + awaited + " within " + deadline.String())
		} else {
			why.Store("did not finish within " + cfg.Timeout.String())
		}
		phase.Store(2)
		cancel()
	})
	defer timer.Stop()
	first := func() {
		if phase.CompareAndSwap(0, 1) && timer.Stop() {
			timer.Reset(cfg.Timeout - time.Since(start))
		}
	}
	res, err := run(ctx, first)
	if err != nil && phase.Load() == 2 && parent.Err() == nil {
		w, _ := why.Load().(string)
		return res, w, err
	}
	return res, "", err
}
