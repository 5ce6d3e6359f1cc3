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

// translator translates one request.
type translator struct {
	// only is the first field the translation had to leave out because
	// only a backend that speaks the Messages API can serve it (a server
	// tool, a document block, mcp_servers): what a chat backend answers.
	only *providers.Error
}

// native notes that e names a field only Anthropic's backends serve.
func (tr *translator) native(e *providers.Error) {
	if tr.only == nil {
		tr.only = e
	}
}

// toChat translates a Messages request into an OpenAI chat completion
// request; model is the model to name. Fields only Anthropic serves are
// left out and noted in tr.only.
func (tr *translator) toChat(r *Request, model string) (*openaiwire.ChatRequest, error) {
	if r.MaxTokens == nil {
		return nil, bad("max_tokens", "max_tokens: Field required")
	}
	if *r.MaxTokens < 1 {
		return nil, bad("max_tokens", "max_tokens: Input should be greater than or equal to 1")
	}
	if !openaiwire.IsNull(r.MCPServers) {
		tr.native(bad("mcp_servers", "mcp_servers: MCP servers run only on Anthropic's backends, and none could take this request"))
	}
	if !openaiwire.IsNull(r.Container) {
		tr.native(bad("container", "container: code-execution containers run only on Anthropic's backends, and none could take this request"))
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
		if c.Messages, err = tr.message(c.Messages, m, i); err != nil {
			return nil, err
		}
	}
	if len(c.Messages) == 0 || len(c.Messages) == 1 && sys != "" {
		if tr.only == nil {
			return nil, bad("messages", "messages: at least one message with content is required")
		}
		// What is left is for routing only: no chat backend gets it.
		c.Messages = append(c.Messages, openaiwire.Message{Role: "user", Content: quote("")})
	}
	for i, t := range r.Tools {
		if t.Type != "" && t.Type != "custom" {
			tr.native(bad(fmt.Sprintf("tools.%d.type", i), "tools.%d: Anthropic's %q tool runs only on Anthropic's backends, and none could take this request", i, t.Type))
			continue
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
func (tr *translator) message(out []openaiwire.Message, m Message, i int) ([]openaiwire.Message, error) {
	at := fmt.Sprintf("messages.%d", i)
	bs, err := blocks(m.Content, at+".content")
	if err != nil {
		return nil, err
	}
	switch m.Role {
	case "user":
		return tr.userMessage(out, bs, at)
	case "assistant":
		return tr.assistantMessage(out, bs, at)
	default:
		return nil, bad(at+".role", "%s.role: Input should be 'user' or 'assistant'", at)
	}
}

// userMessage: tool results become tool messages, which must follow the
// assistant's calls at once; the rest becomes one user message after them.
func (tr *translator) userMessage(out []openaiwire.Message, bs []Block, at string) ([]openaiwire.Message, error) {
	var parts, resultImages []openaiwire.ContentPart
	for j, b := range bs {
		bat := fmt.Sprintf("%s.content.%d", at, j)
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				parts = append(parts, openaiwire.ContentPart{Type: "text", Text: b.Text})
			}
		case "image":
			p, err := tr.imagePart(b.Source, bat)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p...)
		case "tool_result":
			if b.ToolUseID == "" {
				return nil, bad(bat+".tool_use_id", "%s.tool_use_id: Field required", bat)
			}
			text, images, err := tr.toolResult(b.Content, bat+".content")
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
			if err := tr.unsupportedBlock(b.Type, bat); err != nil {
				return nil, err
			}
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

func (tr *translator) assistantMessage(out []openaiwire.Message, bs []Block, at string) ([]openaiwire.Message, error) {
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
			if err := tr.unsupportedBlock(b.Type, bat); err != nil {
				return nil, err
			}
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
func (tr *translator) toolResult(raw json.RawMessage, at string) (string, []openaiwire.ContentPart, error) {
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
			p, err := tr.imagePart(b.Source, bat)
			if err != nil {
				return "", nil, err
			}
			images = append(images, p...)
		default:
			if err := tr.unsupportedBlock(b.Type, bat); err != nil {
				return "", nil, err
			}
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imagePart is an image block as a chat image part: none (noted in
// tr.only) for a source only Anthropic reads (an uploaded file).
func (tr *translator) imagePart(s *Source, at string) ([]openaiwire.ContentPart, error) {
	if s == nil {
		return nil, bad(at+".source", "%s.source: Field required", at)
	}
	var u string
	switch s.Type {
	case "base64":
		if !imageTypes[s.MediaType] {
			return nil, bad(at+".source.media_type", "%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", at)
		}
		if s.Data == "" {
			return nil, bad(at+".source.data", "%s.source.data: Field required", at)
		}
		u = "data:" + s.MediaType + ";base64," + s.Data
	case "url":
		if s.URL == "" {
			return nil, bad(at+".source.url", "%s.source.url: Field required", at)
		}
		u = s.URL
	default:
		tr.native(bad(at+".source.type", "%s.source: only base64 and url image sources can be translated, not %q, and no Anthropic backend could take this request", at, s.Type))
		return nil, nil
	}
	return []openaiwire.ContentPart{{Type: "image_url", ImageURL: &openaiwire.ImageURL{URL: u}}}, nil
}

// unsupportedBlock: a block without a type is the client's mistake;
// one of a type chat has no counterpart for (a document, a server
// tool's blocks) is left out and noted in tr.only.
func (tr *translator) unsupportedBlock(typ, at string) error {
	if typ == "" {
		return bad(at+".type", "%s.type: Field required", at)
	}
	tr.native(bad(at+".type", "%s: %q content blocks cannot be translated (only text, image, tool_use, tool_result and thinking), and no Anthropic backend could take this request", at, typ))
	return nil
}
