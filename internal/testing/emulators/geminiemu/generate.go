package geminiemu

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// --- response wire types -------------------------------------------------

type outPart struct {
	Text         string   `json:"text,omitempty"`
	FunctionCall *outCall `json:"functionCall,omitempty"`
}

type outCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type outContent struct {
	Parts []outPart `json:"parts"`
	Role  string    `json:"role"`
}

type outCandidate struct {
	Content      *outContent `json:"content,omitempty"`
	FinishReason string      `json:"finishReason,omitempty"`
	Index        *int        `json:"index,omitempty"`
}

type modalityCount struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

type outUsage struct {
	PromptTokenCount     int             `json:"promptTokenCount"`
	CandidatesTokenCount int             `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount      int             `json:"totalTokenCount"`
	PromptTokensDetails  []modalityCount `json:"promptTokensDetails,omitempty"`
}

type outResponse struct {
	Candidates    []outCandidate `json:"candidates,omitempty"`
	UsageMetadata *outUsage      `json:"usageMetadata,omitempty"`
	ModelVersion  string         `json:"modelVersion,omitempty"`
	ResponseID    string         `json:"responseId,omitempty"`
}

// plan is what the emulated model answers.
type plan struct {
	pieces       []string // text pieces, one word each
	call         *outCall // a function call instead of text
	callTokens   int      // completion tokens of the call
	finish       string   // finishReason of the last chunk
	candidates   int
	promptTokens int
}

// chunks is the number of content chunks of a stream.
func (p *plan) chunks() int {
	if p.call != nil {
		return 1
	}
	return len(p.pieces)
}

// tokensAfter is the completion token count after k content chunks, per
// candidate.
func (p *plan) tokensAfter(k int) int {
	if p.call != nil {
		if k > 0 {
			return p.callTokens
		}
		return 0
	}
	return k
}

func (p *plan) usage(k int) *outUsage {
	c := p.tokensAfter(k) * p.candidates
	return &outUsage{
		PromptTokenCount:     p.promptTokens,
		CandidatesTokenCount: c,
		TotalTokenCount:      p.promptTokens + c,
		PromptTokensDetails:  []modalityCount{{Modality: "TEXT", TokenCount: p.promptTokens}},
	}
}

// isGenerativeModel reports whether model is served for generateContent.
func isGenerativeModel(model string) bool {
	if strings.Contains(model, "embedding") {
		return false
	}
	return strings.HasPrefix(model, "gemini-") || strings.HasPrefix(model, "gemma-")
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, model string, body []byte, opts Options, stream bool) {
	method := "generateContent"
	if stream {
		method = "streamGenerateContent"
	}
	var req genRequest
	if msg := decodeStrict(body, &req); msg != "" {
		writeError(w, http.StatusBadRequest, msg, []any{badRequest{Type: "type.googleapis.com/google.rpc.BadRequest",
			FieldViolations: []fieldViolation{{Description: msg}}}})
		return
	}
	if !isGenerativeModel(model) {
		modelNotFound(w, model, method)
		return
	}
	if msg := validateGenerate(&req); msg != "" {
		writeBadRequest(w, msg)
		return
	}
	p := makePlan(&req, opts)
	id := s.nextResponseID()
	if !stream {
		s.writeUnary(w, r, p, model, id, opts)
		return
	}
	s.writeStream(w, r, p, model, id, opts, r.URL.Query().Get("alt") == "sse")
}

func makePlan(req *genRequest, opts Options) *plan {
	p := &plan{candidates: 1, finish: "STOP", promptTokens: promptTokens(req)}
	if g := req.GenerationConfig; g != nil && g.CandidateCount != nil {
		p.candidates = int(*g.CandidateCount)
	}
	if name := toolToCall(req); name != "" {
		args := opts.ToolArgs
		if args == "" || !isObject(json.RawMessage(args)) {
			args = DefaultToolArgs
		}
		p.call = &outCall{Name: name, Args: json.RawMessage(args)}
		p.callTokens = (len(args) + 7) / 8
		return p
	}
	reply := cmp.Or(opts.Reply, DefaultReply)
	if g := req.GenerationConfig; g != nil {
		cut := len(reply)
		for _, stop := range g.StopSequences {
			if i := strings.Index(reply, stop); stop != "" && i >= 0 && i < cut {
				cut = i
			}
		}
		reply = reply[:cut]
	}
	p.pieces = emu.Words(reply)
	if g := req.GenerationConfig; g != nil && g.MaxOutputTokens != nil && int(*g.MaxOutputTokens) < len(p.pieces) {
		p.pieces = p.pieces[:*g.MaxOutputTokens]
		p.finish = "MAX_TOKENS"
	}
	if len(p.pieces) == 0 {
		p.pieces = []string{""}
	}
	return p
}

// toolToCall returns the function the emulated model calls, or "".
func toolToCall(req *genRequest) string {
	mode := ""
	var allowed []string
	if tc := req.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		mode = tc.FunctionCallingConfig.Mode
		allowed = tc.FunctionCallingConfig.AllowedFunctionNames
	}
	if mode == "NONE" {
		return ""
	}
	if n := len(req.Contents); n > 0 {
		for _, p := range req.Contents[n-1].Parts {
			if p.FunctionResponse != nil {
				return "" // the model answers the function's result in text
			}
		}
	}
	if len(allowed) > 0 {
		return allowed[0]
	}
	for _, t := range req.Tools {
		for _, fd := range t.FunctionDeclarations {
			return fd.Name
		}
	}
	return ""
}

func promptTokens(req *genRequest) int {
	n := 0
	count := func(c *content) {
		for _, p := range c.Parts {
			switch {
			case p.Text != nil:
				n += countWords(*p.Text)
			case p.FunctionCall != nil:
				n += 1 + countWords(string(p.FunctionCall.Args))
			case p.FunctionResponse != nil:
				n += 1 + countWords(string(p.FunctionResponse.Response))
			default:
				n++ // media and other parts count one token each
			}
		}
	}
	if req.SystemInstruction != nil {
		count(req.SystemInstruction)
	}
	for i := range req.Contents {
		count(&req.Contents[i])
	}
	return n
}

// candidates renders the candidates of content chunk k (0-based) holding
// parts, finishing them when finish is not "".
func (p *plan) candidatesFor(parts []outPart, finish string, withIndex bool) []outCandidate {
	out := make([]outCandidate, p.candidates)
	for i := range out {
		c := outCandidate{Content: &outContent{Parts: parts, Role: "model"}, FinishReason: finish}
		if withIndex || i > 0 {
			c.Index = &i
		}
		out[i] = c
	}
	return out
}

func (s *Server) writeUnary(w http.ResponseWriter, r *http.Request, p *plan, model, id string, opts Options) {
	if !s.Wait(r.Context(), opts.TTFT) {
		return
	}
	var parts []outPart
	if p.call != nil {
		parts = []outPart{{FunctionCall: p.call}}
	} else {
		parts = []outPart{{Text: strings.Join(p.pieces, "")}}
	}
	resp := outResponse{
		Candidates:    p.candidatesFor(parts, p.finish, true),
		UsageMetadata: p.usage(p.chunks()),
		ModelVersion:  model,
		ResponseID:    id,
	}
	b, _ := marshalIndent(resp)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, p *plan, model, id string, opts Options, sse bool) {
	fl, _ := w.(http.Flusher)
	flush := func() {
		if fl != nil {
			fl.Flush()
		}
	}
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	flush()
	if opts.Fault.CutAtStart {
		panic(http.ErrAbortHandler) // drop the connection before the first chunk
	}

	total := p.chunks()
	first := true
	writeEvent := func(v any) {
		if sse {
			b, _ := marshalSSE(v)
			w.Write([]byte("data: "))
			w.Write(b)
			w.Write([]byte("\r\n\r\n"))
		} else {
			b, _ := marshalIndent(v)
			if first {
				w.Write([]byte("["))
			} else {
				w.Write([]byte("\n,\r\n"))
			}
			w.Write(b)
		}
		first = false
		flush()
	}
	f := opts.Fault
	for k := 0; k < total; k++ {
		gap := opts.ChunkGap
		if k == 0 {
			gap = opts.TTFT
		}
		if !s.Wait(r.Context(), gap) {
			return
		}
		last := k == total-1
		finish := ""
		if last && !(f.CutAfter > 0 && f.CutAfter <= total) && !(f.ErrorAfter > 0 && f.ErrorAfter <= total) {
			finish = p.finish
		}
		var parts []outPart
		if p.call != nil {
			parts = []outPart{{FunctionCall: p.call}}
		} else {
			parts = []outPart{{Text: p.pieces[k]}}
		}
		writeEvent(outResponse{
			Candidates:    p.candidatesFor(parts, finish, false),
			UsageMetadata: p.usage(k + 1),
			ModelVersion:  model,
			ResponseID:    id,
		})
		if f.ErrorAfter > 0 && k+1 == f.ErrorAfter {
			msg := f.MessageOr(defaultMessage(http.StatusServiceUnavailable))
			// The real API ends a failing stream with a bare, pretty-printed
			// error object after the last event (no "data:" prefix).
			if !sse {
				w.Write([]byte("\n,\r\n"))
			}
			w.Write(errorJSON(http.StatusServiceUnavailable, msg, nil))
			if !sse {
				w.Write([]byte("]"))
			}
			flush()
			return
		}
		if f.CutAfter > 0 && k+1 == f.CutAfter {
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
	}
	if !sse {
		w.Write([]byte("\n]"))
		flush()
	}
}
