// Package anthropicemu is a local emulator of Anthropic's Messages API,
// written from Anthropic's published API reference, for testing the
// anthropic adapter and the gateway without the real service. It serves
// POST /v1/messages (a whole Message, or the event stream with its real
// `event: NAME\ndata: JSON\n\n` framing, ping included), POST
// /v1/messages/count_tokens, GET /v1/models and
// GET /v1/models/{id}, checks the headers and required fields the real API
// checks and answers with the real error bodies, calls the first offered
// tool, thinks first when asked to (extended thinking), and injects faults
// on request.
//
// It listens on 127.0.0.1 only. It imports nothing of tiergate but the shared emulator kit (emu).
package anthropicemu

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// DefaultReply is the assistant text when Options.Reply is empty.
const DefaultReply = emu.DefaultReply

// DefaultToolArgs are the tool arguments when Options.ToolArgs is empty.
const DefaultToolArgs = emu.DefaultToolArgs

// Thinking is the thinking block's text when a request enables
// extended thinking ("thinking": {"type": "enabled"} or "adaptive"); it
// comes before the answer, with the signature ThinkingSignature.
const Thinking = "The user wants a short answer."

// ThinkingSignature is the thinking block's signature.
const ThinkingSignature = "sig_emu_thinking"

// ToolArgPiece is the size in bytes of the input_json_delta pieces.
const ToolArgPiece = 6

type model struct{ id, name, created string }

// catalog is the models the emulator serves; any other model is answered
// with the API's 404.
func catalog() []model {
	return []model{
		{"claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"},
		{"claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"},
		{"claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"},
	}
}

// Models returns the model ids the emulator serves, newest first.
func Models() []string {
	var out []string
	for _, m := range catalog() {
		out = append(out, m.id)
	}
	return out
}

// Options set the emulated backend's behaviour. Zero value = answers at once.
type Options struct {
	TTFT     time.Duration // delay from request to the first content chunk (streams) or to the response (unary)
	ChunkGap time.Duration // delay between content chunks
	Reply    string        // assistant text; default DefaultReply; streamed one word (with its trailing space) per chunk
	ToolArgs string        // when the request offers tools (and tool choice is not "none"), the first tool (or the named one) is called with these JSON arguments (default DefaultToolArgs), streamed in ToolArgPiece-byte pieces
	APIKey   string        // if set, requests must carry it in x-api-key (or, as the 2026-10-21 SDKs send it, Authorization: Bearer), else the API's 401 body
	// CacheReadTokens and CacheWriteTokens are reported as
	// cache_read_input_tokens and cache_creation_input_tokens; they are
	// taken out of input_tokens, so the three still add up to the prompt's
	// word count, as Anthropic's counts add up to the whole prompt.
	CacheReadTokens  int
	CacheWriteTokens int
	Fault            Fault
}

// Fault injects a failure (see emu.Fault). The mid-stream error is an
// `event: error` with an overloaded_error body; a cut ends without
// message_stop.
type Fault = emu.Fault

// Request is one request as the emulator received it.
type Request = emu.Request

// Server is a running emulator.
type Server struct {
	*emu.Server[Options] // URL is the base URL as a client would configure it (the host root; paths start with /v1)

	seq atomic.Int64 // numbers request-id headers
}

// New starts an emulator on 127.0.0.1.
func New(opts Options) *Server {
	s := &Server{Server: emu.NewServer(opts)}
	s.Start(http.HandlerFunc(s.serve), "")
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, o, _ := s.Record(r)
	o.Fault = o.Fault.For(emu.ModelOf(body))
	seq := int(s.seq.Add(1))
	w.Header().Set("request-id", fmt.Sprintf("req_emu%020d", seq))

	if o.Fault.Interrupt(w, r, s.Done()) {
		return
	}
	if r.Header.Get("anthropic-version") == "" {
		writeError(w, http.StatusBadRequest, "anthropic-version: header is required", seq)
		return
	}
	if o.APIKey != "" {
		key := r.Header.Get("x-api-key")
		if key == "" {
			key, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		switch {
		case key == "":
			writeError(w, http.StatusUnauthorized, "x-api-key header is required", seq)
			return
		case key != o.APIKey:
			writeError(w, http.StatusUnauthorized, "invalid x-api-key", seq)
			return
		}
	}
	if o.Fault.Refuse(w, func(w http.ResponseWriter, f Fault) {
		writeError(w, f.Status, f.MessageOr(defaultMessage(f.Status)), seq)
	}) {
		return
	}

	switch {
	case r.URL.Path == "/v1/messages":
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", seq)
			return
		}
		s.messages(w, r, body, o, seq)
	case r.URL.Path == "/v1/messages/count_tokens" && r.Method == http.MethodPost:
		countTokens(w, body, r.Header.Get("anthropic-version"), seq)
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		listModels(w)
	case strings.HasPrefix(r.URL.Path, "/v1/models/") && r.Method == http.MethodGet:
		id := strings.TrimPrefix(r.URL.Path, "/v1/models/")
		for _, m := range catalog() {
			if m.id == id {
				writeJSON(w, http.StatusOK, modelJSON(m.id, m.name, m.created))
				return
			}
		}
		writeError(w, http.StatusNotFound, "model: "+id, seq)
	default:
		writeError(w, http.StatusNotFound, "Not Found", seq)
	}
}

// errorType is the type the API's error body names for a status.
func errorType(status int) string {
	switch status {
	case 400, 405, 422:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func defaultMessage(status int) string {
	switch status {
	case 429:
		return "Number of request tokens has exceeded your per-minute rate limit"
	case 529:
		return "Overloaded"
	case 413:
		return "Request exceeds the maximum allowed number of bytes."
	case 500:
		return "Internal server error"
	}
	return http.StatusText(status)
}

// The API's JSON shapes, with their fields in the API's order.

type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type errorJSON struct {
	Type      string      `json:"type"`
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

type usageJSON struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

type blockJSON struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

type messageJSON struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Content      []blockJSON `json:"content"`
	Model        string      `json:"model"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        usageJSON   `json:"usage"`
}

type deltaJSON struct {
	Type        string  `json:"type"`
	Thinking    *string `json:"thinking,omitempty"`
	Signature   *string `json:"signature,omitempty"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

type eventJSON struct {
	Type         string       `json:"type"`
	Message      *messageJSON `json:"message,omitempty"`
	Index        *int         `json:"index,omitempty"`
	ContentBlock *blockJSON   `json:"content_block,omitempty"`
	Delta        any          `json:"delta,omitempty"`
	Usage        *usageJSON   `json:"usage,omitempty"`
	Error        *errorDetail `json:"error,omitempty"`
}

type stopDeltaJSON struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

type modelInfoJSON struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type modelListJSON struct {
	Data    []modelInfoJSON `json:"data"`
	HasMore bool            `json:"has_more"`
	FirstID string          `json:"first_id"`
	LastID  string          `json:"last_id"`
}

// errorBody is the API's error shape.
func errorBody(status int, msg string, seq int) errorJSON {
	return errorJSON{Type: "error", Error: errorDetail{Type: errorType(status), Message: msg},
		RequestID: fmt.Sprintf("req_emu%020d", seq)}
}

func writeError(w http.ResponseWriter, status int, msg string, seq int) {
	writeJSON(w, status, errorBody(status, msg, seq))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func modelJSON(id, name, created string) modelInfoJSON {
	return modelInfoJSON{Type: "model", ID: id, DisplayName: name, CreatedAt: created}
}

func listModels(w http.ResponseWriter) {
	models := catalog()
	data := make([]modelInfoJSON, 0, len(models))
	for _, m := range models {
		data = append(data, modelJSON(m.id, m.name, m.created))
	}
	writeJSON(w, http.StatusOK, modelListJSON{Data: data, FirstID: models[0].id, LastID: models[len(models)-1].id})
}

// messageRequest is the part of a Messages request the emulator reads.
// Required fields are pointers so that absence can be told.
type messageRequest struct {
	Model         *string           `json:"model"`
	MaxTokens     *int64            `json:"max_tokens"`
	Messages      []json.RawMessage `json:"messages"`
	System        json.RawMessage   `json:"system"`
	Stream        bool              `json:"stream"`
	StopSequences []string          `json:"stop_sequences"`
	Tools         []struct {
		Name string `json:"name"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Thinking *struct {
		Type string `json:"type"`
	} `json:"thinking"`
}

type inMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type inBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Content json.RawMessage `json:"content"`
}

// validate applies the checks the real API makes, returning its message.
func validate(body []byte, version string) (*messageRequest, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "There was an error parsing the body of your request, please check that your request is valid JSON."
	}
	if version != "2023-06-01" {
		// API version 2026-10-21 removed the sampling parameters.
		for _, k := range []string{"temperature", "top_p", "top_k"} {
			if _, ok := raw[k]; ok {
				return nil, k + ": Extra inputs are not permitted"
			}
		}
	}
	var req messageRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, "invalid request: " + err.Error()
	}
	switch {
	case req.Model == nil:
		return nil, "model: Field required"
	case req.MaxTokens == nil:
		return nil, "max_tokens: Field required"
	case req.Messages == nil:
		return nil, "messages: Field required"
	case *req.MaxTokens < 0:
		return nil, "max_tokens: Input should be greater than or equal to 0"
	}
	prev := ""
	for i, rm := range req.Messages {
		var m inMessage
		if err := json.Unmarshal(rm, &m); err != nil {
			return nil, fmt.Sprintf("messages.%d: Input should be a valid dictionary", i)
		}
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if m.Role == prev {
			return nil, fmt.Sprintf("messages: roles must alternate between \"user\" and \"assistant\", but found multiple %q roles in a row", m.Role)
		}
		prev = m.Role
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			if s == "" && !(m.Role == "assistant" && i == len(req.Messages)-1) {
				return nil, fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
			}
			continue
		}
		var blocks []inBlock
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			return nil, fmt.Sprintf("messages.%d.content: Input should be a valid list", i)
		}
		if len(blocks) == 0 && !(m.Role == "assistant" && i == len(req.Messages)-1) {
			return nil, fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
		}
		for _, b := range blocks {
			switch {
			case b.Type == "text" && b.Text == "":
				return nil, "messages: text content blocks must be non-empty"
			case b.Type == "text" && strings.TrimSpace(b.Text) == "":
				return nil, "messages: text content blocks must contain non-whitespace text"
			}
		}
	}
	if len(req.Messages) == 0 {
		return nil, "messages: at least one message is required"
	}
	return &req, ""
}

// countTokens answers POST /v1/messages/count_tokens: the prompt's
// word count, as a Message's usage counts it. Its body is a Messages
// request without max_tokens.
func countTokens(w http.ResponseWriter, body []byte, version string, seq int) {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) == nil {
		if _, ok := raw["max_tokens"]; !ok {
			raw["max_tokens"] = json.RawMessage("1")
		}
		body, _ = json.Marshal(raw)
	}
	req, msg := validate(body, version)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg, seq)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": promptWords(req)})
}

// promptWords counts the words of all message and system text, the
// emulator's stand-in for input tokens.
func promptWords(req *messageRequest) int {
	n := countText(req.System)
	for _, rm := range req.Messages {
		var m inMessage
		if json.Unmarshal(rm, &m) == nil {
			n += countText(m.Content)
		}
	}
	return n
}

func countText(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(strings.Fields(s))
	}
	var blocks []inBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return 0
	}
	n := 0
	for _, b := range blocks {
		n += len(strings.Fields(b.Text))
		if b.Type == "tool_result" {
			n += countText(b.Content)
		}
	}
	return n
}

// words splits the reply into pieces that concatenate back to it: each
// word with the spaces after it. Unlike emu.Words, a run of spaces stays
// with its word, so that no piece is blank: each piece is a text delta,
// counts as an output token and is matched against stop_sequences.
func words(reply string) []string {
	var out []string
	for len(reply) > 0 {
		i := strings.IndexByte(reply, ' ')
		if i < 0 {
			out = append(out, reply)
			break
		}
		j := i
		for j < len(reply) && reply[j] == ' ' {
			j++
		}
		out = append(out, reply[:j])
		reply = reply[j:]
	}
	return out
}

// plan is what the emulator will answer with.
type plan struct {
	id, model   string
	thinking    bool     // a thinking block comes first
	text        []string // text pieces, or
	toolID      string   // a tool call
	toolName    string
	toolArgs    string
	argPieces   []string
	stop        string
	stopSeq     *string
	input       int // usage
	cacheRead   int
	cacheWrite  int
	outputCount int
}

func makePlan(req *messageRequest, o Options, seq int) *plan {
	p := &plan{id: fmt.Sprintf("msg_emu%020d", seq), model: *req.Model, stop: "end_turn",
		thinking: req.Thinking != nil && (req.Thinking.Type == "enabled" || req.Thinking.Type == "adaptive")}
	prompt := promptWords(req)
	p.cacheRead, p.cacheWrite = o.CacheReadTokens, o.CacheWriteTokens
	p.input = prompt - p.cacheRead - p.cacheWrite
	if p.input < 0 {
		p.input = 0
	}
	offered := len(req.Tools) > 0 && (req.ToolChoice == nil || req.ToolChoice.Type != "none")
	if offered {
		p.toolName = req.Tools[0].Name
		if req.ToolChoice != nil && req.ToolChoice.Type == "tool" && req.ToolChoice.Name != "" {
			p.toolName = req.ToolChoice.Name
		}
		p.toolID = fmt.Sprintf("toolu_emu%017d", seq)
		p.toolArgs = cmp.Or(o.ToolArgs, DefaultToolArgs)
		p.argPieces = emu.Pieces(p.toolArgs, ToolArgPiece)
		p.stop = "tool_use"
		p.outputCount = len(p.argPieces)
		return p
	}
	for _, w := range words(cmp.Or(o.Reply, DefaultReply)) {
		if int64(len(p.text)) >= *req.MaxTokens {
			p.stop = "max_tokens"
			break
		}
		if s, ok := stopIn(strings.TrimSpace(w), req.StopSequences); ok {
			p.stop, p.stopSeq = "stop_sequence", &s
			break
		}
		p.text = append(p.text, w)
	}
	p.outputCount = len(p.text)
	return p
}

// stopIn reports whether a word equals one of the stop sequences.
func stopIn(word string, stops []string) (string, bool) {
	for _, s := range stops {
		if s != "" && word == s {
			return s, true
		}
	}
	return "", false
}

func (p *plan) usage() usageJSON {
	return usageJSON{InputTokens: p.input, CacheCreationInputTokens: p.cacheWrite,
		CacheReadInputTokens: p.cacheRead, OutputTokens: p.outputCount}
}

func ptr[T any](v T) *T { return &v }

func (s *Server) messages(w http.ResponseWriter, r *http.Request, body []byte, o Options, seq int) {
	req, msg := validate(body, r.Header.Get("anthropic-version"))
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg, seq)
		return
	}
	known := false
	for _, m := range catalog() {
		known = known || m.id == *req.Model
	}
	if !known {
		writeError(w, http.StatusNotFound, "model: "+*req.Model, seq)
		return
	}
	p := makePlan(req, o, seq)
	if !req.Stream {
		if !emu.Sleep(r.Context(), o.TTFT) {
			return
		}
		var block blockJSON
		if p.toolID != "" {
			block = blockJSON{Type: "tool_use", ID: p.toolID, Name: p.toolName, Input: json.RawMessage(p.toolArgs)}
		} else {
			block = blockJSON{Type: "text", Text: ptr(strings.Join(p.text, ""))}
		}
		content := []blockJSON{block}
		if p.thinking {
			content = []blockJSON{{Type: "thinking", Thinking: ptr(Thinking), Signature: ptr(ThinkingSignature)}, block}
		}
		writeJSON(w, http.StatusOK, messageJSON{
			ID: p.id, Type: "message", Role: "assistant", Content: content, Model: p.model,
			StopReason: &p.stop, StopSequence: p.stopSeq, Usage: p.usage(),
		})
		return
	}
	s.stream(w, r, p, o)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, p *plan, o Options) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(ev eventJSON) {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b)
		if fl != nil {
			fl.Flush()
		}
	}
	start := p.usage()
	start.OutputTokens = 1
	send(eventJSON{Type: "message_start", Message: &messageJSON{
		ID: p.id, Type: "message", Role: "assistant", Content: []blockJSON{}, Model: p.model, Usage: start,
	}})
	at := 0 // the answer's block
	if p.thinking {
		send(eventJSON{Type: "content_block_start", Index: ptr(0), ContentBlock: &blockJSON{Type: "thinking", Thinking: ptr(""), Signature: ptr("")}})
		send(eventJSON{Type: "content_block_delta", Index: ptr(0), Delta: deltaJSON{Type: "thinking_delta", Thinking: ptr(Thinking)}})
		send(eventJSON{Type: "content_block_delta", Index: ptr(0), Delta: deltaJSON{Type: "signature_delta", Signature: ptr(ThinkingSignature)}})
		send(eventJSON{Type: "content_block_stop", Index: ptr(0)})
		at = 1
	}
	if p.toolID != "" {
		send(eventJSON{Type: "content_block_start", Index: ptr(at),
			ContentBlock: &blockJSON{Type: "tool_use", ID: p.toolID, Name: p.toolName, Input: json.RawMessage("{}")}})
	} else {
		send(eventJSON{Type: "content_block_start", Index: ptr(at), ContentBlock: &blockJSON{Type: "text", Text: ptr("")}})
	}
	send(eventJSON{Type: "ping"})
	if o.Fault.CutAtStart {
		emu.Reset(w)
		return
	}
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	pieces := p.text
	if p.toolID != "" {
		pieces = p.argPieces
	}
	for i, piece := range pieces {
		switch o.Fault.Before(r.Context(), w, i, o.ChunkGap) {
		case emu.Stop:
			return
		case emu.Fail:
			send(eventJSON{Type: "error", Error: &errorDetail{Type: "overloaded_error", Message: o.Fault.MessageOr("Overloaded")}})
			return
		}
		if p.toolID != "" {
			send(eventJSON{Type: "content_block_delta", Index: ptr(at), Delta: deltaJSON{Type: "input_json_delta", PartialJSON: ptr(piece)}})
		} else {
			send(eventJSON{Type: "content_block_delta", Index: ptr(at), Delta: deltaJSON{Type: "text_delta", Text: ptr(piece)}})
		}
	}
	if o.Fault.CutAfter > 0 && o.Fault.CutAfter >= len(pieces) {
		emu.Reset(w)
		return
	}
	send(eventJSON{Type: "content_block_stop", Index: ptr(at)})
	u := p.usage()
	send(eventJSON{Type: "message_delta", Delta: stopDeltaJSON{StopReason: p.stop, StopSequence: p.stopSeq}, Usage: &u})
	send(eventJSON{Type: "message_stop"})
}
