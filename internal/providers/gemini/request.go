package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"path"
	"regexp"
	"strings"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// chatRequest is openaiwire's request with the members it keeps raw that
// this adapter reads typed, so that one decode reports a wrong type for
// them too (the outer fields win over the embedded ones of the same name).
type chatRequest struct {
	openaiwire.ChatRequest
	Seed           *int64                     `json:"seed"`
	ResponseFormat *openaiwire.ResponseFormat `json:"response_format"`
	Functions      []openaiwire.FunctionDef   `json:"functions"`
	LogitBias      map[string]json.RawMessage `json:"logit_bias"`
}

// translation is a chat request in the SDK's terms.
type translation struct {
	contents []*genai.Content
	config   *genai.GenerateContentConfig
}

// functionNameRE is the Gemini API's rule for function names; OpenAI's
// rule ([A-Za-z0-9_-]{1,64}) also allows a leading digit or dash, which
// Gemini refuses.
var functionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$`)

// reasoningBudget maps reasoning_effort to Gemini thinking budgets, as
// Google's own OpenAI-compatible endpoint does (low 1K, medium 8K, high
// 24K tokens; none turns thinking off).
func reasoningBudget(effort string) (int32, bool) {
	switch effort {
	case "none":
		return 0, true
	case "minimal", "low":
		return 1024, true
	case "medium":
		return 8192, true
	case "high":
		return 24576, true
	}
	return 0, false
}

// translate turns an OpenAI chat body into Gemini contents and config. It
// returns a 400 *providers.Error (with Param set) for a body Gemini cannot
// honour.
func (p *Provider) translate(body []byte) (*translation, *providers.Error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := strings.TrimPrefix(te.Field, "ChatRequest.") // the embedded type's name
			return nil, p.invalid(field, fmt.Sprintf("invalid type for '%s': got %s, want %s", field, te.Value, jsonType(te.Type.Kind().String())))
		}
		return nil, p.invalid("", "invalid chat request body: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if perr := p.rejectUnsupported(&req); perr != nil {
		return nil, perr
	}
	cfg := &genai.GenerateContentConfig{}
	if perr := p.generationConfig(&req, cfg); perr != nil {
		return nil, perr
	}
	declared, perr := p.tools(&req, cfg)
	if perr != nil {
		return nil, perr
	}
	if perr := p.toolChoice(&req, cfg, declared); perr != nil {
		return nil, perr
	}
	contents, system, perr := p.messages(req.Messages)
	if perr != nil {
		return nil, perr
	}
	if len(system) > 0 {
		cfg.SystemInstruction = &genai.Content{Role: genai.RoleUser, Parts: system}
	}
	off := false
	cfg.AutomaticContinuation = &off
	return &translation{contents: contents, config: cfg}, nil
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int32", "int64", "float32", "float64", "uint", "uint32", "uint64":
		return "number"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return kind
}

// rejectUnsupported answers 400 for parameters Gemini cannot honour.
func (p *Provider) rejectUnsupported(req *chatRequest) *providers.Error {
	if len(req.LogitBias) > 0 {
		return p.invalid("logit_bias", "logit_bias is not supported by Gemini")
	}
	if req.Logprobs != nil && *req.Logprobs {
		return p.invalid("logprobs", "logprobs is not supported by the Gemini adapter")
	}
	if req.TopLogprobs != nil && *req.TopLogprobs > 0 {
		return p.invalid("top_logprobs", "top_logprobs is not supported by the Gemini adapter")
	}
	for _, m := range req.Modalities {
		if m != "text" {
			return p.invalid("modalities", fmt.Sprintf("output modality %q is not supported by the Gemini adapter; only text", m))
		}
	}
	if !openaiwire.IsNull(req.Audio) {
		return p.invalid("audio", "audio output is not supported by the Gemini adapter")
	}
	if !openaiwire.IsNull(req.Prediction) {
		return p.invalid("prediction", "predicted outputs are not supported by Gemini")
	}
	if !openaiwire.IsNull(req.WebSearchOptions) {
		return p.invalid("web_search_options", "web_search_options is not supported by the Gemini adapter")
	}
	if req.Verbosity != nil {
		return p.invalid("verbosity", "verbosity is not supported by Gemini")
	}
	return nil
}

func (p *Provider) generationConfig(req *chatRequest, cfg *genai.GenerateContentConfig) *providers.Error {
	maxTok, maxParam := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		maxTok, maxParam = req.MaxCompletionTokens, "max_completion_tokens"
	}
	if maxTok != nil {
		if *maxTok < 1 || *maxTok > math.MaxInt32 {
			return p.invalid(maxParam, maxParam+" must be a positive integer")
		}
		cfg.MaxOutputTokens = int32(*maxTok)
	}
	if v := req.Temperature; v != nil {
		if *v < 0 || *v > 2 {
			return p.invalid("temperature", "temperature must be between 0 and 2")
		}
		cfg.Temperature = genai.Ptr(float32(*v))
	}
	if v := req.TopP; v != nil {
		if *v < 0 || *v > 1 {
			return p.invalid("top_p", "top_p must be between 0 and 1")
		}
		cfg.TopP = genai.Ptr(float32(*v))
	}
	if v := req.TopK; v != nil {
		if *v < 1 || *v > math.MaxInt32 {
			return p.invalid("top_k", "top_k must be a positive integer")
		}
		cfg.TopK = genai.Ptr(float32(*v))
	}
	if v := req.N; v != nil {
		if *v < 1 || *v > 8 {
			return p.invalid("n", "n must be between 1 and 8 for Gemini")
		}
		if *v > 1 {
			cfg.CandidateCount = int32(*v)
		}
	}
	if !openaiwire.IsNull(req.Stop) {
		var one string
		var many []string
		switch {
		case json.Unmarshal(req.Stop, &one) == nil:
			many = []string{one}
		case json.Unmarshal(req.Stop, &many) == nil:
		default:
			return p.invalid("stop", "stop must be a string or an array of strings")
		}
		for _, s := range many {
			if s != "" {
				cfg.StopSequences = append(cfg.StopSequences, s)
			}
		}
		if len(cfg.StopSequences) > 5 {
			return p.invalid("stop", "Gemini accepts at most 5 stop sequences")
		}
	}
	if v := req.Seed; v != nil {
		if *v < math.MinInt32 || *v > math.MaxInt32 {
			return p.invalid("seed", "seed must fit in 32 bits for Gemini")
		}
		cfg.Seed = genai.Ptr(int32(*v))
	}
	for _, pen := range []struct {
		name string
		v    *float64
		dst  **float32
	}{{"presence_penalty", req.PresencePenalty, &cfg.PresencePenalty}, {"frequency_penalty", req.FrequencyPenalty, &cfg.FrequencyPenalty}} {
		if pen.v == nil {
			continue
		}
		if *pen.v < -2 || *pen.v > 2 {
			return p.invalid(pen.name, pen.name+" must be between -2 and 2")
		}
		*pen.dst = genai.Ptr(float32(*pen.v))
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			cfg.ResponseMIMEType = "application/json"
		case "json_schema":
			cfg.ResponseMIMEType = "application/json"
			if rf.JSONSchema != nil && !openaiwire.IsNull(rf.JSONSchema.Schema) {
				if !isJSONObject(rf.JSONSchema.Schema) {
					return p.invalid("response_format.json_schema.schema", "the JSON schema must be an object")
				}
				cfg.ResponseJsonSchema = json.RawMessage(bytes.TrimSpace(rf.JSONSchema.Schema))
			}
		default:
			return p.invalid("response_format.type", fmt.Sprintf("response_format type %q is not supported", rf.Type))
		}
	}
	if e := req.ReasoningEffort; e != nil {
		budget, ok := reasoningBudget(*e)
		if !ok {
			return p.invalid("reasoning_effort", fmt.Sprintf("reasoning_effort %q is not one of none, minimal, low, medium, high", *e))
		}
		cfg.ThinkingConfig = &genai.ThinkingConfig{ThinkingBudget: genai.Ptr(budget), IncludeThoughts: budget > 0}
	}
	return nil
}

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

// tools declares the function tools and returns their names.
func (p *Provider) tools(req *chatRequest, cfg *genai.GenerateContentConfig) (map[string]bool, *providers.Error) {
	declared := map[string]bool{}
	var decls []*genai.FunctionDeclaration
	add := func(param string, fd openaiwire.FunctionDef) *providers.Error {
		if fd.Name == "" {
			return p.invalid(param+".name", "function name is required")
		}
		if !functionNameRE.MatchString(fd.Name) {
			return p.invalid(param+".name", fmt.Sprintf("function name %q is not accepted by Gemini: it must start with a letter or underscore and hold at most 64 letters, digits, '_', '.', ':' or '-'", fd.Name))
		}
		if declared[fd.Name] {
			return p.invalid(param+".name", fmt.Sprintf("function %q is declared twice", fd.Name))
		}
		declared[fd.Name] = true
		d := &genai.FunctionDeclaration{Name: fd.Name, Description: fd.Description}
		if !openaiwire.IsNull(fd.Parameters) {
			if !isJSONObject(fd.Parameters) {
				return p.invalid(param+".parameters", "function parameters must be a JSON schema object")
			}
			d.ParametersJsonSchema = json.RawMessage(bytes.TrimSpace(fd.Parameters))
		}
		decls = append(decls, d)
		return nil
	}
	for i, t := range req.Tools {
		if t.Type != "function" && t.Type != "" {
			return nil, p.invalid(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("tool type %q is not supported by the Gemini adapter; only function tools are", t.Type))
		}
		var fd openaiwire.FunctionDef
		if t.Function != nil {
			fd = *t.Function
		}
		if perr := add(fmt.Sprintf("tools[%d].function", i), fd); perr != nil {
			return nil, perr
		}
	}
	for i, f := range req.Functions {
		if perr := add(fmt.Sprintf("functions[%d]", i), f); perr != nil {
			return nil, perr
		}
	}
	if len(decls) > 0 {
		cfg.Tools = []*genai.Tool{{FunctionDeclarations: decls}}
	}
	return declared, nil
}

// toolChoice maps tool_choice (or the deprecated function_call) to
// Gemini's function calling mode.
func (p *Provider) toolChoice(req *chatRequest, cfg *genai.GenerateContentConfig, declared map[string]bool) *providers.Error {
	raw, param := req.ToolChoice, "tool_choice"
	if openaiwire.IsNull(raw) {
		raw, param = req.FunctionCall, "function_call"
	}
	if openaiwire.IsNull(raw) {
		return nil
	}
	set := func(mode genai.FunctionCallingConfigMode, names ...string) *providers.Error {
		if len(declared) == 0 {
			if mode == genai.FunctionCallingConfigModeNone || mode == genai.FunctionCallingConfigModeAuto {
				return nil // nothing to choose from; harmless
			}
			return p.invalid(param, param+" requires tools")
		}
		for _, n := range names {
			if !declared[n] {
				return p.invalid(param, fmt.Sprintf("function %q in %s is not among the tools", n, param))
			}
		}
		cfg.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: mode, AllowedFunctionNames: names}}
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "none":
			return set(genai.FunctionCallingConfigModeNone)
		case "auto":
			return set(genai.FunctionCallingConfigModeAuto)
		case "required":
			if param == "tool_choice" {
				return set(genai.FunctionCallingConfigModeAny)
			}
		}
		return p.invalid(param, fmt.Sprintf("%s %q is not one of none, auto, required", param, s))
	}
	var obj struct {
		Type     string `json:"type"`
		Name     string `json:"name"` // deprecated function_call form
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools *struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Type     string `json:"type"`
				Function *struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return p.invalid(param, param+" must be a string or an object")
	}
	switch {
	case param == "function_call" && obj.Name != "":
		return set(genai.FunctionCallingConfigModeAny, obj.Name)
	case obj.Type == "function" && obj.Function != nil && obj.Function.Name != "":
		return set(genai.FunctionCallingConfigModeAny, obj.Function.Name)
	case obj.Type == "allowed_tools" && obj.AllowedTools != nil:
		var names []string
		for i, t := range obj.AllowedTools.Tools {
			if t.Type != "function" || t.Function == nil || t.Function.Name == "" {
				return p.invalid(fmt.Sprintf("tool_choice.allowed_tools.tools[%d]", i), "only function tools can be allowed")
			}
			names = append(names, t.Function.Name)
		}
		switch obj.AllowedTools.Mode {
		case "required":
			return set(genai.FunctionCallingConfigModeAny, names...)
		case "auto", "":
			// VALIDATED: the model may answer in text, and any call it
			// makes is limited to the allowed functions.
			return set(genai.FunctionCallingConfigModeValidated, names...)
		}
		return p.invalid("tool_choice.allowed_tools.mode", fmt.Sprintf("mode %q is not one of auto, required", obj.AllowedTools.Mode))
	}
	return p.invalid(param, fmt.Sprintf("unsupported %s", param))
}

// --- messages ------------------------------------------------------------

// pendingCall is an assistant tool call waiting for its tool message.
type pendingCall struct {
	id, name string
}

// messages translates the conversation. Roles map user→user,
// assistant→model, tool/function→user (functionResponse parts),
// system/developer→systemInstruction. Adjacent turns of the same role are
// merged, as Gemini expects alternating turns.
func (p *Provider) messages(msgs []openaiwire.Message) ([]*genai.Content, []*genai.Part, *providers.Error) {
	if len(msgs) == 0 {
		return nil, nil, p.invalid("messages", "messages must not be empty")
	}
	var contents []*genai.Content
	var system []*genai.Part
	var pending []pendingCall // calls of the last assistant message still unanswered
	appendTurn := func(role string, parts []*genai.Part) {
		if len(parts) == 0 {
			return
		}
		if n := len(contents); n > 0 && contents[n-1].Role == role {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			return
		}
		contents = append(contents, &genai.Content{Role: role, Parts: parts})
	}
	unanswered := func(i int) *providers.Error {
		ids := make([]string, len(pending))
		for k, c := range pending {
			ids[k] = c.id
		}
		return p.invalid(fmt.Sprintf("messages[%d]", i), "an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'; missing responses for: "+strings.Join(ids, ", "))
	}

	for i, m := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		isAnswer := m.Role == "tool" || m.Role == "function"
		if len(pending) > 0 && !isAnswer {
			return nil, nil, unanswered(i)
		}
		switch m.Role {
		case "system", "developer":
			texts, perr := p.textContent(param+".content", m.Content, false)
			if perr != nil {
				return nil, nil, perr
			}
			for _, t := range texts {
				system = append(system, &genai.Part{Text: t})
			}
		case "user":
			parts, perr := p.userContent(param+".content", m.Content)
			if perr != nil {
				return nil, nil, perr
			}
			appendTurn(genai.RoleUser, parts)
		case "assistant":
			texts, perr := p.textContent(param+".content", m.Content, true)
			if perr != nil {
				return nil, nil, perr
			}
			if len(texts) == 0 && m.Refusal != nil && *m.Refusal != "" {
				texts = []string{*m.Refusal}
			}
			var parts []*genai.Part
			for _, t := range texts {
				parts = append(parts, &genai.Part{Text: t})
			}
			calls, newPending, perr := p.assistantCalls(param, m)
			if perr != nil {
				return nil, nil, perr
			}
			parts = append(parts, calls...)
			pending = newPending
			appendTurn(genai.RoleModel, parts)
		case "tool", "function":
			key, idParam := m.ToolCallID, param+".tool_call_id"
			if m.Role == "function" {
				key, idParam = "function:"+m.Name, param+".name"
			}
			k := -1
			for j, c := range pending {
				if c.id == key {
					k = j
					break
				}
			}
			if k < 0 {
				return nil, nil, p.invalid(idParam, fmt.Sprintf("%s message does not answer a tool call of the preceding assistant message (id %q)", m.Role, strings.TrimPrefix(key, "function:")))
			}
			name := pending[k].name
			pending = append(pending[:k], pending[k+1:]...)
			texts, perr := p.textContent(param+".content", m.Content, true)
			if perr != nil {
				return nil, nil, perr
			}
			appendTurn(genai.RoleUser, []*genai.Part{{FunctionResponse: &genai.FunctionResponse{
				Name: name, Response: responseObject(strings.Join(texts, "")),
			}}})
		default:
			return nil, nil, p.invalid(param+".role", fmt.Sprintf("unsupported role %q", m.Role))
		}
	}
	if len(pending) > 0 {
		return nil, nil, unanswered(len(msgs))
	}
	if len(contents) == 0 {
		return nil, nil, p.invalid("messages", "messages must include at least one non-empty user or assistant message")
	}
	// Gemini wants a function call turn right after a user turn or a
	// function response turn; a conversation cannot open with one.
	if hasFunctionCall(contents[0]) {
		return nil, nil, p.invalid("messages", "an assistant message with tool_calls must follow a user message")
	}
	return contents, system, nil
}

func hasFunctionCall(c *genai.Content) bool {
	for _, part := range c.Parts {
		if part.FunctionCall != nil {
			return true
		}
	}
	return false
}

// assistantCalls translates an assistant message's tool_calls (or the
// deprecated function_call) into openaiwire.FunctionCall parts.
func (p *Provider) assistantCalls(param string, m openaiwire.Message) ([]*genai.Part, []pendingCall, *providers.Error) {
	var parts []*genai.Part
	var pending []pendingCall
	seen := map[string]bool{}
	for j, tc := range m.ToolCalls {
		tparam := fmt.Sprintf("%s.tool_calls[%d]", param, j)
		if tc.Type != "function" && tc.Type != "" {
			return nil, nil, p.invalid(tparam+".type", fmt.Sprintf("tool call type %q is not supported", tc.Type))
		}
		if tc.ID == "" {
			return nil, nil, p.invalid(tparam+".id", "tool call id is required")
		}
		if seen[tc.ID] {
			return nil, nil, p.invalid(tparam+".id", fmt.Sprintf("tool call id %q is used twice", tc.ID))
		}
		seen[tc.ID] = true
		part, perr := p.callPart(tparam+".function", tc.Function)
		if perr != nil {
			return nil, nil, perr
		}
		if tc.ExtraContent != nil && tc.ExtraContent.Google != nil && tc.ExtraContent.Google.ThoughtSignature != "" {
			sig, err := base64.StdEncoding.DecodeString(tc.ExtraContent.Google.ThoughtSignature)
			if err != nil || len(sig) == 0 {
				return nil, nil, p.invalid(tparam+".extra_content.google.thought_signature", "thought signature must be base64")
			}
			part.ThoughtSignature = sig
		}
		parts = append(parts, part)
		pending = append(pending, pendingCall{id: tc.ID, name: tc.Function.Name})
	}
	if fc := m.FunctionCall; fc != nil && len(m.ToolCalls) == 0 {
		part, perr := p.callPart(param+".function_call", *fc)
		if perr != nil {
			return nil, nil, perr
		}
		parts = append(parts, part)
		pending = append(pending, pendingCall{id: "function:" + fc.Name, name: fc.Name})
	}
	return parts, pending, nil
}

func (p *Provider) callPart(param string, fc openaiwire.FunctionCall) (*genai.Part, *providers.Error) {
	if !functionNameRE.MatchString(fc.Name) {
		return nil, p.invalid(param+".name", fmt.Sprintf("function name %q is not accepted by Gemini", fc.Name))
	}
	args := map[string]any{}
	if strings.TrimSpace(fc.Arguments) != "" {
		dec := json.NewDecoder(strings.NewReader(fc.Arguments))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return nil, p.invalid(param+".arguments", "function arguments must be a JSON object")
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, p.invalid(param+".arguments", "function arguments must be a JSON object")
		}
		args = obj
	}
	return &genai.Part{FunctionCall: &genai.FunctionCall{Name: fc.Name, Args: args}}, nil
}

// responseObject is the functionResponse.response for a tool's output: a
// JSON object is passed as is; anything else is wrapped as
// {"result": value}, where value is the parsed JSON or the raw text.
func responseObject(s string) map[string]any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if obj, ok := v.(map[string]any); ok {
			return obj
		}
		return map[string]any{"result": v}
	}
	return map[string]any{"result": s}
}

// content reads a message's content; an empty string gives nothing.
func (p *Provider) content(param string, raw json.RawMessage) (*string, []openaiwire.ContentPart, *providers.Error) {
	s, parts, ok := openaiwire.ParseContent(raw)
	if !ok {
		return nil, nil, p.invalid(param, "content must be a string or an array of content parts")
	}
	if s != nil && *s == "" {
		return nil, nil, nil
	}
	return s, parts, nil
}

// textContent reads content that may only hold text: a string, an array
// of text (and, for assistant and tool messages, refusal) parts, or null.
// Empty texts are dropped (Gemini rejects empty text parts).
func (p *Provider) textContent(param string, raw json.RawMessage, allowRefusal bool) ([]string, *providers.Error) {
	s, parts, perr := p.content(param, raw)
	if perr != nil {
		return nil, perr
	}
	if s != nil {
		return []string{*s}, nil
	}
	var out []string
	for j, cp := range parts {
		switch {
		case cp.Type == "text" && cp.Text != nil:
			if *cp.Text != "" {
				out = append(out, *cp.Text)
			}
		case cp.Type == "refusal" && allowRefusal && cp.Refusal != nil:
			if *cp.Refusal != "" {
				out = append(out, *cp.Refusal)
			}
		default:
			return nil, p.invalid(fmt.Sprintf("%s[%d].type", param, j), fmt.Sprintf("content part type %q is not allowed here", cp.Type))
		}
	}
	return out, nil
}

// userContent reads a user message's content: text, images, audio, files.
func (p *Provider) userContent(param string, raw json.RawMessage) ([]*genai.Part, *providers.Error) {
	s, parts, perr := p.content(param, raw)
	if perr != nil {
		return nil, perr
	}
	if s != nil {
		return []*genai.Part{{Text: *s}}, nil
	}
	var out []*genai.Part
	for j, cp := range parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch cp.Type {
		case "text":
			if cp.Text == nil {
				return nil, p.invalid(pp+".text", "text part without text")
			}
			if *cp.Text != "" {
				out = append(out, &genai.Part{Text: *cp.Text})
			}
		case "image_url":
			if cp.ImageURL == nil || cp.ImageURL.URL == "" {
				return nil, p.invalid(pp+".image_url.url", "image_url.url is required")
			}
			part, perr := p.imagePart(pp+".image_url.url", cp.ImageURL.URL)
			if perr != nil {
				return nil, perr
			}
			out = append(out, part)
		case "input_audio":
			if cp.InputAudio == nil {
				return nil, p.invalid(pp+".input_audio", "input_audio is required")
			}
			data, err := decodeBase64(cp.InputAudio.Data)
			if err != nil || len(data) == 0 {
				return nil, p.invalid(pp+".input_audio.data", "input_audio.data must be base64")
			}
			format := strings.ToLower(cp.InputAudio.Format)
			if format == "" || strings.ContainsAny(format, "/; ") {
				return nil, p.invalid(pp+".input_audio.format", "input_audio.format is required (wav, mp3, ...)")
			}
			out = append(out, &genai.Part{InlineData: &genai.Blob{MIMEType: "audio/" + format, Data: data}})
		case "file":
			if cp.File == nil {
				return nil, p.invalid(pp+".file", "file is required")
			}
			if cp.File.FileID != "" {
				return nil, p.invalid(pp+".file.file_id", "OpenAI file ids cannot be used with Gemini; send file_data as a data: URL")
			}
			mimeType, data, perr := p.dataURL(pp+".file.file_data", cp.File.FileData)
			if perr != nil {
				return nil, perr
			}
			out = append(out, &genai.Part{InlineData: &genai.Blob{MIMEType: mimeType, Data: data}})
		default:
			return nil, p.invalid(pp+".type", fmt.Sprintf("content part type %q is not supported by the Gemini adapter", cp.Type))
		}
	}
	return out, nil
}

// imagePart turns an image_url into inline data (data: URLs) or a file
// reference (http, https and gs URLs). Gemini fetches fileData URIs
// itself: Files API URIs always work, public http(s) URLs only on models
// and accounts where Google supports fetching them; the MIME type is
// guessed from the URL's extension (image/jpeg when unknown).
func (p *Provider) imagePart(param, u string) (*genai.Part, *providers.Error) {
	if strings.HasPrefix(u, "data:") {
		mimeType, data, perr := p.dataURL(param, u)
		if perr != nil {
			return nil, perr
		}
		return &genai.Part{InlineData: &genai.Blob{MIMEType: mimeType, Data: data}}, nil
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https" && pu.Scheme != "gs") {
		return nil, p.invalid(param, "image_url.url must be a data: URL or an http(s) URL")
	}
	mimeType := mime.TypeByExtension(strings.ToLower(path.Ext(pu.Path)))
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	if !strings.HasPrefix(mimeType, "image/") {
		mimeType = "image/jpeg"
	}
	return &genai.Part{FileData: &genai.FileData{FileURI: u, MIMEType: mimeType}}, nil
}

// dataURL decodes data:<mime>;base64,<data>.
func (p *Provider) dataURL(param, u string) (string, []byte, *providers.Error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", nil, p.invalid(param, "expected a data: URL")
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return "", nil, p.invalid(param, "malformed data: URL")
	}
	mimeType, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 {
		return "", nil, p.invalid(param, "data: URL must be base64-encoded")
	}
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	if mimeType == "" || !strings.Contains(mimeType, "/") || strings.ContainsAny(mimeType, " \t") {
		return "", nil, p.invalid(param, "data: URL needs a MIME type")
	}
	data, err := decodeBase64(payload)
	if err != nil || len(data) == 0 {
		return "", nil, p.invalid(param, "data: URL payload is not valid base64")
	}
	return mimeType, data, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.URLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// Parameters lists every OpenAI chat completion parameter (as of the 2025
// API reference, plus the top_k extension some clients send) and what the
// adapter does with it.
func Parameters() []providers.Parameter {
	return []providers.Parameter{
		{Name: "model", Handling: providers.Ignored, Note: "the request's resolved model (ChatRequest.Model) names the Gemini model in the URL"},
		{Name: "messages", Handling: providers.Mapped, Note: "contents and systemInstruction (see the package doc)"},
		{Name: "stream", Handling: providers.Mapped, Note: "streamGenerateContent?alt=sse instead of generateContent"},
		{Name: "stream_options", Handling: providers.Mapped, Note: "include_usage: a final usage chunk (ChatRequest.IncludeUsage)"},
		{Name: "max_tokens", Handling: providers.Mapped, Note: "generationConfig.maxOutputTokens"},
		{Name: "max_completion_tokens", Handling: providers.Mapped, Note: "generationConfig.maxOutputTokens (wins over max_tokens)"},
		{Name: "temperature", Handling: providers.Mapped, Note: "generationConfig.temperature (0..2)"},
		{Name: "top_p", Handling: providers.Mapped, Note: "generationConfig.topP (0..1)"},
		{Name: "top_k", Handling: providers.Mapped, Note: "generationConfig.topK (non-standard extension)"},
		{Name: "n", Handling: providers.Mapped, Note: "generationConfig.candidateCount (1..8; Gemini's limit)"},
		{Name: "stop", Handling: providers.Mapped, Note: "generationConfig.stopSequences (at most 5)"},
		{Name: "seed", Handling: providers.Mapped, Note: "generationConfig.seed (32-bit)"},
		{Name: "presence_penalty", Handling: providers.Mapped, Note: "generationConfig.presencePenalty"},
		{Name: "frequency_penalty", Handling: providers.Mapped, Note: "generationConfig.frequencyPenalty"},
		{Name: "response_format", Handling: providers.Mapped, Note: "json_object: responseMimeType application/json; json_schema: also responseJsonSchema (name and strict are dropped)"},
		{Name: "tools", Handling: providers.Mapped, Note: "tools[0].functionDeclarations with parametersJsonSchema; non-function tools are rejected"},
		{Name: "tool_choice", Handling: providers.Mapped, Note: "toolConfig.functionCallingConfig: none→NONE, auto→AUTO, required→ANY, a named function→ANY+allowedFunctionNames, allowed_tools→ANY or VALIDATED+allowedFunctionNames"},
		{Name: "parallel_tool_calls", Handling: providers.Ignored, Note: "Gemini decides how many calls to make; false cannot be enforced"},
		{Name: "functions", Handling: providers.Mapped, Note: "deprecated form of tools"},
		{Name: "function_call", Handling: providers.Mapped, Note: "deprecated form of tool_choice"},
		{Name: "reasoning_effort", Handling: providers.Mapped, Note: "generationConfig.thinkingConfig.thinkingBudget (none 0, minimal/low 1024, medium 8192, high 24576) with includeThoughts"},
		{Name: "logit_bias", Handling: providers.Rejected, Note: "Gemini has no token biasing"},
		{Name: "logprobs", Handling: providers.Rejected, Note: "not translated by this adapter"},
		{Name: "top_logprobs", Handling: providers.Rejected, Note: "not translated by this adapter"},
		{Name: "modalities", Handling: providers.Rejected, Note: "only [\"text\"] is accepted; other output modalities are refused"},
		{Name: "audio", Handling: providers.Rejected, Note: "audio output is not supported"},
		{Name: "prediction", Handling: providers.Rejected, Note: "Gemini has no predicted outputs"},
		{Name: "web_search_options", Handling: providers.Rejected, Note: "Google Search grounding is not exposed through this adapter"},
		{Name: "verbosity", Handling: providers.Rejected, Note: "Gemini has no verbosity control"},
		{Name: "user", Handling: providers.Ignored, Note: "no Gemini equivalent"},
		{Name: "safety_identifier", Handling: providers.Ignored, Note: "no Gemini equivalent"},
		{Name: "prompt_cache_key", Handling: providers.Ignored, Note: "Gemini caches implicitly"},
		{Name: "metadata", Handling: providers.Ignored, Note: "OpenAI stored-completion bookkeeping"},
		{Name: "store", Handling: providers.Ignored, Note: "OpenAI stored-completion bookkeeping"},
		{Name: "service_tier", Handling: providers.Ignored, Note: "OpenAI billing tier"},
	}
}
