package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Parameters lists every OpenAI chat completion parameter the adapter reads
// and what it does with it. Parameters not listed are unknown to the adapter
// and ignored, as OpenAI-compatible servers commonly do.
func Parameters() []providers.Parameter {
	return []providers.Parameter{
		{Name: "model", Handling: providers.Mapped, Note: "the resolved upstream model (ChatRequest.Model; the body's model only when that is empty)"},
		{Name: "messages", Handling: providers.Mapped, Note: "system/developer -> top-level system; user/assistant/tool -> alternating user/assistant turns, consecutive same-role turns merged; text and image_url parts -> text and image blocks (data: URL -> base64 source, http(s) URL -> url source); assistant tool_calls -> tool_use blocks; tool messages -> tool_result blocks (placed first in their user turn, as the API requires); empty assistant turns dropped; message `name` ignored (no Anthropic equivalent); input_audio, file and other parts rejected"},
		{Name: "max_completion_tokens", Handling: providers.Mapped, Note: "max_tokens; wins over max_tokens"},
		{Name: "max_tokens", Handling: providers.Mapped, Note: "max_tokens; Options.DefaultMaxTokens (4096 when 0) when neither is given, since Anthropic requires it"},
		{Name: "temperature", Handling: providers.Mapped, Note: "only when the provider is configured with the header anthropic-version: 2023-06-01 (range 0-1). API version 2026-10-21, which the SDK speaks by default, has no sampling parameters: there it is dropped (named in X-Tiergate-Dropped)"},
		{Name: "top_p", Handling: providers.Mapped, Note: "as temperature (dropped under 2026-10-21)"},
		{Name: "top_k", Handling: providers.Mapped, Note: "not OpenAI, sent by some clients: top_k under anthropic-version 2023-06-01, rejected otherwise"},
		{Name: "stop", Handling: providers.Mapped, Note: "stop_sequences (a string or a list; empty strings dropped)"},
		{Name: "stream", Handling: providers.Mapped, Note: "chooses the streaming Messages call"},
		{Name: "stream_options", Handling: providers.Mapped, Note: "include_usage decides whether the usage chunk is sent (ChatRequest.IncludeUsage); usage is always read from the upstream"},
		{Name: "user", Handling: providers.Mapped, Note: "metadata.user_id"},
		{Name: "safety_identifier", Handling: providers.Mapped, Note: "metadata.user_id when user is absent"},
		{Name: "tools", Handling: providers.Mapped, Note: "function tools -> custom tools (name, description, parameters -> input_schema, strict); other tool types rejected"},
		{Name: "tool_choice", Handling: providers.Mapped, Note: "auto -> auto, none -> none, required -> any, {function:{name}} -> tool; other forms rejected; without tools only none is accepted"},
		{Name: "parallel_tool_calls", Handling: providers.Mapped, Note: "false -> disable_parallel_tool_use on the tool_choice (auto when none was given)"},
		{Name: "response_format", Handling: providers.Mapped, Note: "text -> nothing; json_schema -> output_config.format (structured outputs); json_object rejected: Anthropic's structured outputs need a schema"},
		{Name: "reasoning_effort", Handling: providers.Mapped, Note: "output_config.effort: low, medium, high, xhigh as named; minimal and none -> low, the lowest Anthropic effort"},
		{Name: "n", Handling: providers.Rejected, Note: "values other than 1: Anthropic returns one message per request"},
		{Name: "logprobs", Handling: providers.Rejected, Note: "true: Anthropic returns no log probabilities"},
		{Name: "top_logprobs", Handling: providers.Rejected, Note: "values above 0"},
		{Name: "logit_bias", Handling: providers.Rejected, Note: "a non-empty map: Anthropic has no token biasing"},
		{Name: "presence_penalty", Handling: providers.Ignored, Note: "dropped (named in X-Tiergate-Dropped): Anthropic has no repetition penalties"},
		{Name: "frequency_penalty", Handling: providers.Ignored, Note: "dropped (named in X-Tiergate-Dropped)"},
		{Name: "seed", Handling: providers.Ignored, Note: "dropped (named in X-Tiergate-Dropped): Anthropic has no seeded sampling"},
		{Name: "functions", Handling: providers.Rejected, Note: "legacy function calling: send tools instead"},
		{Name: "function_call", Handling: providers.Rejected, Note: "legacy function calling: send tool_choice instead"},
		{Name: "modalities", Handling: providers.Rejected, Note: "anything other than text"},
		{Name: "audio", Handling: providers.Rejected, Note: "Anthropic has no audio output"},
		{Name: "prediction", Handling: providers.Rejected, Note: "Anthropic has no predicted outputs"},
		{Name: "web_search_options", Handling: providers.Rejected, Note: "OpenAI's web search is not translated to Anthropic's server tool"},
		{Name: "verbosity", Handling: providers.Rejected, Note: "values other than medium (the default)"},
		{Name: "store", Handling: providers.Ignored, Note: "OpenAI-side storage of completions; nothing is stored at Anthropic"},
		{Name: "metadata", Handling: providers.Ignored, Note: "OpenAI's metadata only labels stored completions"},
		{Name: "service_tier", Handling: providers.Ignored, Note: "OpenAI's tiers (auto, default, flex, priority) have no Anthropic counterpart; the account's default capacity is used"},
		{Name: "prompt_cache_key", Handling: providers.Ignored, Note: "a routing hint for OpenAI's automatic cache; Anthropic caches by explicit cache_control"},
	}
}

// reqError is a 400 in OpenAI's terms, naming the parameter at fault.
func reqError(param, format string, args ...any) *providers.Error {
	return providers.BadRequestf(param, format, args...)
}

func cannotHonour(param, why string) *providers.Error {
	return providers.Unsupported("Anthropic", param, why)
}

// translate turns an OpenAI chat body into Messages API params. model is the
// resolved upstream model (may be empty to use the body's), defaultMax the
// max_tokens to send when the client gave none, legacySampling whether the
// provider speaks anthropic-version 2023-06-01 (which still has temperature,
// top_p and top_k). Every failure is a 400 *providers.Error.
func translate(body []byte, model string, defaultMax int64, legacySampling bool) (*sdk.MessageNewParams, *providers.Error) {
	var b openaiwire.ChatRequest
	if err := json.Unmarshal(body, &b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, reqError(te.Field, "invalid chat request: %s must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return nil, reqError("", "invalid chat request: %v", err)
	}
	var p sdk.MessageNewParams
	if model == "" {
		model = b.Model
	}
	if model == "" {
		return nil, reqError("model", "model is required")
	}
	p.Model = sdk.Model(model)

	if perr := checkUnsupported(&b); perr != nil {
		return nil, perr
	}
	extras, perr := sampling(&b, legacySampling)
	if perr != nil {
		return nil, perr
	}
	if len(extras) > 0 {
		p.SetExtraFields(extras)
	}

	switch {
	case b.MaxCompletionTokens != nil:
		if *b.MaxCompletionTokens < 1 {
			return nil, reqError("max_completion_tokens", "max_completion_tokens must be at least 1")
		}
		p.MaxTokens = *b.MaxCompletionTokens
	case b.MaxTokens != nil:
		if *b.MaxTokens < 1 {
			return nil, reqError("max_tokens", "max_tokens must be at least 1")
		}
		p.MaxTokens = *b.MaxTokens
	default:
		p.MaxTokens = defaultMax
	}

	stops, perr := stopSequences(b.Stop)
	if perr != nil {
		return nil, perr
	}
	p.StopSequences = stops

	switch {
	case b.User != nil && *b.User != "":
		p.Metadata.UserID = param.NewOpt(*b.User)
	case b.SafetyIdentifier != nil && *b.SafetyIdentifier != "":
		p.Metadata.UserID = param.NewOpt(*b.SafetyIdentifier)
	}

	names := map[string]bool{}
	for i, t := range b.Tools {
		tp, perr := tool(i, t)
		if perr != nil {
			return nil, perr
		}
		if names[tp.Name] {
			return nil, reqError(fmt.Sprintf("tools[%d].function.name", i), "tool names must be unique: %q appears twice", tp.Name)
		}
		names[tp.Name] = true
		p.Tools = append(p.Tools, sdk.ToolUnionParam{OfTool: tp})
	}
	tc, perr := toolChoice(b.ToolChoice, names, b.ParallelToolCalls)
	if perr != nil {
		return nil, perr
	}
	p.ToolChoice = tc

	if perr := responseFormat(b.ResponseFormat, &p); perr != nil {
		return nil, perr
	}
	if b.ReasoningEffort != nil {
		switch e := *b.ReasoningEffort; e {
		case "low", "medium", "high", "xhigh":
			p.OutputConfig.Effort = sdk.OutputConfigEffort(e)
		case "minimal", "none":
			p.OutputConfig.Effort = sdk.OutputConfigEffortLow
		default:
			return nil, reqError("reasoning_effort", "reasoning_effort must be one of none, minimal, low, medium, high, xhigh; got %q", e)
		}
	}

	system, msgs, perr := messages(b.Messages)
	if perr != nil {
		return nil, perr
	}
	p.System = system
	p.Messages = msgs
	return &p, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int64", "int", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// checkUnsupported rejects parameters Anthropic cannot honour.
func checkUnsupported(b *openaiwire.ChatRequest) *providers.Error {
	if b.N != nil && *b.N != 1 {
		if *b.N < 1 {
			return reqError("n", "n must be at least 1")
		}
		return cannotHonour("n", "the Messages API returns one message per request; send n=1 or omit it")
	}
	if b.Logprobs != nil && *b.Logprobs {
		return cannotHonour("logprobs", "the Messages API returns no log probabilities")
	}
	if b.TopLogprobs != nil && *b.TopLogprobs > 0 {
		return cannotHonour("top_logprobs", "the Messages API returns no log probabilities")
	}
	if !openaiwire.IsNull(b.LogitBias) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b.LogitBias, &m); err != nil {
			return reqError("logit_bias", "logit_bias must be an object")
		}
		if len(m) > 0 {
			return cannotHonour("logit_bias", "the Messages API has no token biasing")
		}
	}
	if !openaiwire.IsNull(b.Functions) {
		return reqError("functions", "legacy functions are not translated for Anthropic: send tools instead")
	}
	if !openaiwire.IsNull(b.FunctionCall) {
		return reqError("function_call", "legacy function_call is not translated for Anthropic: send tool_choice instead")
	}
	for _, m := range b.Modalities {
		if m != "text" {
			return cannotHonour("modalities", fmt.Sprintf("the Messages API answers with text only, not %q", m))
		}
	}
	for _, o := range []struct {
		raw        json.RawMessage
		param, why string
	}{
		{b.Audio, "audio", "the Messages API has no audio output"},
		{b.Prediction, "prediction", "the Messages API has no predicted outputs"},
		{b.WebSearchOptions, "web_search_options", "OpenAI's web search is not translated to Anthropic's web search tool"},
	} {
		if !openaiwire.IsNull(o.raw) {
			return cannotHonour(o.param, o.why)
		}
	}
	if b.Verbosity != nil && *b.Verbosity != "medium" {
		return cannotHonour("verbosity", "the Messages API has no verbosity control")
	}
	return nil
}

// sampling handles temperature, top_p and top_k, which API version
// 2026-10-21 removed (it answers 400 "Extra inputs are not permitted" even
// for default values) and 2023-06-01 still accepts.
func sampling(b *openaiwire.ChatRequest, legacy bool) (map[string]any, *providers.Error) {
	extras := map[string]any{}
	if err := unitSampling(extras, "temperature", b.Temperature, legacy, "Anthropic accepts temperature between 0 and 1, got %v"); err != nil {
		return nil, err
	}
	if err := unitSampling(extras, "top_p", b.TopP, legacy, "top_p must be between 0 and 1, got %v"); err != nil {
		return nil, err
	}
	if b.TopK != nil {
		switch {
		case legacy && *b.TopK < 1:
			return nil, reqError("top_k", "top_k must be at least 1")
		case legacy:
			extras["top_k"] = *b.TopK
		default:
			return nil, cannotHonour("top_k", noSampling)
		}
	}
	return extras, nil
}

// noSampling says why a sampling parameter cannot be honoured.
const noSampling = "Anthropic API version 2026-10-21 has no sampling parameters (configure the header anthropic-version: 2023-06-01 for this provider to use them)"

// unitSampling carries a sampling parameter that ranges over [0, 1] and
// defaults to 1 (temperature, top_p): under the legacy API version it is
// range-checked and sent; otherwise it is dropped.
func unitSampling(extras map[string]any, name string, v *float64, legacy bool, rangeMsg string) *providers.Error {
	if v == nil {
		return nil
	}
	switch {
	case legacy && (*v < 0 || *v > 1):
		return reqError(name, rangeMsg, *v)
	case legacy:
		extras[name] = *v
	}
	// Otherwise a sampling hint the API version lacks: dropped (the
	// gateway says so in X-Tiergate-Dropped).
	return nil
}

func stopSequences(raw json.RawMessage) ([]string, *providers.Error) {
	if openaiwire.IsNull(raw) {
		return nil, nil
	}
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, reqError("stop", "stop must be a string or a list of strings")
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func tool(i int, t openaiwire.Tool) (*sdk.ToolParam, *providers.Error) {
	at := func(field string) string { return fmt.Sprintf("tools[%d]%s", i, field) }
	if t.Type != "" && t.Type != "function" {
		return nil, cannotHonour(at(".type"), fmt.Sprintf("only function tools are translated, not %q", t.Type))
	}
	if t.Function == nil || t.Function.Name == "" {
		return nil, reqError(at(".function.name"), "%s is required", at(".function.name"))
	}
	tp := &sdk.ToolParam{Name: t.Function.Name}
	if t.Function.Description != "" {
		tp.Description = param.NewOpt(t.Function.Description)
	}
	if t.Function.Strict != nil {
		tp.Strict = param.NewOpt(*t.Function.Strict)
	}
	// The schema goes out as the client wrote it (with type "object"
	// added when absent), not through the SDK's schema struct, so that
	// every keyword survives untouched.
	schema := map[string]json.RawMessage{"properties": json.RawMessage(`{}`)}
	if !openaiwire.IsNull(t.Function.Parameters) {
		if err := json.Unmarshal(t.Function.Parameters, &schema); err != nil || schema == nil {
			return nil, reqError(at(".function.parameters"), "%s must be a JSON Schema object", at(".function.parameters"))
		}
		if typ, ok := schema["type"]; ok {
			var s string
			if json.Unmarshal(typ, &s) != nil || s != "object" {
				return nil, reqError(at(".function.parameters.type"), "Anthropic tool input schemas must have type \"object\"")
			}
		}
	}
	schema["type"] = json.RawMessage(`"object"`)
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, reqError(at(".function.parameters"), "%s must be a JSON Schema object", at(".function.parameters"))
	}
	tp.InputSchema = param.Override[sdk.ToolInputSchemaParam](json.RawMessage(raw))
	return tp, nil
}

func toolChoice(raw json.RawMessage, tools map[string]bool, parallel *bool) (sdk.ToolChoiceUnionParam, *providers.Error) {
	var tc sdk.ToolChoiceUnionParam
	disable := param.Opt[bool]{}
	if parallel != nil && !*parallel {
		disable = param.NewOpt(true)
	}
	if openaiwire.IsNull(raw) {
		if len(tools) > 0 && disable.Valid() {
			tc.OfAuto = &sdk.ToolChoiceAutoParam{DisableParallelToolUse: disable}
		}
		return tc, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch s {
		case "none":
			if len(tools) > 0 {
				tc.OfNone = &sdk.ToolChoiceNoneParam{}
			}
			return tc, nil
		case "auto":
			tc.OfAuto = &sdk.ToolChoiceAutoParam{DisableParallelToolUse: disable}
		case "required":
			tc.OfAny = &sdk.ToolChoiceAnyParam{DisableParallelToolUse: disable}
		default:
			return tc, reqError("tool_choice", "tool_choice must be none, auto, required or a function; got %q", s)
		}
	} else {
		var o struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(raw, &o); err != nil || o.Type != "function" || o.Function.Name == "" {
			return tc, reqError("tool_choice", "tool_choice must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":...}}")
		}
		if !tools[o.Function.Name] {
			return tc, reqError("tool_choice", "tool_choice names %q, which is not among the tools", o.Function.Name)
		}
		tc.OfTool = &sdk.ToolChoiceToolParam{Name: o.Function.Name, DisableParallelToolUse: disable}
	}
	if len(tools) == 0 {
		return sdk.ToolChoiceUnionParam{}, reqError("tool_choice", "tool_choice is only allowed when tools are given")
	}
	return tc, nil
}

func responseFormat(raw json.RawMessage, p *sdk.MessageNewParams) *providers.Error {
	if openaiwire.IsNull(raw) {
		return nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return reqError("response_format", "response_format must be an object with a type")
	}
	switch rf.Type {
	case "text":
		return nil
	case "json_object":
		return cannotHonour("response_format", "Anthropic's structured outputs need a JSON schema: send response_format type json_schema")
	case "json_schema":
		if rf.JSONSchema == nil || openaiwire.IsNull(rf.JSONSchema.Schema) {
			return reqError("response_format.json_schema.schema", "response_format json_schema needs a schema")
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rf.JSONSchema.Schema, &m); err != nil {
			return reqError("response_format.json_schema.schema", "the schema must be a JSON object")
		}
		schema := make(map[string]any, len(m))
		for k, v := range m {
			schema[k] = v
		}
		p.OutputConfig.Format = sdk.JSONOutputFormatParam{Schema: schema}
		return nil
	default:
		return reqError("response_format", "response_format type must be text, json_object or json_schema; got %q", rf.Type)
	}
}

// turn is one Anthropic message being built. A user turn keeps its
// tool_result blocks apart, because the API wants them first.
type turn struct {
	role    string
	results []sdk.ContentBlockParamUnion
	blocks  []sdk.ContentBlockParamUnion
}

func messages(in []openaiwire.Message) ([]sdk.TextBlockParam, []sdk.MessageParam, *providers.Error) {
	var system []sdk.TextBlockParam
	var turns []*turn
	add := func(role string) *turn {
		if n := len(turns); n > 0 && turns[n-1].role == role {
			return turns[n-1]
		}
		t := &turn{role: role}
		turns = append(turns, t)
		return t
	}
	for i, m := range in {
		at := func(field string) string { return fmt.Sprintf("messages[%d]%s", i, field) }
		if m.FunctionCall != nil {
			return nil, nil, reqError(at(".function_call"), "legacy function_call messages are not translated for Anthropic: send tool_calls instead")
		}
		switch m.Role {
		case "system", "developer":
			texts, perr := textParts(m.Content, at(".content"), false)
			if perr != nil {
				return nil, nil, perr
			}
			for _, t := range texts {
				system = append(system, sdk.TextBlockParam{Text: t})
			}
		case "user":
			blocks, perr := userContent(m.Content, at(".content"))
			if perr != nil {
				return nil, nil, perr
			}
			if len(blocks) == 0 {
				return nil, nil, reqError(at(".content"), "%s is empty: Anthropic needs non-empty message content", at(".content"))
			}
			t := add("user")
			t.blocks = append(t.blocks, blocks...)
		case "assistant":
			texts, perr := textParts(m.Content, at(".content"), true)
			if perr != nil {
				return nil, nil, perr
			}
			var blocks []sdk.ContentBlockParamUnion
			for _, s := range texts {
				blocks = append(blocks, sdk.NewTextBlock(s))
			}
			for j, c := range m.ToolCalls {
				b, perr := toolUse(c, fmt.Sprintf("messages[%d].tool_calls[%d]", i, j))
				if perr != nil {
					return nil, nil, perr
				}
				blocks = append(blocks, b)
			}
			if len(blocks) == 0 {
				continue // an empty assistant turn carries nothing; the API rejects empty content
			}
			t := add("assistant")
			t.blocks = append(t.blocks, blocks...)
		case "tool":
			if m.ToolCallID == "" {
				return nil, nil, reqError(at(".tool_call_id"), "%s is required for tool messages", at(".tool_call_id"))
			}
			texts, perr := textParts(m.Content, at(".content"), false)
			if perr != nil {
				return nil, nil, perr
			}
			r := &sdk.ToolResultBlockParam{ToolUseID: m.ToolCallID}
			for _, s := range texts {
				r.Content = append(r.Content, sdk.ToolResultBlockParamContentUnion{OfText: &sdk.TextBlockParam{Text: s}})
			}
			t := add("user")
			t.results = append(t.results, sdk.ContentBlockParamUnion{OfToolResult: r})
		case "":
			return nil, nil, reqError(at(".role"), "%s is required", at(".role"))
		default:
			return nil, nil, reqError(at(".role"), "unknown role %q", m.Role)
		}
	}
	if len(turns) == 0 {
		return nil, nil, reqError("messages", "messages must contain at least one user or assistant message")
	}
	out := make([]sdk.MessageParam, 0, len(turns))
	for _, t := range turns {
		blocks := append(t.results, t.blocks...)
		if t.role == "user" {
			out = append(out, sdk.NewUserMessage(blocks...))
		} else {
			out = append(out, sdk.NewAssistantMessage(blocks...))
		}
	}
	return system, out, nil
}

// blank reports text the API refuses as a block ("text content blocks must
// contain non-whitespace text"); it carries nothing, so it is dropped.
// content reads a message's content; a blank string gives nothing.
func content(raw json.RawMessage, at string) (*string, []openaiwire.ContentPart, *providers.Error) {
	s, parts, ok := openaiwire.ParseContent(raw)
	if !ok {
		return nil, nil, reqError(at, "%s must be a string or a list of content parts", at)
	}
	if s != nil && blank(*s) {
		return nil, nil, nil
	}
	return s, parts, nil
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// textParts reads content that may only hold text: a string, or text parts
// (and refusal parts, dropped, when allowRefusal). Blank texts are dropped.
func textParts(raw json.RawMessage, at string, allowRefusal bool) ([]string, *providers.Error) {
	s, parts, perr := content(raw, at)
	if perr != nil {
		return nil, perr
	}
	if s != nil {
		return []string{*s}, nil
	}
	var out []string
	for j, pt := range parts {
		switch {
		case pt.Type == "text":
			if !blank(pt.TextValue()) {
				out = append(out, pt.TextValue())
			}
		case pt.Type == "refusal" && allowRefusal:
		default:
			return nil, cannotHonour(fmt.Sprintf("%s[%d].type", at, j), fmt.Sprintf("%q parts are not accepted here; only text", pt.Type))
		}
	}
	return out, nil
}

func userContent(raw json.RawMessage, at string) ([]sdk.ContentBlockParamUnion, *providers.Error) {
	s, parts, perr := content(raw, at)
	if perr != nil {
		return nil, perr
	}
	if s != nil {
		return []sdk.ContentBlockParamUnion{sdk.NewTextBlock(*s)}, nil
	}
	var out []sdk.ContentBlockParamUnion
	for j, pt := range parts {
		pat := fmt.Sprintf("%s[%d]", at, j)
		switch pt.Type {
		case "text":
			if !blank(pt.TextValue()) {
				out = append(out, sdk.NewTextBlock(pt.TextValue()))
			}
		case "image_url":
			if pt.ImageURL == nil {
				return nil, reqError(pat+".image_url.url", "%s.image_url.url is required", pat)
			}
			img, perr := image(pt.ImageURL.URL, pat+".image_url.url")
			if perr != nil {
				return nil, perr
			}
			out = append(out, sdk.ContentBlockParamUnion{OfImage: img})
		default:
			return nil, cannotHonour(pat+".type", fmt.Sprintf("%q content parts are not translated; only text and image_url", pt.Type))
		}
	}
	return out, nil
}

var imageTypes = [...]string{"image/jpeg", "image/png", "image/gif", "image/webp"}

func image(u, at string) (*sdk.ImageBlockParam, *providers.Error) {
	switch {
	case strings.HasPrefix(u, "data:"):
		meta, data, ok := strings.Cut(u[len("data:"):], ",")
		if !ok || data == "" {
			return nil, reqError(at, "%s is not a valid data URL", at)
		}
		mediaType, enc, _ := strings.Cut(meta, ";")
		if enc != "base64" {
			return nil, reqError(at, "%s: only base64 data URLs are accepted", at)
		}
		known := false
		for _, t := range imageTypes {
			known = known || mediaType == t
		}
		if !known {
			return nil, cannotHonour(at, fmt.Sprintf("image media type %q is not one of image/jpeg, image/png, image/gif, image/webp", mediaType))
		}
		return &sdk.ImageBlockParam{Source: sdk.ImageBlockParamSourceUnion{OfBase64: &sdk.Base64ImageSourceParam{
			Data: data, MediaType: sdk.Base64ImageSourceMediaType(mediaType)}}}, nil
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"):
		return &sdk.ImageBlockParam{Source: sdk.ImageBlockParamSourceUnion{OfURL: &sdk.URLImageSourceParam{URL: u}}}, nil
	default:
		return nil, reqError(at, "%s must be a data: URL or an http(s) URL", at)
	}
}

func toolUse(c openaiwire.ToolCall, at string) (sdk.ContentBlockParamUnion, *providers.Error) {
	if c.Type != "" && c.Type != "function" {
		return sdk.ContentBlockParamUnion{}, cannotHonour(at+".type", fmt.Sprintf("only function tool calls are translated, not %q", c.Type))
	}
	if c.ID == "" {
		return sdk.ContentBlockParamUnion{}, reqError(at+".id", "%s.id is required", at)
	}
	if c.Function.Name == "" {
		return sdk.ContentBlockParamUnion{}, reqError(at+".function.name", "%s.function.name is required", at)
	}
	args := strings.TrimSpace(c.Function.Arguments)
	if args == "" {
		args = "{}"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(args), &obj); err != nil || obj == nil {
		return sdk.ContentBlockParamUnion{}, reqError(at+".function.arguments", "%s.function.arguments must be a JSON object", at)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(args)); err != nil {
		return sdk.ContentBlockParamUnion{}, reqError(at+".function.arguments", "%s.function.arguments must be a JSON object", at)
	}
	return sdk.ContentBlockParamUnion{OfToolUse: &sdk.ToolUseBlockParam{ID: c.ID, Name: c.Function.Name, Input: json.RawMessage(buf.Bytes())}}, nil
}
