// Package ollamaemu is a test emulator of Ollama's native API (/api/chat,
// /api/embed, /api/tags, /api/show, /api/version), written from Ollama's
// API reference: streamed NDJSON lines each carrying a message piece, a
// final line with "done": true, done_reason and the timing fields
// (total_duration, load_duration, prompt_eval_count, prompt_eval_duration,
// eval_count, eval_duration, in nanoseconds); errors as {"error": "..."}.
// It is test infrastructure, never a backend; it imports nothing of tiergate but the shared emulator kit (emu).
package ollamaemu

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// DefaultReply is the assistant text when Options.Reply is empty.
const DefaultReply = emu.DefaultReply

// DefaultToolArgs are the tool arguments when Options.ToolArgs is empty.
const DefaultToolArgs = emu.DefaultToolArgs

// Options set the emulated server's behaviour.
type Options struct {
	TTFT     time.Duration
	ChunkGap time.Duration
	Reply    string
	ToolArgs string
	// Models are the installed models (default "llama3:8b", "mistral:7b").
	Models []string
	// Capabilities per model for /api/show (default completion, tools).
	Capabilities map[string][]string
	// LoadDuration is reported as load_duration.
	LoadDuration time.Duration
	Fault        Fault
}

// Fault injects a failure (see emu.Fault).
type Fault = emu.Fault

// Request is one recorded request.
type Request = emu.Request

// Server is a running emulator.
type Server struct {
	*emu.Server[Options]
}

// New starts an emulator on 127.0.0.1.
func New(o Options) *Server {
	s := &Server{emu.NewServer(o)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat", s.chat)
	mux.HandleFunc("POST /api/embed", s.embed)
	mux.HandleFunc("GET /api/tags", s.tags)
	mux.HandleFunc("POST /api/show", s.show)
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"version": "0.17.4"})
	})
	s.Start(s.wrap(mux), "")
	return s
}

func (s *Server) models(o Options) []string {
	if len(o.Models) == 0 {
		return []string{"llama3:8b", "mistral:7b"}
	}
	return o.Models
}

func (s *Server) installed(o Options, name string) bool {
	if !strings.Contains(name, ":") {
		name += ":latest"
	}
	for _, m := range s.models(o) {
		if m == name {
			return true
		}
	}
	return false
}

func (s *Server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, o, _ := s.Record(r)
		f := o.Fault.For(emu.ModelOf(body))
		if r.URL.Path == "/api/version" || r.URL.Path == "/api/tags" || r.URL.Path == "/api/show" {
			next.ServeHTTP(w, r)
			return
		}
		if f.Interrupt(w, r, s.Done()) {
			return
		}
		if f.Refuse(w, func(w http.ResponseWriter, f Fault) {
			writeJSON(w, f.Status, map[string]string{"error": f.MessageOr(http.StatusText(f.Status))})
		}) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string   `json:"role"`
		Content string   `json:"content"`
		Images  []string `json:"images"`
	} `json:"messages"`
	Stream *bool `json:"stream"`
	Tools  []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	Options map[string]any `json:"options"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid character in request body"})
		return
	}
	o.Fault = o.Fault.For(req.Model)
	if req.Model == "" {
		writeJSON(w, 400, map[string]string{"error": "model is required"})
		return
	}
	if !s.installed(o, req.Model) {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
		return
	}
	stream := req.Stream == nil || *req.Stream
	args := cmp.Or(o.ToolArgs, DefaultToolArgs)
	pieces := emu.Words(cmp.Or(o.Reply, DefaultReply))
	doneReason := "stop"
	if n, ok := req.Options["num_predict"].(float64); ok && n > 0 && int(n) < len(pieces) {
		pieces, doneReason = pieces[:int(n)], "length"
	}
	tool := ""
	if len(req.Tools) > 0 {
		tool = req.Tools[0].Function.Name
		pieces = nil
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(strings.Fields(m.Content)) + 10*len(m.Images)
	}
	start := time.Now()
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	promptDur := time.Since(start)
	line := func(msg map[string]any, done bool) map[string]any {
		l := map[string]any{"model": req.Model, "created_at": time.Now().UTC().Format(time.RFC3339Nano), "message": msg, "done": done}
		if done {
			evals := len(pieces)
			if tool != "" {
				evals = len(args) / 4
			}
			l["done_reason"] = doneReason
			l["total_duration"] = time.Since(start).Nanoseconds() + o.LoadDuration.Nanoseconds()
			l["load_duration"] = o.LoadDuration.Nanoseconds()
			l["prompt_eval_count"] = prompt
			l["prompt_eval_duration"] = promptDur.Nanoseconds()
			l["eval_count"] = evals
			l["eval_duration"] = (time.Since(start) - promptDur).Nanoseconds()
		}
		return l
	}
	toolMsg := func() map[string]any {
		var a any
		json.Unmarshal([]byte(args), &a)
		return map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{
			"id": "call_emu", "function": map[string]any{"index": 0, "name": tool, "arguments": a}}}}
	}
	if !stream {
		msg := map[string]any{"role": "assistant", "content": strings.Join(pieces, "")}
		if tool != "" {
			msg = toolMsg()
		}
		writeJSON(w, 200, line(msg, true))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl := w.(http.Flusher)
	if o.Fault.CutAtStart {
		w.WriteHeader(http.StatusOK)
		fl.Flush()
		emu.Reset(w)
		return
	}
	enc := json.NewEncoder(w)
	for i, p := range pieces {
		switch o.Fault.Before(r.Context(), w, i, o.ChunkGap) {
		case emu.Stop:
			return
		case emu.Fail:
			enc.Encode(map[string]string{"error": o.Fault.MessageOr("an error was encountered while running the model: unexpected EOF")})
			fl.Flush()
			return
		}
		if enc.Encode(line(map[string]any{"role": "assistant", "content": p}, false)) != nil {
			return
		}
		fl.Flush()
	}
	if tool != "" {
		enc.Encode(line(toolMsg(), false))
		fl.Flush()
	}
	enc.Encode(line(map[string]any{"role": "assistant", "content": ""}, true))
	fl.Flush()
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid request"})
		return
	}
	if !s.installed(o, req.Model) {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid input type"})
		return
	}
	embs := make([][]float32, len(inputs))
	n := 0
	for i, in := range inputs {
		h := sha256.Sum256([]byte(in))
		v := make([]float32, 8)
		for j := range v {
			v[j] = float32(h[j])/255 - 0.5
		}
		embs[i] = v
		n += len(strings.Fields(in))
	}
	writeJSON(w, 200, map[string]any{"model": req.Model, "embeddings": embs, "total_duration": 1000, "load_duration": 10, "prompt_eval_count": n})
}

func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var ms []any
	for _, m := range s.models(o) {
		ms = append(ms, map[string]any{"name": m, "model": m, "modified_at": "2026-11-01T00:00:00Z", "size": 4661224676,
			"digest": fmt.Sprintf("%x", sha256.Sum256([]byte(m))), "details": map[string]any{"format": "gguf", "family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_0"}})
	}
	writeJSON(w, 200, map[string]any{"models": ms})
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req struct {
		Model string `json:"model"`
		Name  string `json:"name"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	if req.Model == "" {
		req.Model = req.Name
	}
	if !s.installed(o, req.Model) {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
		return
	}
	caps := o.Capabilities[req.Model]
	if caps == nil {
		caps = []string{"completion", "tools"}
	}
	writeJSON(w, 200, map[string]any{"modelfile": "FROM " + req.Model, "template": "{{ .Prompt }}", "details": map[string]any{"format": "gguf", "family": "llama"},
		"model_info": map[string]any{"general.architecture": "llama", "llama.context_length": 8192}, "capabilities": caps})
}
