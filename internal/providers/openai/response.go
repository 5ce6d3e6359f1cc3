package openai

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// unary reads a whole answer (see readJSON), decoding only its usage and
// finish reason.
func (p *Provider) unary(resp *http.Response, res *providers.Result) (*providers.Result, error) {
	var probe struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *openaiwire.Usage `json:"usage"`
	}
	if err := p.readJSON(resp, res, &probe); err != nil {
		return nil, err
	}
	if probe.Usage != nil {
		res.Usage = convUsage(probe.Usage)
	}
	if len(probe.Choices) > 0 {
		res.FinishReason = probe.Choices[0].FinishReason
	}
	return res, nil
}

// readJSON reads a whole JSON answer into probe (what the adapter reads
// of it) and keeps it in res.Body, which passes back as the upstream
// wrote it (scrubbed of the key should it hold it).
func (p *Provider) readJSON(resp *http.Response, res *providers.Result, probe any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUnary))
	res.Timing.End = time.Now()
	if err != nil {
		return p.transportError(err)
	}
	if err := json.Unmarshal(b, probe); err != nil {
		return providers.Upstream(p.name, p.name+" sent a response that is not JSON: "+err.Error(), true)
	}
	res.Body = p.red.Guard(b)
	return nil
}

// groqUsage is the timing part of Groq's usage object (seconds).
type groqUsage struct {
	QueueTime      float64 `json:"queue_time"`
	PromptTime     float64 `json:"prompt_time"`
	CompletionTime float64 `json:"completion_time"`
	TotalTime      float64 `json:"total_time"`
}

func (g *groqUsage) timings() map[string]time.Duration {
	if g == nil || g.TotalTime == 0 {
		return nil
	}
	s := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	return map[string]time.Duration{"queue_time": s(g.QueueTime), "prompt_time": s(g.PromptTime),
		"completion_time": s(g.CompletionTime), "total_time": s(g.TotalTime)}
}

// usageWithTimes is a usage object as OpenAI and Groq write it.
type usageWithTimes struct {
	openaiwire.Usage
	groqUsage
}

// chunkProbe is what the adapter decodes of a streamed chunk that the
// byte scan found to hold usage or an error.
type chunkProbe struct {
	Choices []struct{}      `json:"choices"`
	Usage   *usageWithTimes `json:"usage"`
	XGroq   *struct {
		Usage *usageWithTimes `json:"usage"`
	} `json:"x_groq"`
	Error *openaiwire.ErrorObject `json:"error"`
}

func convUsage(u *openaiwire.Usage) *providers.Usage {
	out := &providers.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		out.CachedPromptTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}
