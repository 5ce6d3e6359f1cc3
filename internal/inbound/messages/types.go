package messages

import "encoding/json"

// The Anthropic Messages API's shapes, as the API reference writes them
// (fields in its order). Requests are decoded leniently: unknown members
// are ignored; the few this package cannot translate are refused by name
// (request.go).

// Request is a POST /v1/messages (or /v1/messages/count_tokens) body.
type Request struct {
	Model         string          `json:"model"`
	MaxTokens     *int64          `json:"max_tokens"`
	Messages      []Message       `json:"messages"`
	System        json.RawMessage `json:"system,omitempty"` // a string or a list of text blocks
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int64          `json:"top_k,omitempty"`
	Metadata      *Metadata       `json:"metadata,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      json.RawMessage `json:"thinking,omitempty"`
	ServiceTier   *string         `json:"service_tier,omitempty"`
	// Refused members: nothing translates them to a chat completion.
	MCPServers json.RawMessage `json:"mcp_servers,omitempty"`
	Container  json.RawMessage `json:"container,omitempty"`
}

// Metadata is a request's metadata.
type Metadata struct {
	UserID *string `json:"user_id,omitempty"`
}

// Message is one input message: content is a string or a list of blocks.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Block is a content block of any type, in a request or a response; the
// fields a type does not use are left out.
type Block struct {
	Type string `json:"type"`
	// text
	Text *string `json:"text,omitempty"`
	// image (and document) source
	Source *Source `json:"source,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // a string or a list of blocks
	IsError   bool            `json:"is_error,omitempty"`
	// thinking
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
}

// Source is an image block's source: base64 data or a URL.
type Source struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is one entry of a request's tools. A custom tool has no type (or
// "custom"); other types are Anthropic's own tools.
type Tool struct {
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// ToolChoice is a request's tool_choice.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Response is a Message, the API's answer.
type Response struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Content      []Block `json:"content"`
	Model        string  `json:"model"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        Usage   `json:"usage"`
}

// Usage is a Message's usage. input_tokens excludes the cached part.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// ErrorBody is the API's error answer and the data of a stream's error
// event.
type ErrorBody struct {
	Type  string      `json:"type"`
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an ErrorBody's error.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Stream events (each is sent as "event: <type>\ndata: <json>\n\n").

type messageStart struct {
	Type    string   `json:"type"`
	Message Response `json:"message"`
}

type blockStart struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock Block  `json:"content_block"`
}

type blockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta delta  `json:"delta"`
}

type delta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

type blockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type messageDelta struct {
	Type  string    `json:"type"`
	Delta stopDelta `json:"delta"`
	Usage Usage     `json:"usage"`
}

type stopDelta struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// CountTokens is POST /v1/messages/count_tokens's answer.
type CountTokens struct {
	InputTokens int `json:"input_tokens"`
}
