package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// tokens is Anthropic's usage, as reported.
type tokens struct {
	input, cacheRead, cacheWrite, output, thinking int64
}

// usage converts Anthropic's counts to OpenAI's. Anthropic's input_tokens
// excludes the cached part, so the prompt is the sum of the three input
// counts; cache reads are also OpenAI's cached_tokens.
func (t tokens) usage() *providers.Usage {
	prompt := int(t.input + t.cacheRead + t.cacheWrite)
	return &providers.Usage{
		PromptTokens:       prompt,
		CompletionTokens:   int(t.output),
		TotalTokens:        prompt + int(t.output),
		CachedPromptTokens: int(t.cacheRead),
		CacheWriteTokens:   int(t.cacheWrite),
		ReasoningTokens:    int(t.thinking),
	}
}

// messageTokens reads a Message's usage (a whole answer's, or
// message_start's).
func messageTokens(u *sdk.Usage) tokens {
	return tokens{input: u.InputTokens, cacheRead: u.CacheReadInputTokens,
		cacheWrite: u.CacheCreationInputTokens, output: u.OutputTokens,
		thinking: u.OutputTokensDetails.ThinkingTokens}
}

// delta applies message_delta's usage, whose counts are cumulative; a
// field it leaves out keeps message_start's value. It reports whether
// the output count was given.
func (t *tokens) delta(u *sdk.MessageDeltaUsage) bool {
	if u.JSON.InputTokens.Valid() {
		t.input = u.InputTokens
	}
	if u.JSON.CacheReadInputTokens.Valid() {
		t.cacheRead = u.CacheReadInputTokens
	}
	if u.JSON.CacheCreationInputTokens.Valid() {
		t.cacheWrite = u.CacheCreationInputTokens
	}
	if u.JSON.OutputTokensDetails.Valid() {
		t.thinking = u.OutputTokensDetails.ThinkingTokens
	}
	if u.JSON.OutputTokens.Valid() {
		t.output = u.OutputTokens
		return true
	}
	return false
}

// usageBody is u as OpenAI writes it, with both details objects.
func usageBody(u *providers.Usage) *openaiwire.Usage {
	return &openaiwire.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens,
		PromptTokensDetails:     &openaiwire.PromptTokensDetails{CachedTokens: u.CachedPromptTokens},
		CompletionTokensDetails: &openaiwire.CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens}}
}

// finishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func finishReason(r sdk.StopReason) string {
	switch r {
	case sdk.StopReasonMaxTokens, sdk.StopReasonModelContextWindowExceeded:
		return "length"
	case sdk.StopReasonToolUse:
		return "tool_calls"
	case sdk.StopReasonRefusal:
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn, and any value added later
		return "stop"
	}
}

// compactArgs renders a tool_use input as OpenAI's JSON-string arguments.
func compactArgs(raw []byte) string {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&buf, raw) != nil || buf.String() == "null" {
		return "{}"
	}
	return buf.String()
}

// completionBody converts a whole Anthropic message to OpenAI's
// chat.completion JSON.
func completionBody(m *sdk.Message, created int64) ([]byte, *providers.Usage, string, error) {
	var text, reasoning strings.Builder
	var calls []openaiwire.ToolCall
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			reasoning.WriteString(b.Thinking)
		case "tool_use":
			calls = append(calls, openaiwire.ToolCall{ID: b.ID, Type: "function",
				Function: openaiwire.FunctionCall{Name: b.Name, Arguments: compactArgs(b.Input)}})
		}
		// server_tool_use and the server tools' result blocks ran at
		// Anthropic; redacted_thinking carries nothing readable.
	}
	msg := openaiwire.ResponseMessage{Role: "assistant", ReasoningContent: reasoning.String(), ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	fr := finishReason(m.StopReason)
	c := openaiwire.ChatCompletion{
		ID: m.ID, Object: openaiwire.ObjectCompletion, Created: created, Model: string(m.Model),
		Choices: []openaiwire.Choice{{Message: msg, FinishReason: &fr}},
	}
	var u *providers.Usage
	if m.JSON.Usage.Valid() { // absent usage stays absent rather than zero
		u = messageTokens(&m.Usage).usage()
		c.Usage = usageBody(u)
	}
	body, err := openaiwire.Marshal(c)
	return body, u, fr, err
}

// streamState turns Anthropic stream events into chat.completion.chunk
// payloads, one event at a time.
type streamState struct {
	id, model string
	created   int64
	started   bool // message_start seen
	stopped   bool // message_stop seen
	// tools maps a content block index to its tool call's index among
	// the message's tool calls; argsSent records whether any argument
	// piece went out for it.
	tools     map[int64]int
	argsSent  map[int64]bool
	blocks    map[int64]string
	stop      sdk.StopReason
	tok       tokens
	haveUsage bool
}

// chunkOut is one chunk to send and whether it carries generated content.
type chunkOut struct {
	data    []byte
	content bool
}

func (s *streamState) chunk(d *openaiwire.Delta, finish *string) []byte {
	return openaiwire.MustMarshal(openaiwire.ChatCompletionChunk{
		ID: s.id, Object: openaiwire.ObjectChunk, Created: s.created, Model: s.model,
		Choices: []openaiwire.ChunkChoice{{Delta: *d, FinishReason: finish}},
	})
}

var ptr = openaiwire.Ptr[string]

// text appends a content chunk for text and a reasoning chunk for
// thinking, leaving out the empty ones.
func (s *streamState) text(out []chunkOut, text, thinking string) []chunkOut {
	if text != "" {
		out = append(out, chunkOut{content: true, data: s.chunk(&openaiwire.Delta{Content: ptr(text)}, nil)})
	}
	if thinking != "" {
		out = append(out, chunkOut{content: true, data: s.chunk(&openaiwire.Delta{ReasoningContent: ptr(thinking)}, nil)})
	}
	return out
}

// handle converts one event. It appends the chunks to send to out.
func (s *streamState) handle(ev *sdk.MessageStreamEventUnion, includeUsage bool, out []chunkOut) []chunkOut {
	switch ev.Type {
	case "message_start":
		s.started = true
		s.id, s.model = ev.Message.ID, string(ev.Message.Model)
		s.tok = messageTokens(&ev.Message.Usage)
		s.haveUsage = ev.Message.JSON.Usage.Valid()
		out = append(out, chunkOut{data: s.chunk(&openaiwire.Delta{Role: "assistant", Content: ptr("")}, nil)})
	case "content_block_start":
		cb := ev.ContentBlock
		if s.blocks == nil {
			s.blocks, s.tools, s.argsSent = map[int64]string{}, map[int64]int{}, map[int64]bool{}
		}
		s.blocks[ev.Index] = cb.Type
		switch cb.Type {
		case "tool_use":
			n := len(s.tools)
			s.tools[ev.Index] = n
			out = append(out, chunkOut{content: true, data: s.chunk(&openaiwire.Delta{ToolCalls: []openaiwire.ToolCall{{
				Index: openaiwire.Ptr(n), ID: cb.ID, Type: "function", Function: openaiwire.FunctionCall{Name: cb.Name}}}}, nil)})
		case "text", "thinking":
			out = s.text(out, cb.Text, cb.Thinking)
		}
	case "content_block_delta":
		d := ev.Delta
		switch d.Type {
		case "text_delta", "thinking_delta":
			out = s.text(out, d.Text, d.Thinking)
		case "input_json_delta":
			n, ok := s.tools[ev.Index]
			if !ok || d.PartialJSON == "" { // a server tool's input, or an empty piece
				break
			}
			s.argsSent[ev.Index] = true
			out = append(out, chunkOut{content: true, data: s.chunk(&openaiwire.Delta{ToolCalls: []openaiwire.ToolCall{{
				Index: openaiwire.Ptr(n), Function: openaiwire.FunctionCall{Arguments: d.PartialJSON}}}}, nil)})
		}
		// signature_delta and citations_delta have no OpenAI counterpart.
	case "content_block_stop":
		// A tool called without arguments may stream no input piece at
		// all; OpenAI clients expect the arguments to parse.
		if n, ok := s.tools[ev.Index]; ok && !s.argsSent[ev.Index] {
			s.argsSent[ev.Index] = true
			out = append(out, chunkOut{content: true, data: s.chunk(&openaiwire.Delta{ToolCalls: []openaiwire.ToolCall{{
				Index: openaiwire.Ptr(n), Function: openaiwire.FunctionCall{Arguments: "{}"}}}}, nil)})
		}
	case "message_delta":
		if ev.Delta.StopReason != "" {
			s.stop = ev.Delta.StopReason
		}
		if s.tok.delta(&ev.Usage) {
			s.haveUsage = true
		}
	case "message_stop":
		s.stopped = true
		out = append(out, chunkOut{data: s.chunk(&openaiwire.Delta{}, ptr(finishReason(s.stop)))})
		if includeUsage {
			b := openaiwire.MustMarshal(openaiwire.ChatCompletionChunk{
				ID: s.id, Object: openaiwire.ObjectChunk, Created: s.created, Model: s.model,
				Choices: []openaiwire.ChunkChoice{}, Usage: usageBody(s.tok.usage()),
			})
			out = append(out, chunkOut{data: b})
		}
	}
	// Event types the API adds later are skipped, as its versioning
	// policy asks of clients.
	return out
}
