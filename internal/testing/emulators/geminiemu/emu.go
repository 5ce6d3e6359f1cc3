// Package geminiemu is a loopback emulator of the Gemini API (Google AI,
// generativelanguage.googleapis.com, v1beta) for tests. It speaks the real
// wire format, as published in Google's API reference and observed in
// Google's own documentation transcripts:
//
//   - POST /v1beta/models/{model}:generateContent
//   - POST /v1beta/models/{model}:streamGenerateContent (with ?alt=sse:
//     "data: JSON\r\n\r\n" events and no end marker, the last event carrying
//     finishReason; without alt=sse: a streamed JSON array)
//   - POST /v1beta/models/{model}:embedContent and :batchEmbedContents
//   - GET /v1beta/models (pageSize, pageToken) and GET /v1beta/models/{model}
//
// Requests are decoded as strictly as the real API does (unknown fields,
// wrong roles, empty parts, malformed function turns are rejected with
// Google's 400 error body), the key is checked in the x-goog-api-key header
// (or the key query parameter), unknown models get the real 404, and
// Options.Fault injects the failures a router must survive, including the
// real API's mid-stream error: a bare JSON error object written after the
// last SSE event.
//
// It imports nothing of tiergate but the shared emulator kit (emu), which
// imports nothing: adapters test against it, so it may not depend on them.
package geminiemu

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// DefaultReply is the assistant text when Options.Reply is empty.
const DefaultReply = emu.DefaultReply

// DefaultToolArgs are the function-call arguments when Options.ToolArgs is
// empty.
const DefaultToolArgs = emu.DefaultToolArgs

// Options set the emulated backend's behaviour. Zero value = answers at once.
type Options struct {
	// TTFT is the delay from request to the first content chunk (streams)
	// or to the response (unary).
	TTFT time.Duration
	// ChunkGap is the delay between content chunks.
	ChunkGap time.Duration
	// Reply is the assistant text (default DefaultReply), streamed one word
	// (with its trailing space) per chunk.
	Reply string
	// ToolArgs are the JSON object arguments of the function call the
	// emulator makes when the request offers function declarations (and
	// the function calling mode is not NONE, and the last turn is not a
	// function response). Gemini sends a function call whole, in one part
	// of one chunk, so unlike OpenAI emulators the arguments are not
	// streamed in pieces; the usage still counts one completion token per
	// 8-byte piece of the arguments.
	ToolArgs string
	// APIKey, if set, must arrive in the x-goog-api-key header (or the key
	// query parameter). A missing key gets Google's 403 PERMISSION_DENIED
	// body and a wrong one its 400 INVALID_ARGUMENT API_KEY_INVALID body,
	// exactly as the real API answers (it never answers 401 for API keys).
	APIKey string
	// Fault injects a failure.
	Fault Fault
}

// Fault injects a failure (see emu.Fault). For Gemini: Status answers
// with Google's error body (code, message, status and, for 429, a
// RetryInfo detail whose retryDelay is RetryAfter when that is a number of
// seconds); ErrorAfter writes the real API's mid-stream error, a bare
// (non-SSE) JSON error object with code 503 / UNAVAILABLE; CutAtStart
// aborts after the headers (Gemini's streams have no preamble).
type Fault = emu.Fault

// Request is one recorded request (see emu.Request).
type Request = emu.Request

// Server is a running emulator.
type Server struct {
	// URL is the base URL as a client would configure it (the host root;
	// the client adds /v1beta).
	*emu.Server[Options]

	respID atomic.Int64 // numbers responseId
}

// New starts an emulator on 127.0.0.1.
func New(opts Options) *Server {
	s := &Server{Server: emu.NewServer(opts)}
	s.Start(http.HandlerFunc(s.serve), "")
	return s
}

func (s *Server) nextResponseID() string { return responseID(int(s.respID.Add(1))) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, opts, err := s.Record(r)
	if err != nil {
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/"); ok {
		model, _, _ := strings.Cut(rest, ":")
		opts.Fault = opts.Fault.For(model)
	}

	if opts.Fault.Interrupt(w, r, s.Done()) {
		return
	}
	if !s.authorized(w, r, opts) {
		return
	}
	if opts.Fault.Refuse(w, writeFault) {
		return
	}
	s.route(w, r, body, opts)
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request, opts Options) bool {
	if opts.APIKey == "" {
		return true
	}
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	switch {
	case key == "":
		writeError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", nil)
		return false
	case key != opts.APIKey:
		msg := "API key not valid. Please pass a valid API key."
		writeError(w, http.StatusBadRequest, msg, []any{
			errorInfo{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: "API_KEY_INVALID", Domain: "googleapis.com",
				Metadata: map[string]string{"service": "generativelanguage.googleapis.com"}},
			localizedMessage{Type: "type.googleapis.com/google.rpc.LocalizedMessage", Locale: "en-US", Message: msg},
		})
		return false
	}
	return true
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte, opts Options) {
	const prefix = "/v1beta/models"
	path := r.URL.Path
	if path == prefix || path == prefix+"/" {
		if r.Method != http.MethodGet {
			writeNotFoundPath(w, r)
			return
		}
		s.listModels(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, prefix+"/")
	if !ok || rest == "" {
		writeNotFoundPath(w, r)
		return
	}
	model, method, hasMethod := strings.Cut(rest, ":")
	if !hasMethod {
		if r.Method != http.MethodGet {
			writeNotFoundPath(w, r)
			return
		}
		s.getModel(w, model)
		return
	}
	if r.Method != http.MethodPost {
		writeNotFoundPath(w, r)
		return
	}
	switch method {
	case "generateContent":
		s.generate(w, r, model, body, opts, false)
	case "streamGenerateContent":
		s.generate(w, r, model, body, opts, true)
	case "embedContent":
		s.embed(w, model, body)
	case "batchEmbedContents":
		s.batchEmbed(w, model, body)
	default:
		writeNotFoundPath(w, r)
	}
}
