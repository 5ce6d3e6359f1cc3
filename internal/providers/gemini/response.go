package gemini

import (
	"encoding/base64"
	"sort"
	"strings"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

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
func usage(u *genai.GenerateContentResponseUsageMetadata) (*providers.Usage, *openaiwire.Usage) {
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
	uj := &openaiwire.Usage{PromptTokens: pu.PromptTokens, CompletionTokens: pu.CompletionTokens, TotalTokens: pu.TotalTokens}
	if pu.CachedPromptTokens > 0 {
		uj.PromptTokensDetails = &openaiwire.PromptTokensDetails{CachedTokens: pu.CachedPromptTokens}
	}
	if pu.ReasoningTokens > 0 {
		uj.CompletionTokensDetails = &openaiwire.CompletionTokensDetails{ReasoningTokens: pu.ReasoningTokens}
	}
	return pu, uj
}

// toolCallFor renders a Gemini function call as an OpenAI tool call: the
// part's id when Gemini gave one, else a fresh call_ id; the arguments as
// a JSON string; the thought signature in extra_content.google.
func (p *Provider) toolCallFor(part *genai.Part) openaiwire.ToolCall {
	fc := part.FunctionCall
	id := fc.ID
	if id == "" {
		id = "call_" + p.newID()
	}
	args := "{}"
	if len(fc.Args) > 0 {
		b, _ := openaiwire.Marshal(fc.Args)
		args = string(b)
	}
	tc := openaiwire.ToolCall{ID: id, Type: "function", Function: openaiwire.FunctionCall{Name: fc.Name, Arguments: args}}
	if len(part.ThoughtSignature) > 0 {
		tc.ExtraContent = &openaiwire.ExtraContent{Google: &struct {
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
	out := openaiwire.ChatCompletion{
		ID: p.completionID(resp), Object: "chat.completion", Created: p.now().Unix(),
		Model: responseModel(resp, model), Choices: []openaiwire.Choice{},
	}
	pu, uj := usage(resp.UsageMetadata)
	out.Usage = uj
	cands := sortedCandidates(resp.Candidates)
	if len(cands) == 0 {
		if !blocked(resp) {
			return nil, nil, "", providers.Upstream(p.name, p.name+" answered without any candidate", true)
		}
		out.Choices = append(out.Choices, openaiwire.Choice{Index: 0, Message: openaiwire.ResponseMessage{Role: "assistant"}, FinishReason: openaiwire.Ptr("content_filter")})
	}
	for i, c := range cands {
		var text, reasoning strings.Builder
		var calls []openaiwire.ToolCall
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
		msg := openaiwire.ResponseMessage{Role: "assistant", ReasoningContent: reasoning.String(), ToolCalls: calls}
		if text.Len() > 0 || (len(calls) == 0 && finish != "content_filter") {
			s := text.String()
			msg.Content = &s
		}
		out.Choices = append(out.Choices, openaiwire.Choice{Index: i, Message: msg, FinishReason: openaiwire.Ptr(finish)})
	}
	return openaiwire.MustMarshal(out), pu, *out.Choices[0].FinishReason, nil
}
