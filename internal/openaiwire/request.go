package openaiwire

import "encoding/json"

// ChatRequest is a chat completion request decoded without loss of
// meaning: every parameter whose absence differs from its zero value is a
// pointer, and a parameter whose shape varies (stop: a string or a list;
// tool_choice: a string or an object; seed, logit_bias, response_format,
// which adapters check before reading) is kept raw. Unknown members are
// dropped; pass-through adapters forward the client's bytes instead.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	TopK                *int64          `json:"top_k,omitempty"` // not OpenAI; sent by some clients
	N                   *int64          `json:"n,omitempty"`
	Stream              *bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int64          `json:"top_logprobs,omitempty"`
	Seed                json.RawMessage `json:"seed,omitempty"`
	User                *string         `json:"user,omitempty"`
	SafetyIdentifier    *string         `json:"safety_identifier,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort     *string         `json:"reasoning_effort,omitempty"`
	Functions           json.RawMessage `json:"functions,omitempty"`
	FunctionCall        json.RawMessage `json:"function_call,omitempty"`
	Modalities          []string        `json:"modalities,omitempty"`
	Audio               json.RawMessage `json:"audio,omitempty"`
	Prediction          json.RawMessage `json:"prediction,omitempty"`
	WebSearchOptions    json.RawMessage `json:"web_search_options,omitempty"`
	Verbosity           *string         `json:"verbosity,omitempty"`
	Store               *bool           `json:"store,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	ServiceTier         *string         `json:"service_tier,omitempty"`
	PromptCacheKey      *string         `json:"prompt_cache_key,omitempty"`
}

// MaxOutput is max_completion_tokens, else max_tokens, else nil, with the
// name of the parameter it came from.
func (r *ChatRequest) MaxOutput() (*int64, string) {
	if r.MaxCompletionTokens != nil {
		return r.MaxCompletionTokens, "max_completion_tokens"
	}
	return r.MaxTokens, "max_tokens"
}

// StopList reads stop, which is a string or a list of strings; ok is false
// when it is neither. An absent or null stop gives nil, true.
func (r *ChatRequest) StopList() (stops []string, ok bool) {
	if IsNull(r.Stop) {
		return nil, true
	}
	var one string
	if json.Unmarshal(r.Stop, &one) == nil {
		return []string{one}, true
	}
	if json.Unmarshal(r.Stop, &stops) == nil {
		return stops, true
	}
	return nil, false
}

// EmbeddingRequest is an embeddings request. Input is raw: a string, a
// list of strings, or token arrays.
type EmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format,omitempty"`
	Dimensions     *int64          `json:"dimensions,omitempty"`
	User           *string         `json:"user,omitempty"`
}
