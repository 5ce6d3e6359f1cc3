package openaiwire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Chat is what the gateway needs to know about a chat completion request.
type Chat struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	// HasImages is true when a message carries an image_url part.
	HasImages bool
	// HasTools is true when the request offers tools (or legacy functions).
	HasTools bool
	// MaxTokens is max_completion_tokens, else max_tokens, else 0.
	MaxTokens int
	// PromptChars counts the characters of all text parts, for estimating
	// prompt tokens.
	PromptChars int
	// Images counts image parts.
	Images int
	// LastUser is the raw content (string or parts) of the last user
	// message, pointing into the body: the router classifies it lazily.
	LastUser json.RawMessage
	// Route is the raw "route" object, nil when absent.
	Route json.RawMessage
}

// Error is a client error in a request body: the gateway answers 400.
type Error struct {
	Param   string
	Message string
}

func (e *Error) Error() string { return e.Message }

type chatProbe struct {
	Model         *string `json:"model"`
	Stream        *bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages            []messageProbe  `json:"messages"`
	Tools               []struct{}      `json:"tools"`
	Functions           []struct{}      `json:"functions"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Route               json.RawMessage `json:"route"`
}

type messageProbe struct {
	Role    roleProbe    `json:"role"`
	Content contentProbe `json:"content"`
}

// roleProbe notes whether a role is present and whether it is "user",
// without allocating a string.
type roleProbe struct {
	set, user bool
}

func (r *roleProbe) UnmarshalJSON(b []byte) error {
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

// contentProbe reads a message's content, which is a string, null or an
// array of parts, noting text length and image parts without keeping them.
type contentProbe struct {
	chars  int
	images int
	raw    []byte
}

func (c *contentProbe) UnmarshalJSON(b []byte) error {
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

// ParseChat validates a chat completion body and extracts what the gateway
// needs. Errors are *Error.
func ParseChat(body []byte) (*Chat, error) {
	var p chatProbe
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
	c.HasImages = c.Images > 0
	c.HasTools = len(p.Tools) > 0 || len(p.Functions) > 0
	if p.MaxCompletionTokens != nil {
		c.MaxTokens = *p.MaxCompletionTokens
	} else if p.MaxTokens != nil {
		c.MaxTokens = *p.MaxTokens
	}
	return c, nil
}

// Embed is what the gateway needs to know about an embeddings request.
type Embed struct {
	Model string
	Route json.RawMessage
}

// ParseEmbed validates an embeddings body.
func ParseEmbed(body []byte) (*Embed, error) {
	var p struct {
		Model *string         `json:"model"`
		Input json.RawMessage `json:"input"`
		Route json.RawMessage `json:"route"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Model == nil || *p.Model == "" {
		return nil, &Error{Param: "model", Message: "you must provide a model parameter"}
	}
	if len(p.Input) == 0 || string(p.Input) == "null" {
		return nil, &Error{Param: "input", Message: "missing required parameter: 'input'"}
	}
	return &Embed{Model: *p.Model, Route: p.Route}, nil
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return &Error{Message: "the request body is empty: send a JSON object"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return &Error{Message: fmt.Sprintf("the request body is not valid JSON (at byte %d): %v", se.Offset, se)}
		case errors.As(err, &te):
			if te.Field == "" {
				return &Error{Message: "the request body must be a JSON object"}
			}
			return &Error{Param: te.Field, Message: fmt.Sprintf("invalid type for '%s': expected %s, got %s", te.Field, te.Type, te.Value)}
		default:
			return &Error{Message: "the request body is not valid: " + err.Error()}
		}
	}
	return nil
}
