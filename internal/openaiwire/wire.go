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
	// prompt tokens: the bytes between the quotes of a string content, the
	// decoded UTF-8 bytes of the text of each content part.
	PromptChars int
	// Images counts image parts.
	Images int
	// LastUser is the raw content (string or parts) of the last user
	// message, pointing into the body: the router classifies it lazily.
	LastUser json.RawMessage
	// Params are the restricted parameters the request uses (see
	// Params): what some adapters refuse or drop.
	Params Params
	// Route is the raw "route" object, nil when absent, pointing into the
	// body.
	Route json.RawMessage
}

// Error is a client error in a request body: the gateway answers 400.
type Error struct {
	Param   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// msgState is what one position of the messages array holds. Like
// encoding/json decoding into a slice, a repeated "messages" key decodes
// its elements into the states the previous array left at the same
// positions.
type msgState struct {
	roleSet, roleUser bool
	chars, images     int
	raw               []byte
}

// chatParser reads a chat body. Errors rank as encoding/json ranks them:
// a syntax error anywhere first, then the first error of a member the old
// implementation decoded with its own code (role, content), then the first
// type mismatch, then the request's own rules.
type chatParser struct {
	b               []byte
	custErr, typErr *Error

	model              []byte // the model's string token, quotes included; nil when absent or null
	modelEsc           bool   // it holds escapes or non-ASCII bytes
	streamSet, stream  bool
	soSet, inclUsage   bool
	messagesSet        bool
	msgs               []msgState // every live position (see msgState)
	nmsgs              int        // the length of the last messages array
	tools, functions   int
	maxTokSet, maxCSet bool
	maxTok, maxCTok    int
	route              []byte
	params             Params // the restricted parameters used so far (see restricted)
	msgBuf             [8]msgState
}

// ParseChat validates a chat completion body and extracts what the gateway
// needs. Errors are *Error.
func ParseChat(body []byte) (*Chat, error) {
	if len(body) == 0 {
		return nil, &Error{Message: "the request body is empty: send a JSON object"}
	}
	p := &chatParser{b: body}
	p.msgs = p.msgBuf[:0]
	topNull, err := p.parse()
	switch {
	case err != nil:
		return nil, err
	case p.custErr != nil:
		return nil, p.custErr
	case p.typErr != nil:
		return nil, p.typErr
	}
	var model string
	if !topNull && p.model != nil {
		model = p.unquote(p.model, p.modelEsc)
	}
	if model == "" {
		return nil, &Error{Param: "model", Message: "you must provide a model parameter"}
	}
	if !p.messagesSet {
		return nil, &Error{Param: "messages", Message: "missing required parameter: 'messages'"}
	}
	if p.nmsgs == 0 {
		return nil, &Error{Param: "messages", Message: "'messages' must contain at least one message"}
	}
	c := &Chat{Model: model, Route: p.route, Stream: p.streamSet && p.stream, IncludeUsage: p.soSet && p.inclUsage}
	for i, m := range p.msgs[:p.nmsgs] {
		if !m.roleSet {
			return nil, &Error{Param: "messages[" + strconv.Itoa(i) + "].role", Message: "missing required parameter: 'messages[" + strconv.Itoa(i) + "].role'"}
		}
		c.PromptChars += m.chars
		c.Images += m.images
		if m.roleUser {
			c.LastUser = m.raw
		}
	}
	c.Params = p.params &^ (paramLogprobsTrue | paramTopLogprobs)
	if p.params&(paramLogprobsTrue|paramTopLogprobs) != 0 {
		c.Params |= ParamLogprobs
	}
	c.HasImages = c.Images > 0
	c.HasTools = p.tools > 0 || p.functions > 0
	if p.maxCSet {
		c.MaxTokens = p.maxCTok
	} else if p.maxTokSet {
		c.MaxTokens = p.maxTok
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
