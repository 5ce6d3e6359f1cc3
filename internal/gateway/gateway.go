// Package gateway is tiergate's OpenAI-compatible HTTP API: it reads a
// request, asks the router for backends, calls them in order until one
// answers, and copies the answer to the client as it arrives. Errors leave
// in OpenAI's error shape. It imports the router, backends and providers;
// nothing imports it but internal/app (which wires it) and tests.
//
// The hot path (handleChat) is: read the body, inspect it (internal/wire),
// route, call the adapter with a sink that writes each chunk and flushes.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tiergate/tiergate/internal/backends"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/inbound/messages"
	"github.com/tiergate/tiergate/internal/inbound/responses"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/observe/statuspage"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// Options configure a Server.
type Options struct {
	Backends *backends.Set
	// Router is required: New panics without one.
	Router       *router.Router
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading a request body (0: no bound); a
	// slower body is answered 408.
	BodyReadTimeout time.Duration
	// MaxConcurrent caps the API requests (chat, embeddings, explain)
	// served at once (0: no cap); beyond it they get 503 and Retry-After.
	MaxConcurrent int
	// Slots, when set, is a cap shared with other Servers (its capacity
	// is the cap; internal/app swaps Servers when backends come and go):
	// it replaces MaxConcurrent.
	Slots  chan struct{}
	Logger *slog.Logger
	// Metrics records what happens (nil: nothing); Gatherer, when set,
	// is served on GET /metrics.
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer
	// Keys checks gateway keys (nil: open); see auth.go.
	Keys *keys.Ring
}

// Server serves the HTTP API.
type Server struct {
	set      *backends.Set
	router   *router.Router
	metrics  *metrics.Metrics
	maxBody  int64
	log      *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool
	keys     *keys.Ring

	bodyTimeout time.Duration
	slots       chan struct{} // one per request served; nil: no cap
	// cut is cancelled when the shutdown grace is over (CutStreams).
	cut    context.Context
	cutNow context.CancelFunc
	// chunks holds the 64 KiB pieces a large body is read into (body.go).
	chunks sync.Pool
	// bodies holds the buffers large chat bodies are read into (body.go).
	bodies bodyPool
	// apis are the client APIs besides OpenAI's chat (inbound.go).
	apis []inboundAPI
	// stats is what the status page shows of each backend's attempts (status.go).
	stats liveStats
}

// New returns a Server. It panics when o.Router or o.Backends is nil:
// the router is built by the caller (internal/app), never defaulted here.
func New(o Options) *Server {
	if o.Router == nil || o.Backends == nil {
		panic("gateway.New: Options.Router and Options.Backends are required (internal/app builds them)")
	}
	s := &Server{set: o.Backends, router: o.Router, maxBody: o.MaxBodyBytes, log: o.Logger, metrics: o.Metrics, bodyTimeout: o.BodyReadTimeout, keys: o.Keys}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = 20 << 20
	}
	switch {
	case o.Slots != nil:
		s.slots = o.Slots
	case o.MaxConcurrent > 0:
		s.slots = make(chan struct{}, o.MaxConcurrent)
	}
	s.cut, s.cutNow = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.api(s.handleChat))
	mux.HandleFunc("POST /v1/embeddings", s.api(s.handleEmbed))
	mux.HandleFunc("POST /v1/audio/transcriptions", s.api(s.handleTranscription))
	mux.HandleFunc("POST /v1/audio/translations", s.api(s.handleTranslation))
	mux.HandleFunc("POST /v1/audio/speech", s.api(s.handleSpeech))
	mux.HandleFunc("POST /v1/route/explain", s.api(s.handleExplain))
	s.serveAPI(mux, "/v1/responses", "/v1/responses", responses.New())
	mux.HandleFunc("/v1/responses/", func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, responses.NotStored(r.Method, r.URL.Path)) })
	msgs := messages.New(messages.Options{Model: s.messagesModel})
	s.serveAPI(mux, "/v1/messages", "/v1/messages", msgs)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.api(func(w http.ResponseWriter, r *http.Request) { s.countTokens(w, r, msgs) }))
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /v1/models/{id...}", s.handleModel)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", metrics.Handler(o.Gatherer))
	}
	status := statuspage.ForRequest(s.statusSnapshot)
	mux.Handle("GET /{$}", status)
	mux.Handle("GET /status.json", status)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &providers.Error{Status: http.StatusNotFound, Type: providers.TypeInvalidRequest, Code: "unknown_url",
			Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ". tiergate serves POST /v1/chat/completions, POST /v1/responses, POST /v1/messages (Anthropic's) and /v1/messages/count_tokens, POST /v1/embeddings, the /v1/audio endpoints (transcriptions, translations, speech) and GET /v1/models."})
	})
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.authenticate(w, r, s.mux) }

// Drain marks the server as shutting down: /readyz answers 503 so load
// balancers stop sending, while in-flight requests finish.
func (s *Server) Drain() { s.draining.Store(true) }

// CutStreams ends the requests still in flight when the shutdown grace is
// over: their upstream calls are cancelled, a stream that already started
// ends with an OpenAI-style error event (never a bare EOF) and a request
// that has sent nothing yet gets 503.
func (s *Server) CutStreams() { s.cutNow() }

// errShutdown is the cause of a request context cancelled by CutStreams.
var errShutdown = errors.New("the gateway is shutting down")

// api wraps an API handler: it holds one of the concurrency slots (none
// free: 503 with Retry-After, at once) and ties the request to
// CutStreams. Errors leave in the shape of the client's API (apiAt).
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
				defer func() { <-s.slots }()
			default:
				s.fail(w, r, &providers.Error{Status: http.StatusServiceUnavailable, Type: providers.TypeUnavailable, Code: "gateway_overloaded",
					RetryAfter: time.Second, Message: "the gateway is serving its limit of " + strconv.Itoa(cap(s.slots)) + " concurrent requests (server.max_concurrent); retry shortly"})
				return
			}
		}
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		stop := context.AfterFunc(s.cut, func() { cancel(errShutdown) })
		defer stop()
		tw := &trackWriter{ResponseWriter: w}
		h(tw, r.WithContext(ctx))
		if !errors.Is(context.Cause(ctx), errShutdown) || r.Context().Err() != nil || tw.complete {
			return
		}
		e := &providers.Error{Status: http.StatusServiceUnavailable, Type: providers.TypeUnavailable, Code: "shutting_down",
			Message: "the gateway is shutting down and its grace period ran out before this request finished; retry it"}
		switch {
		case !tw.wrote:
			s.fail(w, r, e)
		case strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream"):
			w.Write(streamError(s.apiAt(r.URL.Path), nil, e))
			http.NewResponseController(w).Flush()
		}
	}
}

// trackWriter notes whether a response started and whether a stream
// ended complete (sseSink.done).
type trackWriter struct {
	http.ResponseWriter
	wrote, complete bool
}

func (t *trackWriter) WriteHeader(code int) { t.wrote = true; t.ResponseWriter.WriteHeader(code) }

func (t *trackWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Flush, read
// deadlines).
func (t *trackWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func tooLarge(limit int64) *providers.Error {
	return &providers.Error{Status: http.StatusRequestEntityTooLarge, Type: providers.TypeInvalidRequest, Code: "request_too_large",
		Message: "the request body is larger than the gateway's limit of " + strconv.FormatInt(limit, 10) + " bytes (server.max_body_bytes)"}
}

func badRequest(err error) *providers.Error {
	var we *openaiwire.Error
	if errors.As(err, &we) {
		return &providers.Error{Status: http.StatusBadRequest, Type: providers.TypeInvalidRequest, Param: we.Param, Message: we.Message}
	}
	return &providers.Error{Status: http.StatusBadRequest, Type: providers.TypeInvalidRequest, Message: err.Error()}
}

// chatQuery reads what the router needs of a chat request.
func (s *Server) chatQuery(r *http.Request, body []byte) (*openaiwire.Chat, *router.Query, error) {
	info, err := openaiwire.ParseChat(body)
	if err != nil {
		return nil, nil, badRequest(err)
	}
	route, err := s.router.ParseRoute(info.Route)
	if err != nil {
		return nil, nil, err
	}
	q := &router.Query{Model: info.Model, Profile: r.Header.Get("X-Tiergate-Profile"), Domain: r.Header.Get("X-Tiergate-Domain"),
		Route: route, Task: catalog.Chat, Vision: info.HasImages, Tools: info.HasTools,
		PromptTokens: info.PromptChars/4 + 85*info.Images, MaxTokens: info.MaxTokens, Text: info.LastUser, Params: info.Params}
	if err := s.applyPolicy(r.Context(), q); err != nil {
		return nil, nil, err
	}
	return info, q, nil
}

// readChat reads a chat request's body once and what routing needs of it,
// held to the gateway key's policy.
func (s *Server) readChat(w http.ResponseWriter, r *http.Request) ([]byte, *openaiwire.Chat, *router.Query, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, nil, nil, err
	}
	info, q, err := s.chatQuery(r, body)
	return body, info, q, err
}

// route routes q and holds the decision to the gateway key's policy;
// the decision's reason then names the key's rules.
func (s *Server) route(ctx context.Context, q *router.Query) (*router.Decision, error) {
	dec, err := s.router.Route(q)
	if err == nil {
		err = holdToPolicy(ctx, dec)
	}
	if dec != nil {
		if id, ok := keys.FromContext(ctx); ok {
			if rules := id.Policy.RoutingRules(); rules != "" {
				dec.Reason += "; held to gateway key " + id.Name + " (" + rules + ")"
			}
		}
	}
	return dec, err
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) { s.serveChat(w, r, nil) }

// serveChat serves a chat completion: OpenAI's (api nil) or a request of
// another client API translated into one (inbound.go). An attempt on an
// adapter that speaks api itself is given the client's body unchanged.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request, api inbound.API) {
	t0 := time.Now()
	raw, buf, err := s.readPooled(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if buf != nil {
		// The body's buffer is reused once this handler and every upstream
		// request sending slices of it are done with it.
		defer buf.release()
		r = r.WithContext(providers.WithBodyHold(r.Context(), buf.hold))
	}
	body := raw
	var only *providers.Error // set: only an adapter that speaks api may serve it
	if api != nil {
		if body, only, err = toChat(api, raw); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	info, q, err := s.chatQuery(r, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dec, err := s.route(r.Context(), q)
	if err == nil && only != nil {
		err = keepNative(dec, api, only)
	}
	if err != nil {
		w.Header().Set("X-Tiergate-Attempts", "0")
		s.fail(w, r, err)
		return
	}
	completion := q.MaxTokens
	if completion <= 0 {
		completion = DefaultMaxTokens
	}
	held, err := s.reserve(w, r, dec, q.PromptTokens, completion)
	if err != nil {
		w.Header().Set("X-Tiergate-Attempts", "0")
		s.fail(w, r, err)
		return
	}
	s.metrics.RouteDecision(dec.Profile, decisionKind(dec))
	cfg := s.router.Config()
	sink := &sseSink{w: w, dec: dec, params: q.Params, api: api}
	req := &providers.ChatRequest{Body: body, Stream: info.Stream, IncludeUsage: info.IncludeUsage}
	var native *providers.NativeRequest
	var nativeErr error // the last native attempt's
	if api != nil {
		native = &providers.NativeRequest{API: api.Name(), Body: raw, Header: api.Forward(r.Header), Stream: info.Stream}
	}
	res, c, attempts, err := s.try(r, "chat", t0, q, dec, info.Stream, held, func(ctx context.Context, c router.Candidate, attempt int, deadline time.Duration) (*providers.Result, error) {
		n := nativeFor(c, native)
		if n == nil && only != nil {
			return nil, onlyAfter(only, nativeErr) // a fallback the router added that cannot take it: not called
		}
		sink.begin(c, attempt, n != nil)
		res, timedOut, err := s.attempt(ctx, cfg, c, info.Stream, sink, deadline, func(ctx context.Context, first func()) (*providers.Result, error) {
			if n != nil {
				native.Model, native.OnFirstByte = c.Model.Upstream, first
				return n.CallNative(ctx, native, sink)
			}
			req.Model, req.OnFirstByte = c.Model.Upstream, first
			return c.Provider.Chat(ctx, req, sink)
		})
		if timedOut != "" {
			// Our own timer cancelled the attempt: a timeout, not a
			// cancellation, for the breaker and the metrics alike.
			err = &providers.Error{Provider: c.Model.Provider, Status: http.StatusGatewayTimeout, Type: providers.TypeUpstream, Retryable: true,
				Message: c.Model.Provider + " (" + c.Model.ID + ") " + timedOut}
		}
		if n != nil && err != nil {
			nativeErr = err
		}
		return res, err
	}, func() bool { return sink.started })
	switch {
	case err == nil && info.Stream:
		sink.done()
	case err == nil:
		out := res.Body
		if api != nil && !sink.raw {
			if out, err = api.Completion(res.Body); err != nil {
				s.log.Error("translating a completion", "api", api.Name(), "model", c.Model.ID, "err", err)
				s.fail(w, r, &providers.Error{Status: http.StatusBadGateway, Type: providers.TypeUpstream,
					Message: c.Model.ID + " answered with a completion the gateway could not translate to " + api.Name() + ": " + err.Error()})
				return
			}
		}
		setRouteHeaders(w.Header(), dec, c, attempts)
		if !sink.raw { // passed through: nothing was dropped
			setDropped(w.Header(), c, q.Params)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	case r.Context().Err() != nil:
		// The client went away; the upstream request was cancelled with it.
	case sink.started:
		// Bytes reached the client: nothing was retried after them.
		sink.fail(providers.AsError(c.Model.Provider, err))
	default:
		w.Header().Set("X-Tiergate-Attempts", strconv.Itoa(attempts))
		s.fail(w, r, providers.AsError("", err))
	}
}

func setRouteHeaders(h http.Header, dec *router.Decision, c router.Candidate, attempt int) {
	h.Set("X-Tiergate-Model", c.Model.ID)
	h.Set("X-Tiergate-Provider", c.Model.Provider)
	h.Set("X-Tiergate-Tier", string(c.Tier)+" ("+c.TierSource+")")
	h.Set("X-Tiergate-Attempts", strconv.Itoa(attempt))
	reason := dec.Reason
	if attempt > 1 {
		reason += "; answered by fallback " + c.Model.ID
	}
	h.Set("X-Tiergate-Route", headerSafe(reason))
}

// setDropped names in X-Tiergate-Dropped the sampling hints of ps that
// c's adapter leaves out (its providers.Capabilities), if any.
func setDropped(h http.Header, c router.Candidate, ps providers.Params) {
	if ps == 0 {
		return
	}
	if d := ps & providers.CapabilitiesOf(c.Provider).Dropped; d != 0 {
		h.Set("X-Tiergate-Dropped", d.Names())
	}
}

// headerSafe keeps a header value to printable ASCII.
func headerSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	_, _, q, err := s.readChat(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	q.Explain = true
	dec, err := s.route(r.Context(), q)
	if err != nil {
		out := map[string]any{"error": errorBody(providers.AsError("", err))["error"]}
		if dec != nil {
			out["decision"] = dec
		}
		pe := providers.AsError("", err)
		writeJSON(w, pe.Status, out)
		return
	}
	writeJSON(w, http.StatusOK, dec)
}

// sseSink writes chunks to the client as Server-Sent Events, flushing each.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	dec     *router.Decision
	params  providers.Params // the request's restricted parameters, for X-Tiergate-Dropped
	onFirst func()
	cand    router.Candidate
	attempt int
	started bool
	buf     []byte
	// api is the client's API when it is not OpenAI's chat (inbound.go);
	// enc translates this attempt's chunks into its events, unless raw:
	// the attempt's adapter speaks api and its events pass through.
	api inbound.API
	enc inbound.Stream
	raw bool
	// held is a role-only first chunk (OpenAI's opening chunk,
	// Anthropic's message_start) kept back until the first content,
	// reasoning or tool-call piece or the end: until then nothing has
	// reached the client and a failed stream can fall back (preamble.go).
	held []byte
}

func (k *sseSink) start() {
	h := k.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	setRouteHeaders(h, k.dec, k.cand, k.attempt)
	if !k.raw {
		setDropped(h, k.cand, k.params)
	}
	if k.onFirst != nil {
		k.onFirst()
	}
	k.w.WriteHeader(http.StatusOK)
	k.rc = http.NewResponseController(k.w)
	k.started = true
}

// Chunk writes one "data:" event and flushes it with any held back.
func (k *sseSink) Chunk(data []byte) error {
	if err := k.ChunkBuffered(data); err != nil || !k.started {
		return err
	}
	return k.rc.Flush()
}

// ChunkBuffered writes one "data:" event without flushing: the adapter
// already holds the next one.
func (k *sseSink) ChunkBuffered(data []byte) error {
	if !k.started {
		if k.hold(data) {
			return nil
		}
		k.start()
		if err := k.writeHeld(); err != nil {
			return err
		}
	}
	var err error
	if k.buf, err = k.frame(k.buf[:0], data); err != nil {
		return err
	}
	_, err = k.w.Write(k.buf)
	return err
}

// frame appends one chunk as the client's API sends it: a "data:" event
// of OpenAI's chat, the API's own events translated from it, or, raw,
// the event the adapter passed through.
func (k *sseSink) frame(dst, data []byte) ([]byte, error) {
	switch {
	case k.raw:
		return append(dst, data...), nil
	case k.enc != nil:
		return k.enc.Chunk(dst, data)
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n'), nil
}

// begin readies the sink for an attempt on c; raw when c's adapter
// speaks the client's API itself. Nothing has reached the client yet.
func (k *sseSink) begin(c router.Candidate, attempt int, raw bool) {
	k.cand, k.attempt, k.held, k.raw, k.enc = c, attempt, nil, raw, nil
	if k.api != nil && !raw {
		k.enc = k.api.Stream()
	}
}

// done ends a complete stream: OpenAI's [DONE], the API's closing
// events, or nothing more when its events passed through.
func (k *sseSink) done() {
	if !k.started {
		k.start()
		k.writeHeld()
	}
	switch {
	case k.raw:
	case k.enc != nil:
		k.buf = k.enc.End(k.buf[:0])
		k.w.Write(k.buf)
	default:
		io.WriteString(k.w, "data: [DONE]\n\n")
	}
	if t, ok := k.w.(*trackWriter); ok {
		t.complete = true
	}
	k.rc.Flush()
}

// fail ends a stream that broke after bytes reached the client with an
// error event in the client's API (OpenAI's: no [DONE] follows), so no
// client mistakes it for a complete answer.
func (k *sseSink) fail(e *providers.Error) {
	k.w.Write(streamError(k.api, k.enc, e))
	k.rc.Flush()
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := openaiwire.ParseEmbed(body)
	if err != nil {
		writeError(w, badRequest(err))
		return
	}
	route, err := s.router.ParseRoute(info.Route)
	if err != nil {
		writeError(w, err)
		return
	}
	q := &router.Query{Model: info.Model, Profile: r.Header.Get("X-Tiergate-Profile"), Route: route, Task: catalog.Embeddings}
	err = s.applyPolicy(r.Context(), q)
	var dec *router.Decision
	if err == nil {
		dec, err = s.route(r.Context(), q)
	}
	if err != nil {
		w.Header().Set("X-Tiergate-Attempts", "0")
		writeError(w, err)
		return
	}
	held, err := s.reserve(w, r, dec, len(body)/4, 0)
	if err != nil {
		w.Header().Set("X-Tiergate-Attempts", "0")
		writeError(w, err)
		return
	}
	s.metrics.RouteDecision(dec.Profile, decisionKind(dec))
	res, c, attempts, err := s.try(r, "embeddings", t0, nil, dec, false, held, func(ctx context.Context, c router.Candidate, _ int, _ time.Duration) (*providers.Result, error) {
		return c.Provider.Embed(ctx, &providers.EmbedRequest{Model: c.Model.Upstream, Body: body})
	}, func() bool { return false })
	writeWhole(w, r, dec, "application/json", res, c, attempts, err)
}

// modelObject is an entry of GET /v1/models: OpenAI's fields plus the
// catalog's attributes under "tiergate".
type modelObject struct {
	ID       string    `json:"id"`
	Object   string    `json:"object"`
	Created  int64     `json:"created"`
	OwnedBy  string    `json:"owned_by"`
	Tiergate modelInfo `json:"tiergate"`
}

// modelInfo is the catalog entry with its speed tier as routing sees it
// now: the framework's prior until measured, then the bench's or live.
type modelInfo struct {
	*catalog.Model
	Tier       catalog.Tier `json:"tier"`
	TierSource string       `json:"tier_source"`
	MeasuredAt *time.Time   `json:"measured_at,omitempty"`
}

func (s *Server) toObject(m *catalog.Model) modelObject {
	info := modelInfo{Model: m}
	info.Tier, info.TierSource, _ = s.router.Tier(m.ID)
	if _, _, at := s.router.Tier(m.ID); !at.IsZero() {
		info.MeasuredAt = &at
	}
	return modelObject{ID: m.ID, Object: "model", Created: 0, OwnedBy: m.Provider, Tiergate: info}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	all := s.set.Catalog().All()
	data := make([]modelObject, 0, len(all))
	for _, m := range all {
		if m.Has(catalog.Chat) || m.Has(catalog.Embeddings) || m.Has(catalog.SpeechToText) || m.Has(catalog.TextToSpeech) {
			// Only models of a task the gateway serves (vision is chat;
			// the speech tasks are audio.go's).
			data = append(data, s.toObject(m))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, ok := s.set.Catalog().Get(id)
	if !ok {
		writeError(w, &providers.Error{Status: http.StatusNotFound, Type: providers.TypeInvalidRequest, Code: "model_not_found",
			Message: "The model `" + id + "` does not exist: GET /v1/models lists the models you can use"})
		return
	}
	writeJSON(w, http.StatusOK, s.toObject(m))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"providers": s.set.Providers(), "disabled": s.set.Disabled(), "models": len(s.set.Catalog().All())}
	switch {
	case s.draining.Load():
		body["status"] = "draining"
		writeJSON(w, http.StatusServiceUnavailable, body)
	case len(s.set.Providers()) == 0:
		body["status"] = "no backend enabled"
		writeJSON(w, http.StatusServiceUnavailable, body)
	default:
		body["status"] = "ready"
		writeJSON(w, http.StatusOK, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func errorBody(e *providers.Error) map[string]errorDetail {
	d := errorDetail{Message: e.Message, Type: e.Type}
	if d.Type == "" {
		d.Type = providers.TypeServer
	}
	if e.Param != "" {
		d.Param = &e.Param
	}
	if e.Code != "" {
		d.Code = &e.Code
	}
	return map[string]errorDetail{"error": d}
}

// writeError answers with OpenAI's error shape.
func writeError(w http.ResponseWriter, err error) { writeAPIError(w, nil, err) }

// writeAPIError answers with api's error shape (nil: OpenAI's), the
// error's status and its Retry-After. A cancelled request gets nothing.
func writeAPIError(w http.ResponseWriter, api inbound.API, err error) {
	var e *providers.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) {
			return
		}
		e = &providers.Error{Status: http.StatusInternalServerError, Type: providers.TypeServer, Message: err.Error()}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadGateway
	}
	if api == nil {
		writeJSON(w, status, errorBody(e))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(api.Error(e))
}

// decisionKind is a route decision's reason in the metrics' closed set.
func decisionKind(d *router.Decision) string {
	if d.Pinned {
		return "pinned"
	}
	return "policy"
}

// observe records one attempt's metrics. Overhead is the gateway's own
// time: everything before the adapter started and after it finished.
func (s *Server) observe(op string, c router.Candidate, t0 time.Time, res *providers.Result, err error) {
	now := time.Now()
	et := metrics.ErrorType(err)
	s.stats.record(c, res, err, et, now)
	if s.metrics == nil {
		return
	}
	mr := metrics.Request{Operation: op, Provider: c.Model.Provider, Model: c.Model.ID, Duration: now.Sub(t0), ErrorType: et}
	if res != nil {
		t := res.Timing
		if !t.FirstToken.IsZero() {
			mr.TTFT = t.FirstToken.Sub(t0)
		}
		mr.Chunks, mr.Usage = t.Chunks, res.Usage
		if !t.Start.IsZero() && !t.End.IsZero() {
			mr.Overhead = t.Start.Sub(t0) + now.Sub(t.End)
		}
	}
	s.metrics.ObserveRequest(mr)
}
