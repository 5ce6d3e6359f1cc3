package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// stopReason is OpenAI's finish_reason in Anthropic's terms. A chat
// completion does not say which stop sequence ended it, so "stop" is
// always end_turn (and stop_sequence null).
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default:
		return "end_turn"
	}
}

// messageID is a chat completion's id as a Message id (msg_...).
func messageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	if id == "" {
		id = "tiergate"
	}
	return "msg_" + id
}

// toolID is a tool call's id as a tool_use id; a call without one gets
// one from its position.
func toolID(id string, n int) string {
	if id != "" {
		return id
	}
	return fmt.Sprintf("toolu_tiergate_%d", n)
}

// input is a tool call's JSON arguments as a tool_use input object;
// arguments that are not an object give {}.
func input(args string) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(args)) != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return json.RawMessage("{}")
	}
	return buf.Bytes()
}

// usage is OpenAI's usage in Anthropic's terms: input_tokens leaves out
// the cached prompt tokens, which are cache_read_input_tokens.
func usage(u *openaiwire.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	cached := 0
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	return Usage{InputTokens: max(u.PromptTokens-cached, 0), CacheReadInputTokens: cached, OutputTokens: u.CompletionTokens}
}

// Completion implements inbound.API: a chat.completion as a Message.
func (*API) Completion(chat []byte) ([]byte, error) {
	var c openaiwire.ChatCompletion
	if err := json.Unmarshal(chat, &c); err != nil {
		return nil, err
	}
	if len(c.Choices) == 0 {
		return nil, fmt.Errorf("the completion has no choices")
	}
	ch := c.Choices[0]
	m := ch.Message
	out := Response{ID: messageID(c.ID), Type: "message", Role: "assistant", Content: []Block{}, Model: c.Model, Usage: usage(c.Usage)}
	if m.ReasoningContent != "" {
		out.Content = append(out.Content, Block{Type: "thinking", Thinking: openaiwire.Ptr(m.ReasoningContent), Signature: openaiwire.Ptr("")})
	}
	switch {
	case m.Content != nil && *m.Content != "":
		out.Content = append(out.Content, Block{Type: "text", Text: m.Content})
	case m.Refusal != nil && *m.Refusal != "":
		out.Content = append(out.Content, Block{Type: "text", Text: m.Refusal})
	}
	for i, tc := range m.ToolCalls {
		out.Content = append(out.Content, Block{Type: "tool_use", ID: toolID(tc.ID, i), Name: tc.Function.Name, Input: input(tc.Function.Arguments)})
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	if finish == "" && len(m.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	out.StopReason = openaiwire.Ptr(stopReason(finish))
	return openaiwire.Marshal(out)
}
