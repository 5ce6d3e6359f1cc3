// Package openaiemu is a test emulator of OpenAI's API (the Chat
// Completions, Responses, Embeddings, Models and audio endpoints), written from OpenAI's API
// reference: streams open with a role-only chunk, send content (or
// tool-call argument pieces), a chunk with finish_reason, the usage chunk
// when stream_options.include_usage asks for it, and "data: [DONE]".
// Errors use OpenAI's {"error":{...}} body. It is test infrastructure,
// never a backend; it imports nothing of tiergate but the shared emulator kit (emu).
package openaiemu

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// DefaultReply is the assistant text when Options.Reply is empty.
const DefaultReply = emu.DefaultReply

// DefaultToolArgs are the tool arguments when Options.ToolArgs is empty.
const DefaultToolArgs = emu.DefaultToolArgs

// Options set the emulated backend's behaviour.
type Options struct {
	TTFT     time.Duration // delay before the first content chunk (or the unary answer)
	ChunkGap time.Duration // delay between content chunks
	Reply    string        // assistant text, streamed a word per chunk
	ToolArgs string        // arguments for a call to the first offered tool
	APIKey   string        // required bearer key, when set
	Models   []string      // served model names; empty serves any name
	Fault    Fault
	Audio    AudioOptions // the audio endpoints (audio.go)
}

// Fault injects a failure (see emu.Fault).
type Fault = emu.Fault

// Request is one recorded request.
type Request = emu.Request

// Server is a running emulator.
type Server struct {
	*emu.Server[Options] // URL is the base URL a client configures (ends in /v1)
}

// New starts an emulator on 127.0.0.1.
func New(o Options) *Server {
	s := &Server{emu.NewServer(o)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/responses", s.responses) // responses.go
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/audio/transcriptions", s.transcriptions)
	mux.HandleFunc("POST /v1/audio/translations", s.translations)
	mux.HandleFunc("POST /v1/audio/speech", s.speech)
	s.Start(s.record(mux), "/v1")
	return s
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, o, _ := s.Record(r)
		if o.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+o.APIKey {
			writeError(w, 401, "invalid_request_error", "invalid_api_key", "", "Incorrect API key provided: "+mask(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))+". You can find your API key at https://platform.openai.com/account/api-keys.")
			return
		}
		f := o.Fault.For(modelOf(r, body))
		if f.Interrupt(w, r, s.Done()) {
			return
		}
		if f.Refuse(w, writeFault) {
			return
		}
		next.ServeHTTP(w, withBody(r, body))
	})
}

// writeFault sends OpenAI's error body for a fault's status.
func writeFault(w http.ResponseWriter, f Fault) {
	typ, code := "server_error", ""
	switch {
	case f.Status == 429:
		typ, code = "requests", "rate_limit_exceeded"
	case f.Status < 500:
		typ = "invalid_request_error"
	}
	writeError(w, f.Status, typ, code, "", f.MessageOr(http.StatusText(f.Status)))
}

// mask shows a key as OpenAI's error message does: first and last four.
func mask(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return k[:3] + strings.Repeat("*", 4) + k[len(k)-4:]
}

type bodyKey struct{}

func withBody(r *http.Request, b []byte) *http.Request {
	return r.WithContext(contextWithBody(r.Context(), b))
}

func writeError(w http.ResponseWriter, status int, typ, code, param, msg string) {
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatRequest struct {
	Model         *string   `json:"model"`
	Messages      []message `json:"messages"`
	Stream        bool      `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
	MaxTokens  int             `json:"max_tokens"`
}

// unserved answers OpenAI's 404 for a model the emulator does not serve
// (naming param when set) and reports whether it did.
func (s *Server) unserved(w http.ResponseWriter, o Options, model, param string) bool {
	if len(o.Models) == 0 || slices.Contains(o.Models, model) {
		return false
	}
	writeError(w, 404, "invalid_request_error", "model_not_found", param, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
	return true
}

// notJSON answers OpenAI's 400 for a body that is not JSON.
func notJSON(w http.ResponseWriter) {
	writeError(w, 400, "invalid_request_error", "", "", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.")
}

// serverError is OpenAI's message for a failure of its own.
const serverError = "The server had an error while processing your request. Sorry about that!"

// pieces is what the emulator answers: the reply a word a piece, or, for
// a call to tool, the arguments five bytes a piece.
func (o Options) pieces(tool string) (reply, args string, pieces []string) {
	reply, args = cmp.Or(o.Reply, DefaultReply), cmp.Or(o.ToolArgs, DefaultToolArgs)
	if tool != "" {
		return reply, args, emu.Pieces(args, 5)
	}
	return reply, args, emu.Words(reply)
}

// startSSE starts an event stream and returns what writes an event (its
// "event:" line when name is set, then v as its data) and flushes it,
// false once the client is gone.
func startSSE(w http.ResponseWriter) func(name string, v any) bool {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	return func(name string, v any) bool {
		b, _ := json.Marshal(v)
		if name != "" {
			if _, err := fmt.Fprintf(w, "event: %s\n", name); err != nil {
				return false
			}
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
}

// next waits before piece i as the fault says (see emu.Fault.Before) and
// reports whether the piece goes out; when the fault fails the stream,
// fail answers the failure first.
func next(r *http.Request, w http.ResponseWriter, o Options, i int, fail func()) bool {
	switch o.Fault.Before(r.Context(), w, i, o.ChunkGap) {
	case emu.Stop:
		return false
	case emu.Fail:
		fail()
		return false
	}
	return true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req chatRequest
	if err := json.Unmarshal(bodyFrom(r.Context()), &req); err != nil {
		notJSON(w)
		return
	}
	if req.Model == nil {
		writeError(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, 400, "invalid_request_error", "", "messages", "[] is too short - 'messages'")
		return
	}
	o.Fault = o.Fault.For(*req.Model)
	if s.unserved(w, o, *req.Model, "") {
		return
	}
	tool := ""
	if len(req.Tools) > 0 && string(req.ToolChoice) != `"none"` {
		tool = req.Tools[0].Function.Name
	}
	reply, args, pieces := o.pieces(tool)
	if req.MaxTokens > 0 && len(pieces) > req.MaxTokens && tool == "" {
		pieces = pieces[:req.MaxTokens]
	}
	finish := "stop"
	if tool != "" {
		finish = "tool_calls"
	} else if req.MaxTokens > 0 && len(emu.Words(reply)) > req.MaxTokens {
		finish = "length"
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += countWords(m.Content)
	}
	usage := map[string]any{"prompt_tokens": prompt, "completion_tokens": len(pieces), "total_tokens": prompt + len(pieces),
		"prompt_tokens_details":     map[string]any{"cached_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
	id := "chatcmpl-emu" + fmt.Sprint(time.Now().UnixNano())
	created := time.Now().Unix()
	callID := "call_emu" + fmt.Sprint(created%100000)

	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": strings.Join(pieces, ""), "refusal": nil}
		if tool != "" {
			msg["content"] = nil
			msg["tool_calls"] = []any{map[string]any{"id": callID, "type": "function", "function": map[string]any{"name": tool, "arguments": args}}}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "object": "chat.completion", "created": created, "model": *req.Model,
			"system_fingerprint": "fp_emu", "choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
			"usage": usage, "service_tier": "default"})
		return
	}
	sse := startSSE(w)
	send := func(v any) bool { return sse("", v) }
	chunk := func(delta map[string]any, fin any) map[string]any {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": *req.Model,
			"system_fingerprint": "fp_emu", "choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": fin}}}
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			c["usage"] = nil
		}
		return c
	}
	first := map[string]any{"role": "assistant", "content": "", "refusal": nil}
	if tool != "" {
		first = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"index": 0, "id": callID, "type": "function",
			"function": map[string]any{"name": tool, "arguments": ""}}}, "refusal": nil}
	}
	if !send(chunk(first, nil)) {
		return
	}
	if o.Fault.CutAtStart {
		emu.Reset(w)
		return
	}
	for i, p := range pieces {
		if !next(r, w, o, i, func() {
			send(map[string]any{"error": map[string]any{"message": o.Fault.MessageOr(serverError), "type": "server_error", "param": nil, "code": nil}})
		}) {
			return
		}
		d := map[string]any{"content": p}
		if tool != "" {
			d = map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": p}}}}
		}
		if !send(chunk(d, nil)) {
			return
		}
	}
	if !send(chunk(map[string]any{}, finish)) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if !send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": *req.Model,
			"system_fingerprint": "fp_emu", "choices": []any{}, "usage": usage}) {
			return
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	w.(http.Flusher).Flush()
}

func countWords(content json.RawMessage) int {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return len(strings.Fields(s))
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(content, &parts)
	n := 0
	for _, p := range parts {
		n += len(strings.Fields(p.Text))
	}
	return n
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req struct {
		Model          *string         `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(bodyFrom(r.Context()), &req); err != nil || req.Model == nil {
		writeError(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	}
	if s.unserved(w, o, *req.Model, "") {
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil {
		writeError(w, 400, "invalid_request_error", "", "input", "'input' : input must be a string or an array of strings")
		return
	}
	dims := req.Dimensions
	if dims == 0 {
		dims = 8
	}
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	data := make([]any, len(inputs))
	tokens := 0
	for i, in := range inputs {
		v := Vector(in, dims)
		tokens += len(strings.Fields(in))
		var emb any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": *req.Model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// Vector is the emulator's deterministic embedding of text.
func Vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	h := sha256.Sum256([]byte(text))
	for i := range v {
		v[i] = float32(h[i%len(h)])/255 - 0.5
	}
	return v
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	names := o.Models
	if len(names) == 0 {
		names = []string{"gpt-4o-mini", "text-embedding-3-small"}
	}
	data := make([]any, len(names))
	for i, n := range names {
		data[i] = map[string]any{"id": n, "object": "model", "created": 1715367049, "owned_by": "system"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}
