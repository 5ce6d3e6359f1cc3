package ollama

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// translator turns Ollama's response lines into OpenAI chunks or one
// completion.
type translator struct {
	id, model    string
	created      int64
	includeUsage bool
	sent         bool // the role chunk went out
	toolIndex    int
	finish       string

	content, thinking strings.Builder
	calls             []openaiwire.ToolCall
	last              api.ChatResponse
}

func newTranslator(model string, includeUsage bool) *translator {
	now := time.Now()
	return &translator{id: "chatcmpl-" + strconv.FormatInt(now.UnixNano(), 36), model: model, created: now.Unix(), includeUsage: includeUsage}
}

func usage(r *api.ChatResponse) *openaiwire.Usage {
	return &openaiwire.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount, TotalTokens: r.PromptEvalCount + r.EvalCount}
}

func (t *translator) marshal(d openaiwire.Delta, finish *string, u *openaiwire.Usage) []byte {
	c := openaiwire.ChatCompletionChunk{ID: t.id, Object: openaiwire.ObjectChunk, Created: t.created, Model: t.model, Usage: u}
	if u == nil {
		c.Choices = []openaiwire.ChunkChoice{{Delta: d, FinishReason: finish}}
	} else {
		c.Choices = []openaiwire.ChunkChoice{}
	}
	return openaiwire.MustMarshal(c)
}

func (t *translator) toolCalls(calls []api.ToolCall) []openaiwire.ToolCall {
	var out []openaiwire.ToolCall
	for _, tc := range calls {
		idx := t.toolIndex
		t.toolIndex++
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%s_%d", t.id[len("chatcmpl-"):], idx)
		}
		args, _ := json.Marshal(tc.Function.Arguments)
		if string(args) == "null" {
			args = []byte("{}")
		}
		out = append(out, openaiwire.ToolCall{Index: &idx, ID: id, Type: "function",
			Function: openaiwire.FunctionCall{Name: tc.Function.Name, Arguments: string(args)}})
	}
	return out
}

func (t *translator) finishReason(r *api.ChatResponse) string {
	switch {
	case t.toolIndex > 0:
		return "tool_calls"
	case r.DoneReason == "length":
		return "length"
	default:
		return "stop"
	}
}

// chunks translates one streamed line into zero or more chunks.
func (t *translator) chunks(r *api.ChatResponse) [][]byte {
	var out [][]byte
	if !t.sent {
		t.sent = true
		out = append(out, t.marshal(openaiwire.Delta{Role: "assistant", Content: openaiwire.Ptr("")}, nil, nil))
	}
	if r.Message.Thinking != "" {
		out = append(out, t.marshal(openaiwire.Delta{ReasoningContent: openaiwire.Ptr(r.Message.Thinking)}, nil, nil))
	}
	if r.Message.Content != "" {
		out = append(out, t.marshal(openaiwire.Delta{Content: openaiwire.Ptr(r.Message.Content)}, nil, nil))
	}
	if len(r.Message.ToolCalls) > 0 {
		out = append(out, t.marshal(openaiwire.Delta{ToolCalls: t.toolCalls(r.Message.ToolCalls)}, nil, nil))
	}
	if r.Done {
		t.finish = t.finishReason(r)
		out = append(out, t.marshal(openaiwire.Delta{}, openaiwire.Ptr(t.finish), nil))
		if t.includeUsage {
			out = append(out, t.marshal(openaiwire.Delta{}, nil, usage(r)))
		}
	}
	return out
}

// accumulate gathers a unary (or collected) response.
func (t *translator) accumulate(r *api.ChatResponse) {
	t.content.WriteString(r.Message.Content)
	t.thinking.WriteString(r.Message.Thinking)
	t.calls = append(t.calls, t.toolCalls(r.Message.ToolCalls)...)
	if r.Done {
		t.finish = t.finishReason(r)
		t.last = *r
	}
}

func (t *translator) completion() []byte {
	msg := openaiwire.ResponseMessage{Role: "assistant", Content: openaiwire.Ptr(t.content.String()), ReasoningContent: t.thinking.String()}
	if len(t.calls) > 0 {
		for i := range t.calls {
			t.calls[i].Index = nil
		}
		msg.ToolCalls = t.calls
		if t.content.Len() == 0 {
			msg.Content = nil
		}
	}
	return openaiwire.MustMarshal(openaiwire.ChatCompletion{
		ID: t.id, Object: openaiwire.ObjectCompletion, Created: t.created, Model: t.model,
		Choices: []openaiwire.Choice{{Message: msg, FinishReason: openaiwire.Ptr(t.finish)}},
		Usage:   usage(&t.last),
	})
}
