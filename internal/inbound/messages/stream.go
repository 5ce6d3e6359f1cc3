package messages

import (
	"encoding/json"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Stream implements inbound.API.
func (*API) Stream() inbound.Stream { return &stream{open: none} }

// The kinds of content block a stream can have open.
const (
	none = iota
	text
	thinking
	tool
)

// stream turns chat.completion.chunks into Anthropic's events:
// message_start on the first chunk, then content blocks (text, thinking,
// tool_use) opened, filled and stopped as the chunks' pieces change
// kind, and message_delta and message_stop at the end (the usage chunk
// comes after the finish, so the end waits for End).
type stream struct {
	started bool
	id      string
	model   string
	open    int // the kind of the block open, none between blocks
	index   int // the open block's index; the next one's when none is open
	tool    int // the open tool_use block's OpenAI tool-call index
	tools   int // tool calls seen, for ids
	finish  string
	usage   Usage
}

// event appends one event: its name (the data's type) and data.
func event(dst []byte, name string, v any) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, openaiwire.MustMarshal(v)...)
	return append(dst, '\n', '\n')
}

func (s *stream) start(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	return event(dst, "message_start", messageStart{Type: "message_start", Message: Response{
		ID: messageID(s.id), Type: "message", Role: "assistant", Content: []Block{}, Model: s.model, Usage: s.usage}})
}

// begin opens a block of kind k (closing the open one) unless one of k
// is open already.
func (s *stream) begin(dst []byte, k int, b Block) []byte {
	if s.open == k && k != tool {
		return dst
	}
	dst = s.stop(dst)
	s.open = k
	return event(dst, "content_block_start", blockStart{Type: "content_block_start", Index: s.index, ContentBlock: b})
}

// stop closes the open block, if any.
func (s *stream) stop(dst []byte) []byte {
	if s.open == none {
		return dst
	}
	dst = event(dst, "content_block_stop", blockStop{Type: "content_block_stop", Index: s.index})
	s.open = none
	s.index++
	return dst
}

func (s *stream) delta(dst []byte, d delta) []byte {
	return event(dst, "content_block_delta", blockDelta{Type: "content_block_delta", Index: s.index, Delta: d})
}

// Chunk implements inbound.Stream.
func (s *stream) Chunk(dst, chunk []byte) ([]byte, error) {
	var c openaiwire.ChatCompletionChunk
	if err := json.Unmarshal(chunk, &c); err != nil {
		return dst, err
	}
	if !s.started {
		s.id, s.model = c.ID, c.Model
	}
	dst = s.start(dst)
	if c.Usage != nil {
		s.usage = usage(c.Usage)
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // a Message has one choice
		}
		d := ch.Delta
		if r := d.ReasoningContent; r != nil && *r != "" {
			dst = s.begin(dst, thinking, Block{Type: "thinking", Thinking: openaiwire.Ptr(""), Signature: openaiwire.Ptr("")})
			dst = s.delta(dst, delta{Type: "thinking_delta", Thinking: r})
		}
		if t := d.Content; t != nil && *t != "" {
			dst = s.begin(dst, text, Block{Type: "text", Text: openaiwire.Ptr("")})
			dst = s.delta(dst, delta{Type: "text_delta", Text: t})
		}
		for _, tc := range d.ToolCalls {
			n := s.tool
			if tc.Index != nil {
				n = *tc.Index
			}
			if s.open != tool || n != s.tool {
				s.tool = n
				dst = s.begin(dst, tool, Block{Type: "tool_use", ID: toolID(tc.ID, s.tools), Name: tc.Function.Name, Input: json.RawMessage("{}")})
				s.tools++
			}
			if a := tc.Function.Arguments; a != "" {
				dst = s.delta(dst, delta{Type: "input_json_delta", PartialJSON: openaiwire.Ptr(a)})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
		}
	}
	return dst, nil
}

// End implements inbound.Stream.
func (s *stream) End(dst []byte) []byte {
	dst = s.start(dst)
	dst = s.stop(dst)
	if s.finish == "" && s.tools > 0 {
		s.finish = "tool_calls"
	}
	dst = event(dst, "message_delta", messageDelta{Type: "message_delta",
		Delta: stopDelta{StopReason: openaiwire.Ptr(stopReason(s.finish))}, Usage: s.usage})
	return event(dst, "message_stop", struct {
		Type string `json:"type"`
	}{"message_stop"})
}

// Fail implements inbound.Stream: Anthropic's error event, after which
// no message_stop comes.
func (s *stream) Fail(dst []byte, e *providers.Error) []byte {
	return event(dst, "error", errorBody(e))
}
