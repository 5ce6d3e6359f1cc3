package responses

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// Completion implements inbound.API: a chat.completion becomes a Response
// with a reasoning item when the backend showed its reasoning
// (reasoning_content), a message item (output_text, or refusal) and a
// function_call item per tool call. A completion cut by its token limit (finish_reason
// length) is incomplete with reason max_output_tokens; one stopped by a
// content filter, incomplete with reason content_filter.
func (API) Completion(chat []byte) ([]byte, error) {
	var cc openaiwire.ChatCompletion
	if err := json.Unmarshal(chat, &cc); err != nil {
		return nil, fmt.Errorf("the completion is not JSON: %w", err)
	}
	ids := newIDs(cc.ID)
	r := ids.response(cc.Created, cc.Model)
	finish := ""
	if len(cc.Choices) > 0 {
		ch := cc.Choices[0]
		if ch.FinishReason != nil {
			finish = *ch.FinishReason
		}
		r.Status, r.IncompleteDetails = outcome(finish)
		m := ch.Message
		if m.ReasoningContent != "" {
			r.Output = append(r.Output, &ReasoningItem{ID: ids.reasoning(), Type: typeReasoning, Summary: []any{},
				Content: []any{&ReasoningText{Type: typeReasonText, Text: m.ReasoningContent}}, Status: statusCompleted})
		}
		var content []any
		if m.Content != nil && *m.Content != "" {
			content = append(content, outputText(*m.Content))
		}
		if m.Refusal != nil && *m.Refusal != "" {
			content = append(content, &Refusal{Type: typeRefusal, Refusal: *m.Refusal})
		}
		if len(content) > 0 || len(m.ToolCalls) == 0 {
			if content == nil {
				content = []any{}
			}
			r.Output = append(r.Output, &MessageItem{ID: ids.message(), Type: typeMessage, Status: itemStatus(r.Status), Content: content, Role: "assistant"})
		}
		for _, tc := range m.ToolCalls {
			r.Output = append(r.Output, &FunctionCallItem{ID: ids.call(tc.ID), Type: typeFunctionCall, Status: statusCompleted,
				Arguments: tc.Function.Arguments, CallID: tc.ID, Name: tc.Function.Name})
		}
	} else {
		r.Status = statusCompleted
	}
	r.Usage = usage(cc.Usage)
	return openaiwire.Marshal(r)
}

// outcome is a response's status and incomplete_details for a finish
// reason.
func outcome(finish string) (string, *IncompleteDetails) {
	switch finish {
	case "length":
		return statusIncomplete, &IncompleteDetails{Reason: "max_output_tokens"}
	case "content_filter":
		return statusIncomplete, &IncompleteDetails{Reason: "content_filter"}
	}
	return statusCompleted, nil
}

// itemStatus is a message item's status once the response has status.
func itemStatus(status string) string {
	if status == statusIncomplete {
		return statusIncomplete
	}
	return statusCompleted
}

func outputText(s string) *OutputText {
	return &OutputText{Type: typeOutputText, Annotations: []any{}, Logprobs: []any{}, Text: s}
}

// usage is a chat usage object as the Responses API counts it; nil when
// the completion reported none.
func usage(u *openaiwire.Usage) *Usage {
	if u == nil {
		return nil
	}
	out := &Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.InputTokens + out.OutputTokens
	}
	if u.PromptTokensDetails != nil {
		out.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.OutputTokensDetails.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}

// ids names a response and its items after the completion they translate
// (chatcmpl-X: resp_X, msg_X, fc_<call id>), so that a response's ids are
// stable for a given completion; a completion without an id gets a random
// one.
type ids struct{ base string }

func newIDs(chatID string) ids {
	base := chatID
	for _, p := range []string{"chatcmpl-", "chatcmpl_", "msg_", "resp_"} {
		base = strings.TrimPrefix(base, p)
	}
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, base)
	if base == "" {
		var b [16]byte
		rand.Read(b[:])
		base = hex.EncodeToString(b[:])
	}
	return ids{base: base}
}

func (d ids) message() string { return "msg_" + d.base }

func (d ids) reasoning() string { return "rs_" + d.base }

func (d ids) call(callID string) string {
	if callID == "" {
		return "fc_" + d.base
	}
	return "fc_" + strings.TrimPrefix(strings.TrimPrefix(callID, "call_"), "toolu_")
}

// response is the Response's frame: everything but its output, status and
// usage.
func (d ids) response(created int64, model string) *Response {
	if created == 0 {
		created = time.Now().Unix()
	}
	return &Response{ID: "resp_" + d.base, Object: objectResponse, CreatedAt: created, Model: model,
		Output: []any{}, Metadata: map[string]string{}}
}
