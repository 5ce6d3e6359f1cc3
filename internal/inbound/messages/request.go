package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

func bad(param, format string, args ...any) *providers.Error {
	return providers.BadRequestf(param, format, args...)
}

// ParseRequest decodes a Messages request body and checks the fields
// the API requires. Every failure is a 400 *providers.Error.
func ParseRequest(body []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, bad(te.Field, "%s: invalid type (JSON %s)", te.Field, te.Value)
		}
		return nil, bad("", "There was an error parsing the body of your request, please check that your request is valid JSON: %v", err)
	}
	switch {
	case r.Model == "":
		return nil, bad("model", "model: Field required")
	case r.Messages == nil:
		return nil, bad("messages", "messages: Field required")
	}
	return &r, nil
}

// toChat translates a Messages request into an OpenAI chat completion
// request; model is the model to name.
func toChat(r *Request, model string) (*openaiwire.ChatRequest, error) {
	if r.MaxTokens == nil {
		return nil, bad("max_tokens", "max_tokens: Field required")
	}
	if *r.MaxTokens < 1 {
		return nil, bad("max_tokens", "max_tokens: Input should be greater than or equal to 1")
	}
	if !openaiwire.IsNull(r.MCPServers) {
		return nil, bad("mcp_servers", "mcp_servers: MCP servers run only on Anthropic's backends; this request was routed to another")
	}
	if !openaiwire.IsNull(r.Container) {
		return nil, bad("container", "container: code-execution containers run only on Anthropic's backends; this request was routed to another")
	}
	c := &openaiwire.ChatRequest{Model: model, MaxTokens: r.MaxTokens, Temperature: r.Temperature, TopP: r.TopP}
	if r.Stream {
		c.Stream = openaiwire.Ptr(true)
		c.StreamOptions = &openaiwire.StreamOptions{IncludeUsage: openaiwire.Ptr(true)}
	}
	if len(r.StopSequences) > 0 {
		c.Stop, _ = json.Marshal(r.StopSequences)
	}
	if r.Metadata != nil && r.Metadata.UserID != nil && *r.Metadata.UserID != "" {
		c.User = r.Metadata.UserID
	}
	sys, err := system(r.System)
	if err != nil {
		return nil, err
	}
	if sys != "" {
		c.Messages = append(c.Messages, openaiwire.Message{Role: "system", Content: quote(sys)})
	}
	for i, m := range r.Messages {
		if c.Messages, err = message(c.Messages, m, i); err != nil {
			return nil, err
		}
	}
	if len(c.Messages) == 0 || len(c.Messages) == 1 && sys != "" {
		return nil, bad("messages", "messages: at least one message with content is required")
	}
	for i, t := range r.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, bad(fmt.Sprintf("tools.%d.type", i), "tools.%d: Anthropic's %q tool runs only on Anthropic's backends; this request was routed to another", i, t.Type)
		}
		if t.Name == "" {
			return nil, bad(fmt.Sprintf("tools.%d.name", i), "tools.%d.name: Field required", i)
		}
		schema := t.InputSchema
		if openaiwire.IsNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		c.Tools = append(c.Tools, openaiwire.Tool{Type: "function", Function: &openaiwire.FunctionDef{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	if tc := r.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			c.ToolChoice = quote("auto")
		case "any":
			c.ToolChoice = quote("required")
		case "none":
			c.ToolChoice = quote("none")
		case "tool":
			if tc.Name == "" {
				return nil, bad("tool_choice.name", "tool_choice.name: Field required")
			}
			c.ToolChoice = openaiwire.MustMarshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
		default:
			return nil, bad("tool_choice.type", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
		}
		if tc.DisableParallelToolUse && len(r.Tools) > 0 {
			c.ParallelToolCalls = openaiwire.Ptr(false)
		}
		if len(r.Tools) == 0 {
			c.ToolChoice = nil
		}
	}
	return c, nil
}

func quote(s string) json.RawMessage { return openaiwire.MustMarshal(s) }

// system reads system: a string or a list of text blocks.
func system(raw json.RawMessage) (string, error) {
	if openaiwire.IsNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []Block
	if json.Unmarshal(raw, &blocks) != nil {
		return "", bad("system", "system: Input should be a valid string or a list of text blocks")
	}
	var texts []string
	for i, b := range blocks {
		if b.Type != "text" {
			return "", bad(fmt.Sprintf("system.%d.type", i), "system.%d: only text blocks are accepted, not %q", i, b.Type)
		}
		if b.Text != nil && *b.Text != "" {
			texts = append(texts, *b.Text)
		}
	}
	return strings.Join(texts, "\n\n"), nil
}

// blocks reads a message's content: a string is one text block.
func blocks(raw json.RawMessage, at string) ([]Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []Block{{Type: "text", Text: &s}}, nil
	}
	var bs []Block
	if openaiwire.IsNull(raw) || json.Unmarshal(raw, &bs) != nil {
		return nil, bad(at, "%s: Input should be a valid string or a list of content blocks", at)
	}
	return bs, nil
}

// message appends the chat messages of one Messages message to out.
func message(out []openaiwire.Message, m Message, i int) ([]openaiwire.Message, error) {
	at := fmt.Sprintf("messages.%d", i)
	bs, err := blocks(m.Content, at+".content")
	if err != nil {
		return nil, err
	}
	switch m.Role {
	case "user":
		return userMessage(out, bs, at)
	case "assistant":
		return assistantMessage(out, bs, at)
	default:
		return nil, bad(at+".role", "%s.role: Input should be 'user' or 'assistant'", at)
	}
}

// userMessage: tool results become tool messages, which must follow the
// assistant's calls at once; the rest becomes one user message after them.
func userMessage(out []openaiwire.Message, bs []Block, at string) ([]openaiwire.Message, error) {
	var parts, resultImages []openaiwire.ContentPart
	for j, b := range bs {
		bat := fmt.Sprintf("%s.content.%d", at, j)
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				parts = append(parts, openaiwire.ContentPart{Type: "text", Text: b.Text})
			}
		case "image":
			p, err := imagePart(b.Source, bat)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		case "tool_result":
			if b.ToolUseID == "" {
				return nil, bad(bat+".tool_use_id", "%s.tool_use_id: Field required", bat)
			}
			text, images, err := toolResult(b.Content, bat+".content")
			if err != nil {
				return nil, err
			}
			if b.IsError {
				text = "Error: " + text
			}
			out = append(out, openaiwire.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: quote(text)})
			resultImages = append(resultImages, images...)
		case "thinking", "redacted_thinking":
			// Chat completions take no reasoning as input: dropped.
		default:
			return nil, unsupportedBlock(b.Type, bat)
		}
	}
	parts = append(resultImages, parts...)
	if len(parts) == 0 {
		return out, nil
	}
	return append(out, openaiwire.Message{Role: "user", Content: content(parts)}), nil
}

// content is a string for a lone text part, the parts otherwise.
func content(parts []openaiwire.ContentPart) json.RawMessage {
	if len(parts) == 1 && parts[0].Type == "text" {
		return quote(*parts[0].Text)
	}
	return openaiwire.MustMarshal(parts)
}

func assistantMessage(out []openaiwire.Message, bs []Block, at string) ([]openaiwire.Message, error) {
	var text strings.Builder
	var calls []openaiwire.ToolCall
	for j, b := range bs {
		bat := fmt.Sprintf("%s.content.%d", at, j)
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
			}
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, bad(bat, "%s: tool_use blocks need an id and a name", bat)
			}
			args := "{}"
			if !openaiwire.IsNull(b.Input) {
				var buf bytes.Buffer
				if json.Compact(&buf, b.Input) != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
					return nil, bad(bat+".input", "%s.input: Input should be an object", bat)
				}
				args = buf.String()
			}
			calls = append(calls, openaiwire.ToolCall{ID: b.ID, Type: "function", Function: openaiwire.FunctionCall{Name: b.Name, Arguments: args}})
		case "thinking", "redacted_thinking":
			// Dropped: chat completions take no reasoning as input.
		default:
			return nil, unsupportedBlock(b.Type, bat)
		}
	}
	if text.Len() == 0 && len(calls) == 0 {
		return out, nil
	}
	msg := openaiwire.Message{Role: "assistant", ToolCalls: calls, Content: json.RawMessage("null")}
	if text.Len() > 0 {
		msg.Content = quote(text.String())
	}
	return append(out, msg), nil
}

// toolResult reads a tool_result's content: its text, and its images
// (which a tool message cannot carry).
func toolResult(raw json.RawMessage, at string) (string, []openaiwire.ContentPart, error) {
	if openaiwire.IsNull(raw) {
		return "", nil, nil
	}
	bs, err := blocks(raw, at)
	if err != nil {
		return "", nil, err
	}
	var texts []string
	var images []openaiwire.ContentPart
	for j, b := range bs {
		bat := fmt.Sprintf("%s.%d", at, j)
		switch b.Type {
		case "text":
			if b.Text != nil {
				texts = append(texts, *b.Text)
			}
		case "image":
			p, err := imagePart(b.Source, bat)
			if err != nil {
				return "", nil, err
			}
			images = append(images, p)
		default:
			return "", nil, unsupportedBlock(b.Type, bat)
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func imagePart(s *Source, at string) (openaiwire.ContentPart, error) {
	if s == nil {
		return openaiwire.ContentPart{}, bad(at+".source", "%s.source: Field required", at)
	}
	var u string
	switch s.Type {
	case "base64":
		if !imageTypes[s.MediaType] {
			return openaiwire.ContentPart{}, bad(at+".source.media_type", "%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", at)
		}
		if s.Data == "" {
			return openaiwire.ContentPart{}, bad(at+".source.data", "%s.source.data: Field required", at)
		}
		u = "data:" + s.MediaType + ";base64," + s.Data
	case "url":
		if s.URL == "" {
			return openaiwire.ContentPart{}, bad(at+".source.url", "%s.source.url: Field required", at)
		}
		u = s.URL
	default:
		return openaiwire.ContentPart{}, bad(at+".source.type", "%s.source: only base64 and url image sources are translated for this backend, not %q", at, s.Type)
	}
	return openaiwire.ContentPart{Type: "image_url", ImageURL: &openaiwire.ImageURL{URL: u}}, nil
}

func unsupportedBlock(typ, at string) error {
	if typ == "" {
		return bad(at+".type", "%s.type: Field required", at)
	}
	return bad(at+".type", "%s: %q content blocks are not translated for this backend (only text, image, tool_use, tool_result and thinking)", at, typ)
}
