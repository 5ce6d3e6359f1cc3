package openaiwire

// refParseChat is ParseChat as it was before it read bodies in one pass:
// the body decoded by encoding/json into the fields the gateway needs. It
// is the reference the differential fuzz test holds ParseChat to.

import (
	"encoding/json"
	"errors"
	"strconv"
)

type refChatProbe struct {
	Model         *string `json:"model"`
	Stream        *bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages            []refMessageProbe `json:"messages"`
	Tools               []struct{}        `json:"tools"`
	Functions           []struct{}        `json:"functions"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	Route               json.RawMessage   `json:"route"`
}

type refMessageProbe struct {
	Role    refRoleProbe    `json:"role"`
	Content refContentProbe `json:"content"`
}

// refRoleProbe notes whether a role is present and whether it is "user",
// without allocating a string.
type refRoleProbe struct {
	set, user bool
}

func (r *refRoleProbe) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		if string(b) == "null" {
			return nil
		}
		return errors.New("role must be a string")
	}
	r.set = len(b) > 2
	r.user = string(b) == `"user"`
	return nil
}

// refContentProbe reads a message's content, which is a string, null or an
// array of parts, noting text length and image parts without keeping them.
type refContentProbe struct {
	chars  int
	images int
	raw    []byte
}

func (c *refContentProbe) UnmarshalJSON(b []byte) error {
	c.raw = b
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		c.chars = len(b) - 2
		return nil
	case b[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		for _, p := range parts {
			c.chars += len(p.Text)
			if p.Type == "image_url" {
				c.images++
			}
		}
		return nil
	}
	return errors.New("content must be a string or an array of content parts")
}

// refParseChat validates a chat completion body and extracts what the gateway
// needs. Errors are *Error.
func refParseChat(body []byte) (*Chat, error) {
	var p refChatProbe
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Model == nil || *p.Model == "" {
		return nil, &Error{Param: "model", Message: "you must provide a model parameter"}
	}
	if p.Messages == nil {
		return nil, &Error{Param: "messages", Message: "missing required parameter: 'messages'"}
	}
	if len(p.Messages) == 0 {
		return nil, &Error{Param: "messages", Message: "'messages' must contain at least one message"}
	}
	c := &Chat{Model: *p.Model, Route: p.Route}
	if p.Stream != nil {
		c.Stream = *p.Stream
	}
	if p.StreamOptions != nil {
		c.IncludeUsage = p.StreamOptions.IncludeUsage
	}
	for i, m := range p.Messages {
		if !m.Role.set {
			return nil, &Error{Param: "messages[" + strconv.Itoa(i) + "].role", Message: "missing required parameter: 'messages[" + strconv.Itoa(i) + "].role'"}
		}
		c.PromptChars += m.Content.chars
		c.Images += m.Content.images
		if m.Role.user {
			c.LastUser = m.Content.raw
		}
	}
	c.Params = refParams(body)
	c.HasImages = c.Images > 0
	c.HasTools = len(p.Tools) > 0 || len(p.Functions) > 0
	if p.MaxCompletionTokens != nil {
		c.MaxTokens = *p.MaxCompletionTokens
	} else if p.MaxTokens != nil {
		c.MaxTokens = *p.MaxTokens
	}
	return c, nil
}

// refParams is Chat.Params as encoding/json would find it (keys matched
// as it matches them, the last of repeated keys winning).
func refParams(body []byte) Params {
	var r struct {
		N                json.RawMessage `json:"n"`
		Logprobs         json.RawMessage `json:"logprobs"`
		TopLogprobs      json.RawMessage `json:"top_logprobs"`
		LogitBias        json.RawMessage `json:"logit_bias"`
		ResponseFormat   json.RawMessage `json:"response_format"`
		ToolChoice       json.RawMessage `json:"tool_choice"`
		Temperature      json.RawMessage `json:"temperature"`
		TopP             json.RawMessage `json:"top_p"`
		Seed             json.RawMessage `json:"seed"`
		FrequencyPenalty json.RawMessage `json:"frequency_penalty"`
		PresencePenalty  json.RawMessage `json:"presence_penalty"`
	}
	json.Unmarshal(body, &r)
	isNum := func(raw json.RawMessage) bool {
		return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
	}
	var out Params
	set := func(bit Params, used bool) {
		if used {
			out |= bit
		}
	}
	var n int
	set(ParamN, isNum(r.N) && (json.Unmarshal(r.N, &n) != nil || n != 1))
	var top int
	set(ParamLogprobs, string(r.Logprobs) == "true" || isNum(r.TopLogprobs) && json.Unmarshal(r.TopLogprobs, &top) == nil && top > 0)
	var bias map[string]json.RawMessage
	set(ParamLogitBias, len(r.LogitBias) > 0 && r.LogitBias[0] == '{' && json.Unmarshal(r.LogitBias, &bias) == nil && len(bias) > 0)
	var rf struct {
		Type json.RawMessage `json:"type"`
	}
	var typ, choice string
	set(ParamJSONObject, len(r.ResponseFormat) > 0 && r.ResponseFormat[0] == '{' && json.Unmarshal(r.ResponseFormat, &rf) == nil &&
		len(rf.Type) > 0 && rf.Type[0] == '"' && json.Unmarshal(rf.Type, &typ) == nil && typ == "json_object")
	set(ParamToolRequired, len(r.ToolChoice) > 0 && r.ToolChoice[0] == '"' && json.Unmarshal(r.ToolChoice, &choice) == nil && choice == "required")
	set(ParamTemperature, isNum(r.Temperature))
	set(ParamTopP, isNum(r.TopP))
	set(ParamSeed, isNum(r.Seed))
	for _, pen := range []struct {
		raw json.RawMessage
		bit Params
	}{{r.FrequencyPenalty, ParamFrequencyPenalty}, {r.PresencePenalty, ParamPresencePenalty}} {
		f, _ := strconv.ParseFloat(string(pen.raw), 64)
		set(pen.bit, isNum(pen.raw) && f != 0)
	}
	return out
}
