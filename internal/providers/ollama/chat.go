package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/ndjson"
	"github.com/tiergate/tiergate/internal/providers"
)

// Chat translates an OpenAI chat completion to /api/chat.
func (p *Provider) Chat(ctx context.Context, r *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	oreq, err := r.DecodeChat()
	if err != nil {
		return nil, err
	}
	creq, err := translateRequest(oreq, r.Model)
	if err != nil {
		return nil, err
	}
	stream := r.Stream
	creq.Stream = &stream
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, providers.BadRequest(err.Error(), "").In(p.name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/chat", bytes.NewReader(body))
	if err != nil {
		return nil, p.transportError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.transportError(err)
	}
	defer resp.Body.Close()
	res.Timing.FirstByte = time.Now()
	r.FirstByte()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, p.statusError(resp, b)
	}
	tr := newTranslator(r.Model, r.IncludeUsage)
	tr.logprobs = creq.Logprobs
	if !stream {
		return p.unary(resp.Body, res, tr)
	}
	return p.stream(ctx, resp.Body, sink, res, tr)
}

// unary reads a unary answer: one JSON object (with or without a newline).
func (p *Provider) unary(body io.Reader, res *providers.Result, tr *translator) (*providers.Result, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxLine))
	if err != nil {
		return nil, p.transportError(err)
	}
	cr, perr := p.parseLine(b, "an answer", true)
	if perr != nil {
		return nil, perr
	}
	if !cr.Done {
		return nil, providers.Upstream(p.name, p.name+" sent an answer without \"done\": true", true)
	}
	tr.accumulate(&cr.ChatResponse)
	p.finish(res, &cr.ChatResponse, tr)
	res.Body = p.red.Guard(tr.completion())
	return res, nil
}

// parseLine decodes one of Ollama's lines (what names it in the error:
// "an answer", "a line"); a line that carries an error becomes that
// error, one that is not JSON an upstream error, retryable as given.
func (p *Provider) parseLine(b []byte, what string, retryable bool) (*chatLine, *providers.Error) {
	var cr chatLine
	if err := json.Unmarshal(b, &cr); err != nil {
		return nil, providers.Upstream(p.name, p.name+" sent "+what+" that is not JSON: "+err.Error(), retryable)
	}
	if cr.Error != "" {
		return nil, p.lineError(cr.Error)
	}
	return &cr, nil
}

// stream translates each line as it arrives.
func (p *Provider) stream(ctx context.Context, body io.ReadCloser, sink providers.Sink, res *providers.Result, tr *translator) (*providers.Result, error) {
	rd := ndjson.NewReader(body, maxLine)
	for {
		line, err := rd.Next()
		if err != nil {
			res.Timing.End = time.Now()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return res, providers.Upstream(p.name, p.name+" closed the stream before its final \"done\": true line", !tr.sent)
			}
			return res, p.transportError(err)
		}
		cr, perr := p.parseLine(line, "a line", false)
		if perr != nil {
			return res, perr
		}
		if cr.Message.Content != "" || cr.Message.Thinking != "" || len(cr.Message.ToolCalls) > 0 {
			res.Timing.Content()
		}
		for _, c := range tr.chunks(&cr.ChatResponse) {
			c = p.red.Guard(c)
			if err := sink.Chunk(c); err != nil {
				return res, err
			}
		}
		if cr.Done {
			p.finish(res, &cr.ChatResponse, tr)
			providers.Drain(body, providers.DrainWait) // so that the connection is reused
			return res, nil
		}
	}
}

// finish records the final line's usage and Ollama's own timings.
func (p *Provider) finish(res *providers.Result, cr *api.ChatResponse, tr *translator) {
	res.Timing.End = time.Now()
	res.Usage = &providers.Usage{PromptTokens: cr.PromptEvalCount, CompletionTokens: cr.EvalCount, TotalTokens: cr.PromptEvalCount + cr.EvalCount}
	res.FinishReason = tr.finish
	res.Timing.Upstream = map[string]time.Duration{
		"load_duration": cr.LoadDuration, "prompt_eval_duration": cr.PromptEvalDuration,
		"eval_duration": cr.EvalDuration, "total_duration": cr.TotalDuration,
	}
}

type chatLine struct {
	api.ChatResponse
	Error string `json:"error"`
}
