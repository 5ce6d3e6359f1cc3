package responses

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// chatBody is the translated chat request: openaiwire's ChatRequest and
// tiergate's own route object, which routing reads.
type chatBody struct {
	openaiwire.ChatRequest
	Route json.RawMessage `json:"route,omitempty"`
}

// stateless is the answer to what needs a stored response or conversation.
const stateless = " tiergate is a stateless gateway: it stores no responses or conversations, and routes each request to any backend. Send the whole conversation in input (the earlier turns' messages, function_call and function_call_output items) instead."

func bad(param, format string, args ...any) *providers.Error {
	return providers.BadRequestf(param, format, args...)
}

// ToChat implements inbound.API: it translates a Responses request into
// an OpenAI chat completion body (see the package doc).
func (API) ToChat(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bad("", "the request body is empty: send a JSON object")
	}
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, bad("", "the request body is not a valid Responses request: %s", jsonError(err))
	}
	switch {
	case r.PreviousResponseID != nil && *r.PreviousResponseID != "":
		return nil, bad("previous_response_id", "previous_response_id is not supported:"+stateless)
	case !openaiwire.IsNull(r.Conversation):
		return nil, bad("conversation", "conversation is not supported:"+stateless)
	case r.Background != nil && *r.Background:
		return nil, bad("background", "background responses are not supported: they are stored to be polled later, and"+stateless)
	case !openaiwire.IsNull(r.Prompt):
		return nil, bad("prompt", "prompt (a prompt template stored at OpenAI) is not supported:"+stateless+" Put the prompt's text in instructions and input.")
	}
	var out chatBody
	c := &out.ChatRequest
	c.Model = r.Model
	out.Route = r.Route
	if r.Instructions != nil && *r.Instructions != "" {
		c.Messages = append(c.Messages, openaiwire.Message{Role: "system", Content: quote(*r.Instructions)})
	}
	msgs, err := inputMessages(r.Input)
	if err != nil {
		return nil, err
	}
	c.Messages = append(c.Messages, msgs...)
	if len(c.Messages) == 0 {
		return nil, bad("input", "input is empty: send a string or a list of input items")
	}
	for i, t := range r.Tools {
		if t.Type != "function" {
			return nil, bad(fmt.Sprintf("tools[%d]", i), "tools[%d] is OpenAI's built-in %s tool, which runs inside OpenAI's Responses service: tiergate routes the request to any backend and serves function tools only. Declare the capability as a function tool and run it yourself.", i, strconv.Quote(t.Type))
		}
		if t.Name == "" {
			return nil, bad(fmt.Sprintf("tools[%d].name", i), "tools[%d] is a function tool without a name", i)
		}
		c.Tools = append(c.Tools, openaiwire.Tool{Type: "function", Function: &openaiwire.FunctionDef{
			Name: t.Name, Description: t.Description, Parameters: nullToNil(t.Parameters), Strict: t.Strict}})
	}
	if c.ToolChoice, err = toolChoice(r.ToolChoice); err != nil {
		return nil, err
	}
	if r.Text != nil {
		if c.ResponseFormat, err = responseFormat(r.Text.Format); err != nil {
			return nil, err
		}
		c.Verbosity = r.Text.Verbosity
	}
	if r.Reasoning != nil {
		c.ReasoningEffort = r.Reasoning.Effort
	}
	if r.MaxOutputTokens != nil {
		// Reasoning models take only max_completion_tokens; every other
		// backend and OpenAI-compatible server reads max_tokens.
		if c.ReasoningEffort != nil {
			c.MaxCompletionTokens = r.MaxOutputTokens
		} else {
			c.MaxTokens = r.MaxOutputTokens
		}
	}
	c.Temperature, c.TopP, c.ParallelToolCalls = r.Temperature, r.TopP, r.ParallelToolCalls
	c.User, c.SafetyIdentifier, c.PromptCacheKey, c.ServiceTier = r.User, r.SafetyIdentifier, r.PromptCacheKey, r.ServiceTier
	if r.Stream != nil && *r.Stream {
		c.Stream = r.Stream
		c.StreamOptions = &openaiwire.StreamOptions{IncludeUsage: openaiwire.Ptr(true)}
	}
	return openaiwire.Marshal(&out)
}

// jsonError is a decoding error in the client's terms.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + " must be " + jsonKind(te.Type.Kind().String()) + ", not a JSON " + te.Value
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}

func quote(s string) json.RawMessage { return openaiwire.MustMarshal(s) }

func nullToNil(raw json.RawMessage) json.RawMessage {
	if openaiwire.IsNull(raw) {
		return nil
	}
	return raw
}

// inputMessages translates input: a string (one user message) or a list
// of items.
func inputMessages(raw json.RawMessage) ([]openaiwire.Message, error) {
	if openaiwire.IsNull(raw) {
		return nil, bad("input", "input is missing: send a string or a list of input items")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []openaiwire.Message{{Role: "user", Content: quote(s)}}, nil
	}
	var items []InputItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, bad("input", "input must be a string or a list of input items: %s", jsonError(err))
	}
	var out []openaiwire.Message
	for i, it := range items {
		param := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "", typeMessage:
			m, err := message(param, it)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case typeFunctionCall:
			if it.CallID == "" || it.Name == "" {
				return nil, bad(param, "%s is a function_call without its call_id and name", param)
			}
			call := openaiwire.ToolCall{ID: it.CallID, Type: "function", Function: openaiwire.FunctionCall{Name: it.Name, Arguments: it.Arguments}}
			// Calls the model made together are one assistant turn.
			if n := len(out); n > 0 && out[n-1].Role == "assistant" && len(out[n-1].ToolCalls) > 0 {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, call)
				continue
			}
			out = append(out, openaiwire.Message{Role: "assistant", Content: json.RawMessage("null"), ToolCalls: []openaiwire.ToolCall{call}})
		case "function_call_output":
			if it.CallID == "" {
				return nil, bad(param+".call_id", "%s is a function_call_output without the call_id of the call it answers", param)
			}
			text, err := toolOutput(param+".output", it.Output)
			if err != nil {
				return nil, err
			}
			out = append(out, openaiwire.Message{Role: "tool", ToolCallID: it.CallID, Content: quote(text)})
		case "reasoning":
			// A reasoning item belongs to the model that wrote it; another
			// backend cannot read it, so it is left out.
		case "item_reference":
			return nil, bad(param, "%s is an item_reference, which points at a stored item:"+stateless, param)
		default:
			return nil, bad(param+".type", "%s is a %s item, which the gateway does not translate: it serves message, function_call, function_call_output and reasoning items", param, strconv.Quote(it.Type))
		}
	}
	return out, nil
}

// message translates a message item.
func message(param string, it InputItem) (openaiwire.Message, error) {
	role := it.Role
	switch role {
	case "user", "assistant", "system":
	case "developer":
		// Every backend knows system; OpenAI treats the two alike.
		role = "system"
	case "":
		return openaiwire.Message{}, bad(param+".role", "%s is a message without a role (user, assistant, system or developer)", param)
	default:
		return openaiwire.Message{}, bad(param+".role", "%s has the role %s: a message's role is user, assistant, system or developer", param, strconv.Quote(role))
	}
	var s string
	if json.Unmarshal(it.Content, &s) == nil {
		return openaiwire.Message{Role: role, Content: quote(s)}, nil
	}
	var parts []InputPart
	if err := json.Unmarshal(it.Content, &parts); err != nil || parts == nil {
		return openaiwire.Message{}, bad(param+".content", "%s.content must be a string or a list of content parts", param)
	}
	var chat []openaiwire.ContentPart
	var text strings.Builder
	var refusal *string
	textOnly := true
	for j, p := range parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch p.Type {
		case "input_text", typeOutputText:
			if role != "assistant" && p.Type == typeOutputText {
				return openaiwire.Message{}, bad(pp+".type", "%s is output_text, which only assistant messages hold; a %s message's text is input_text", pp, role)
			}
			t := p.Text
			chat = append(chat, openaiwire.ContentPart{Type: "text", Text: &t})
			if text.Len() > 0 && role == "system" {
				text.WriteByte('\n')
			}
			text.WriteString(p.Text)
		case typeRefusal:
			r := p.Refusal
			refusal = &r
		case "input_image":
			if role != "user" {
				return openaiwire.Message{}, bad(pp, "%s is an image in a %s message: images go in user messages", pp, role)
			}
			if p.ImageURL == nil || *p.ImageURL == "" {
				if p.FileID != nil {
					return openaiwire.Message{}, bad(pp+".file_id", "%s refers to an image by file_id, a file stored at OpenAI that the gateway's other backends cannot read: send it as image_url (an https URL or a data: URL)", pp)
				}
				return openaiwire.Message{}, bad(pp+".image_url", "%s is an input_image without image_url", pp)
			}
			iu := &openaiwire.ImageURL{URL: *p.ImageURL}
			if p.Detail != "" && p.Detail != "auto" {
				iu.Detail = p.Detail
			}
			chat = append(chat, openaiwire.ContentPart{Type: "image_url", ImageURL: iu})
			textOnly = false
		case "input_file":
			if p.FileData == nil || *p.FileData == "" {
				return openaiwire.Message{}, bad(pp, "%s refers to a file by file_id or file_url, which the gateway does not fetch: send the file inline as file_data (a data: URL) with its filename", pp)
			}
			chat = append(chat, openaiwire.ContentPart{Type: "file", File: &openaiwire.File{FileData: *p.FileData, Filename: p.Filename}})
			textOnly = false
		default:
			return openaiwire.Message{}, bad(pp+".type", "%s has the type %s: the gateway translates input_text, input_image, input_file and, in assistant turns, output_text and refusal", pp, strconv.Quote(p.Type))
		}
	}
	m := openaiwire.Message{Role: role, Refusal: refusal}
	switch {
	case !textOnly:
		m.Content = openaiwire.MustMarshal(chat)
	case role == "user" && len(chat) > 1:
		m.Content = openaiwire.MustMarshal(chat)
	case refusal != nil && text.Len() == 0:
		m.Content = json.RawMessage("null")
	default:
		m.Content = quote(text.String())
	}
	return m, nil
}

// toolOutput is a function_call_output's output as the tool message's
// text: a string, or the text of a list of input_text parts.
func toolOutput(param string, raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []InputPart
	if json.Unmarshal(raw, &parts) != nil || parts == nil {
		return "", bad(param, "%s must be a string or a list of input_text parts", param)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "input_text" {
			return "", bad(fmt.Sprintf("%s[%d]", param, j), "%s[%d] is %s: a function's output reaches every backend as text only (input_text)", param, j, strconv.Quote(p.Type))
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// toolChoice translates tool_choice: auto, none and required as they are,
// a function by name into chat's nested form.
func toolChoice(raw json.RawMessage) (json.RawMessage, error) {
	if openaiwire.IsNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none", "required":
			return quote(s), nil
		}
		return nil, bad("tool_choice", "tool_choice %s is not one of auto, none and required", strconv.Quote(s))
	}
	var o struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return nil, bad("tool_choice", "tool_choice must be auto, none, required or {\"type\":\"function\",\"name\":...}")
	}
	if o.Type != "function" || o.Name == "" {
		return nil, bad("tool_choice", "tool_choice of type %s is not supported: the gateway serves function tools only; choose one with {\"type\":\"function\",\"name\":...}", strconv.Quote(o.Type))
	}
	type named struct {
		Name string `json:"name"`
	}
	return openaiwire.MustMarshal(struct {
		Type     string `json:"type"`
		Function named  `json:"function"`
	}{"function", named{o.Name}}), nil
}

// responseFormat translates text.format into response_format.
func responseFormat(f *TextFormat) (json.RawMessage, error) {
	if f == nil {
		return nil, nil
	}
	switch f.Type {
	case "text", "":
		return nil, nil
	case "json_object":
		return openaiwire.MustMarshal(openaiwire.ResponseFormat{Type: "json_object"}), nil
	case "json_schema":
		if f.Name == "" || openaiwire.IsNull(f.Schema) {
			return nil, bad("text.format", "text.format json_schema needs a name and a schema")
		}
		return openaiwire.MustMarshal(openaiwire.ResponseFormat{Type: "json_schema",
			JSONSchema: &openaiwire.JSONSchema{Name: f.Name, Schema: f.Schema, Strict: f.Strict}}), nil
	}
	return nil, bad("text.format.type", "text.format type %s is not one of text, json_object and json_schema", strconv.Quote(f.Type))
}
