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
	logprobs     bool // the client asked for them: choices carry them
	toolIndex    int
	finish       string

	content, thinking strings.Builder
	calls             []openaiwire.ToolCall
	lps               []openaiwire.TokenLogprob
	last              api.ChatResponse
}

// tokenLogprobs are Ollama's log probabilities in OpenAI's terms (bytes,
// when Ollama gives none, are the token's UTF-8 bytes).
func tokenLogprobs(lps []api.Logprob) []openaiwire.TokenLogprob {
	out := make([]openaiwire.TokenLogprob, len(lps))
	for i, lp := range lps {
		out[i] = openaiwire.TokenLogprob{Token: lp.Token, Logprob: lp.Logprob, Bytes: tokenBytes(lp.TokenLogprob), TopLogprobs: []openaiwire.TopLogprob{}}
		for _, tl := range lp.TopLogprobs {
			out[i].TopLogprobs = append(out[i].TopLogprobs, openaiwire.TopLogprob{Token: tl.Token, Logprob: tl.Logprob, Bytes: tokenBytes(tl)})
		}
	}
	return out
}

func tokenBytes(t api.TokenLogprob) []int {
	if t.Bytes != nil {
		return t.Bytes
	}
	out := make([]int, len(t.Token))
	for i := range len(t.Token) {
		out[i] = int(t.Token[i])
	}
	return out
}

// choiceLogprobs is a choice's logprobs member: null unless asked for.
func (t *translator) choiceLogprobs(lps []openaiwire.TokenLogprob) json.RawMessage {
	if !t.logprobs {
		return nil
	}
	if lps == nil {
		lps = []openaiwire.TokenLogprob{}
	}
	return openaiwire.MustMarshal(openaiwire.ChoiceLogprobs{Content: lps})
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

// marshalChoice is a chunk of one choice.
func (t *translator) marshalChoice(ch openaiwire.ChunkChoice) []byte {
	return openaiwire.MustMarshal(openaiwire.ChatCompletionChunk{ID: t.id, Object: openaiwire.ObjectChunk, Created: t.created, Model: t.model,
		Choices: []openaiwire.ChunkChoice{ch}})
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
		c := t.marshal(openaiwire.Delta{Content: openaiwire.Ptr(r.Message.Content)}, nil, nil)
		if t.logprobs && len(r.Logprobs) > 0 {
			c = t.marshalChoice(openaiwire.ChunkChoice{Delta: openaiwire.Delta{Content: openaiwire.Ptr(r.Message.Content)},
				Logprobs: t.choiceLogprobs(tokenLogprobs(r.Logprobs))})
		}
		out = append(out, c)
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
	if t.logprobs && r.Message.Content != "" {
		t.lps = append(t.lps, tokenLogprobs(r.Logprobs)...)
	}
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
		Choices: []openaiwire.Choice{{Message: msg, Logprobs: t.choiceLogprobs(t.lps), FinishReason: openaiwire.Ptr(t.finish)}},
		Usage:   usage(&t.last),
	})
}
