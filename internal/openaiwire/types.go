package openaiwire

import (
	"bytes"
	"encoding/json"
)

// Message is one chat message, in a request (messages[i]) or a unary
// response (choices[i].message). Content is raw because it is a string,
// null or an array of ContentPart; use Content helpers to read it.
type Message struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	Name         string          `json:"name,omitempty"`
	ToolCalls    []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID   string          `json:"tool_call_id,omitempty"`
	FunctionCall *FunctionCall   `json:"function_call,omitempty"`
	Refusal      *string         `json:"refusal,omitempty"`
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type       string      `json:"type"`
	Text       *string     `json:"text,omitempty"`
	Refusal    *string     `json:"refusal,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *File       `json:"file,omitempty"`
}

// TextValue is the part's text, "" when absent.
func (p *ContentPart) TextValue() string {
	if p.Text == nil {
		return ""
	}
	return *p.Text
}

// ImageURL is an image_url part's value.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is an input_audio part's value.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is a file part's value.
type File struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Tool is one entry of a request's tools.
type Tool struct {
	Type     string       `json:"type"`
	Function *FunctionDef `json:"function,omitempty"`
}

// FunctionDef declares a function a model may call (tools[i].function,
// or an entry of the legacy functions list).
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model made: in an assistant message of a request,
// in a response message, or (with Index, and pieces of Arguments) in a
// chunk's delta.
type ToolCall struct {
	Index        *int          `json:"index,omitempty"` // chunks only
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type,omitempty"`
	Function     FunctionCall  `json:"function"`
	ExtraContent *ExtraContent `json:"extra_content,omitempty"`
}

// FunctionCall is a tool call's function (or the legacy function_call).
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ExtraContent carries provider data on a tool call in the shape Google's
// own OpenAI-compatible endpoint uses (Gemini's thought signature), so
// that a model gets it back on the next turn.
type ExtraContent struct {
	Google *struct {
		ThoughtSignature string `json:"thought_signature,omitempty"`
	} `json:"google,omitempty"`
}

// ResponseFormat is a request's response_format.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema,omitempty"`
	Strict *bool           `json:"strict,omitempty"`
}

// StreamOptions is a request's stream_options.
type StreamOptions struct {
	IncludeUsage *bool `json:"include_usage,omitempty"`
}

// IsNull reports whether a raw value is absent or JSON null.
func IsNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// ParseContent reads a message's content, which is a string, null or an
// array of parts. For a string, text points to it and parts is nil; for
// null or an absent content, both are nil; for an array, text is nil. ok
// is false for anything else.
func ParseContent(raw json.RawMessage) (text *string, parts []ContentPart, ok bool) {
	if IsNull(raw) {
		return nil, nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s, nil, true
	}
	if json.Unmarshal(raw, &parts) != nil {
		return nil, nil, false
	}
	return nil, parts, true
}
