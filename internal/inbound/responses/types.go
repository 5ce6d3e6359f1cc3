package responses

import "encoding/json"

// The Responses API's wire shapes, as OpenAI's reference declares them
// (openai-go's responses package): the request members the translation
// reads, the Response object and its output items, and the stream events.

// Request is a POST /v1/responses body, decoded with what varies in shape
// kept raw. Members not named here are not read.
type Request struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       *string         `json:"instructions"`
	Tools              []Tool          `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Text               *TextConfig     `json:"text"`
	Reasoning          *Reasoning      `json:"reasoning"`
	MaxOutputTokens    *int64          `json:"max_output_tokens"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	User               *string         `json:"user"`
	SafetyIdentifier   *string         `json:"safety_identifier"`
	PromptCacheKey     *string         `json:"prompt_cache_key"`
	ServiceTier        *string         `json:"service_tier"`
	Store              *bool           `json:"store"`
	Stream             *bool           `json:"stream"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Conversation       json.RawMessage `json:"conversation"`
	Background         *bool           `json:"background"`
	Prompt             json.RawMessage `json:"prompt"`
	// Route is tiergate's own routing object, passed to the chat body.
	Route json.RawMessage `json:"route"`
}

// Tool is an entry of tools. Function tools are flat: the name,
// description and parameters sit beside the type.
type Tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// TextConfig is the request's text member.
type TextConfig struct {
	Format    *TextFormat `json:"format"`
	Verbosity *string     `json:"verbosity"`
}

// TextFormat is text.format: text, json_object, or json_schema (flat:
// name, schema and strict beside the type).
type TextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
	Description string          `json:"description"`
}

// Reasoning is the request's reasoning member.
type Reasoning struct {
	Effort *string `json:"effort"`
}

// InputItem is an element of an input list: a message (type "message" or
// no type, with a role), a function_call, a function_call_output or a
// reasoning item; other types are refused.
type InputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// InputPart is an element of a message's content list (input_text,
// input_image, input_file; output_text and refusal in assistant turns),
// or of a function_call_output's output list.
type InputPart struct {
	Type     string  `json:"type"`
	Text     string  `json:"text"`
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
	FileURL  *string `json:"file_url"`
	FileData *string `json:"file_data"`
	Filename string  `json:"filename"`
	Detail   string  `json:"detail"`
	Refusal  string  `json:"refusal"`
}

// Object and item type names, as OpenAI writes them.
const (
	objectResponse   = "response"
	typeMessage      = "message"
	typeFunctionCall = "function_call"
	typeOutputText   = "output_text"
	typeReasoning    = "reasoning"
	typeReasonText   = "reasoning_text"
	typeRefusal      = "refusal"

	statusCompleted  = "completed"
	statusIncomplete = "incomplete"
	statusInProgress = "in_progress"
	statusFailed     = "failed"
)

// Response is the Response object (object "response"). Only what the
// answer itself says is written: the request's settings are not echoed.
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"`
	Background         bool               `json:"background"`
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Model              string             `json:"model"`
	Output             []any              `json:"output"` // *MessageItem, *FunctionCallItem, *ReasoningItem
	PreviousResponseID *string            `json:"previous_response_id"`
	// Store is false: the gateway stores nothing.
	Store    bool              `json:"store"`
	Usage    *Usage            `json:"usage"`
	Metadata map[string]string `json:"metadata"`
}

// ResponseError is response.error of a failed response.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete: max_output_tokens
// or content_filter.
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// MessageItem is an output message.
type MessageItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Content []any  `json:"content"` // *OutputText, *Refusal
	Role    string `json:"role"`
}

// OutputText is a message's output_text part.
type OutputText struct {
	Type        string `json:"type"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
	Text        string `json:"text"`
}

// Refusal is a message's refusal part.
type Refusal struct {
	Type    string `json:"type"`
	Refusal string `json:"refusal"`
}

// ReasoningItem is the model's reasoning, when the backend shows it
// (chat's reasoning_content): its text as reasoning_text content.
type ReasoningItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary []any  `json:"summary"`
	Content []any  `json:"content"` // *ReasoningText
	Status  string `json:"status"`
}

// ReasoningText is a reasoning item's reasoning_text part.
type ReasoningText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// FunctionCallItem is a call the model made to a function tool.
type FunctionCallItem struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Arguments string `json:"arguments"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
}

// Usage is a response's token usage.
type Usage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

// InputTokensDetails is usage.input_tokens_details.
type InputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// OutputTokensDetails is usage.output_tokens_details.
type OutputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// Stream event types.
const (
	evCreated     = "response.created"
	evInProgress  = "response.in_progress"
	evCompleted   = "response.completed"
	evIncomplete  = "response.incomplete"
	evFailed      = "response.failed"
	evItemAdded   = "response.output_item.added"
	evItemDone    = "response.output_item.done"
	evPartAdded   = "response.content_part.added"
	evPartDone    = "response.content_part.done"
	evTextDelta   = "response.output_text.delta"
	evTextDone    = "response.output_text.done"
	evArgsDelta   = "response.function_call_arguments.delta"
	evArgsDone    = "response.function_call_arguments.done"
	evReasonDelta = "response.reasoning_text.delta"
	evReasonDone  = "response.reasoning_text.done"
	evError       = "error"
)

// eventHead begins every stream event: its type and sequence number,
// which Stream.event sets.
type eventHead struct {
	Type           string `json:"type"`
	SequenceNumber int    `json:"sequence_number"`
}

func (h *eventHead) head() *eventHead { return h }

// ResponseEvent is response.created, .in_progress, .completed,
// .incomplete and .failed.
type ResponseEvent struct {
	eventHead
	Response *Response `json:"response"`
}

// ItemEvent is response.output_item.added and .done.
type ItemEvent struct {
	eventHead
	OutputIndex int `json:"output_index"`
	Item        any `json:"item"`
}

// PartEvent is response.content_part.added and .done.
type PartEvent struct {
	eventHead
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Part         any    `json:"part"`
}

// TextDeltaEvent is response.output_text.delta.
type TextDeltaEvent struct {
	eventHead
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Delta        string `json:"delta"`
	Logprobs     []any  `json:"logprobs"`
}

// TextDoneEvent is response.output_text.done.
type TextDoneEvent struct {
	eventHead
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Text         string `json:"text"`
	Logprobs     []any  `json:"logprobs"`
}

// ReasonDeltaEvent is response.reasoning_text.delta.
type ReasonDeltaEvent struct {
	eventHead
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Delta        string `json:"delta"`
}

// ReasonDoneEvent is response.reasoning_text.done.
type ReasonDoneEvent struct {
	eventHead
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Text         string `json:"text"`
}

// ArgsDeltaEvent is response.function_call_arguments.delta.
type ArgsDeltaEvent struct {
	eventHead
	ItemID      string `json:"item_id"`
	OutputIndex int    `json:"output_index"`
	Delta       string `json:"delta"`
}

// ArgsDoneEvent is response.function_call_arguments.done.
type ArgsDoneEvent struct {
	eventHead
	ItemID      string `json:"item_id"`
	OutputIndex int    `json:"output_index"`
	Name        string `json:"name"`
	Arguments   string `json:"arguments"`
}

// ErrorEvent is the "error" event.
type ErrorEvent struct {
	eventHead
	Code    *string `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}
