package gemini

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/providers"
)

// --- OpenAI response shapes ----------------------------------------------

type completionJSON struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []choiceJSON `json:"choices"`
	Usage   *usageJSON   `json:"usage,omitempty"`
}

type choiceJSON struct {
	Index        int         `json:"index"`
	Message      messageJSON `json:"message"`
	Logprobs     any         `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type messageJSON struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
	Refusal          *string        `json:"refusal"`
}

type toolCallJSON struct {
	Index        *int          `json:"index,omitempty"` // chunks only
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type,omitempty"`
	Function     functionJSON  `json:"function"`
	ExtraContent *extraContent `json:"extra_content,omitempty"`
}

type functionJSON struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type usageJSON struct {
	PromptTokens            int                   `json:"prompt_tokens"`
	CompletionTokens        int                   `json:"completion_tokens"`
	TotalTokens             int                   `json:"total_tokens"`
	PromptTokensDetails     *promptDetailsJSON    `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *completionDetailJSON `json:"completion_tokens_details,omitempty"`
}

type promptDetailsJSON struct {
	CachedTokens int `json:"cached_tokens"`
}

type completionDetailJSON struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

type chunkJSON struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chunkChoiceJSON `json:"choices"`
	Usage   *usageJSON        `json:"usage,omitempty"`
}

type chunkChoiceJSON struct {
	Index        int       `json:"index"`
	Delta        deltaJSON `json:"delta"`
	Logprobs     any       `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type deltaJSON struct {
	Role             string         `json:"role,omitempty"`
	Content          *string        `json:"content,omitempty"`
	ReasoningContent *string        `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // only our own types, which always encode
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// --- mapping -------------------------------------------------------------

// finishReason maps a Gemini finishReason to OpenAI's; hasCalls forces
// "tool_calls". Blocking reasons become content_filter; reasons about a
// malformed or unexpected tool call, and unknown ones, become stop.
func finishReason(r genai.FinishReason, hasCalls bool) string {
	if hasCalls {
		return "tool_calls"
	}
	switch r {
	case genai.FinishReasonMaxTokens, genai.FinishReasonContinuation:
		return "length"
	case genai.FinishReasonSafety, genai.FinishReasonRecitation, genai.FinishReasonLanguage,
		genai.FinishReasonBlocklist, genai.FinishReasonProhibitedContent, genai.FinishReasonSPII,
		genai.FinishReasonImageSafety, genai.FinishReasonImageProhibitedContent,
		genai.FinishReasonImageRecitation, genai.FinishReasonImageOther, genai.FinishReasonOther:
		return "content_filter"
	}
	return "stop"
}

// usage maps usageMetadata. Gemini's promptTokenCount already includes
// cached tokens, and thoughts are billed as output, so completion tokens
// are candidates + thoughts; tool-use prompt tokens count as prompt.
func usage(u *genai.GenerateContentResponseUsageMetadata) (*providers.Usage, *usageJSON) {
	if u == nil {
		return nil, nil
	}
	pu := &providers.Usage{
		PromptTokens:       int(u.PromptTokenCount + u.ToolUsePromptTokenCount),
		CompletionTokens:   int(u.CandidatesTokenCount + u.ThoughtsTokenCount),
		CachedPromptTokens: int(u.CachedContentTokenCount),
		ReasoningTokens:    int(u.ThoughtsTokenCount),
	}
	pu.TotalTokens = pu.PromptTokens + pu.CompletionTokens
	if t := int(u.TotalTokenCount); t > pu.TotalTokens {
		pu.TotalTokens = t
	}
	uj := &usageJSON{PromptTokens: pu.PromptTokens, CompletionTokens: pu.CompletionTokens, TotalTokens: pu.TotalTokens}
	if pu.CachedPromptTokens > 0 {
		uj.PromptTokensDetails = &promptDetailsJSON{CachedTokens: pu.CachedPromptTokens}
	}
	if pu.ReasoningTokens > 0 {
		uj.CompletionTokensDetails = &completionDetailJSON{ReasoningTokens: pu.ReasoningTokens}
	}
	return pu, uj
}

// toolCallFor renders a Gemini function call as an OpenAI tool call: the
// part's id when Gemini gave one, else a fresh call_ id; the arguments as
// a JSON string; the thought signature in extra_content.google.
func (p *Provider) toolCallFor(part *genai.Part) toolCallJSON {
	fc := part.FunctionCall
	id := fc.ID
	if id == "" {
		id = "call_" + p.newID()
	}
	args := "{}"
	if len(fc.Args) > 0 {
		args = string(marshal(fc.Args))
	}
	tc := toolCallJSON{ID: id, Type: "function", Function: functionJSON{Name: fc.Name, Arguments: args}}
	if len(part.ThoughtSignature) > 0 {
		tc.ExtraContent = &extraContent{Google: &struct {
			ThoughtSignature string `json:"thought_signature,omitempty"`
		}{ThoughtSignature: base64.StdEncoding.EncodeToString(part.ThoughtSignature)}}
	}
	return tc
}

func blocked(resp *genai.GenerateContentResponse) bool {
	return resp.PromptFeedback != nil && resp.PromptFeedback.BlockReason != "" &&
		resp.PromptFeedback.BlockReason != genai.BlockedReasonUnspecified
}

func sortedCandidates(cs []*genai.Candidate) []*genai.Candidate {
	out := make([]*genai.Candidate, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func (p *Provider) completionID(resp *genai.GenerateContentResponse) string {
	if resp != nil && resp.ResponseID != "" {
		return "chatcmpl-" + resp.ResponseID
	}
	return "chatcmpl-" + p.newID()
}

func responseModel(resp *genai.GenerateContentResponse, asked string) string {
	if resp != nil && resp.ModelVersion != "" {
		return resp.ModelVersion
	}
	return strings.TrimPrefix(asked, "models/")
}

// completion renders a unary response as an OpenAI chat.completion.
// Thought parts become message.reasoning_content.
func (p *Provider) completion(resp *genai.GenerateContentResponse, model string) ([]byte, *providers.Usage, string, *providers.Error) {
	out := completionJSON{
		ID: p.completionID(resp), Object: "chat.completion", Created: p.now().Unix(),
		Model: responseModel(resp, model), Choices: []choiceJSON{},
	}
	pu, uj := usage(resp.UsageMetadata)
	out.Usage = uj
	cands := sortedCandidates(resp.Candidates)
	if len(cands) == 0 {
		if !blocked(resp) {
			return nil, nil, "", &providers.Error{Provider: p.name, Status: http.StatusBadGateway, Type: providers.TypeUpstream,
				Retryable: true, Message: p.name + " answered without any candidate"}
		}
		out.Choices = append(out.Choices, choiceJSON{Index: 0, Message: messageJSON{Role: "assistant"}, FinishReason: "content_filter"})
	}
	for i, c := range cands {
		var text, reasoning strings.Builder
		var calls []toolCallJSON
		if c.Content != nil {
			for _, part := range c.Content.Parts {
				switch {
				case part == nil:
				case part.FunctionCall != nil:
					calls = append(calls, p.toolCallFor(part))
				case part.Thought:
					reasoning.WriteString(part.Text)
				default:
					text.WriteString(part.Text)
				}
			}
		}
		finish := finishReason(c.FinishReason, len(calls) > 0)
		msg := messageJSON{Role: "assistant", ReasoningContent: reasoning.String(), ToolCalls: calls}
		if text.Len() > 0 || (len(calls) == 0 && finish != "content_filter") {
			s := text.String()
			msg.Content = &s
		}
		out.Choices = append(out.Choices, choiceJSON{Index: i, Message: msg, FinishReason: finish})
	}
	return marshal(out), pu, out.Choices[0].FinishReason, nil
}

// Chat performs a chat completion: generateContent for unary requests,
// streamGenerateContent?alt=sse for streams.
func (p *Provider) Chat(ctx context.Context, req *providers.ChatRequest, sink providers.Sink) (_ *providers.Result, err error) {
	defer p.guard(&err)
	if perr := p.checkModel(req.Model); perr != nil {
		return nil, perr
	}
	tr, perr := p.translate(req.Body)
	if perr != nil {
		return nil, perr
	}
	if req.Stream {
		return p.stream(ctx, req, tr, sink)
	}
	ctx, ci := withCallInfo(ctx, req.FirstByte)
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	resp, gerr := p.client.Models.GenerateContent(ctx, req.Model, tr.contents, tr.config)
	res.Timing.End = time.Now()
	res.Timing.FirstByte, _, _ = ci.snapshot()
	if gerr != nil {
		return nil, p.mapError(ctx, ci, gerr)
	}
	body, pu, finish, perr := p.completion(resp, req.Model)
	if perr != nil {
		return nil, perr
	}
	res.Body, res.Usage, res.FinishReason = body, pu, finish
	return res, nil
}
