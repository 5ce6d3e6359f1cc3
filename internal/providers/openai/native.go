package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/sse"
)

// responsesAPI is OpenAI's Responses API (inbound/responses.Name).
const responsesAPI = "openai.responses"

// Speaks implements providers.Native: an upstream configured with
// responses_api (OpenAI's own API by default) is given Responses
// requests as the client wrote them.
func (p *Provider) Speaks(api string) bool { return api == responsesAPI && p.responses }

// CallNative implements providers.Native for the Responses API: the
// client's body goes to POST /responses with only the model replaced
// (and tiergate's "route" member dropped); a unary answer comes back as
// the upstream wrote it, a stream's events pass on whole as they arrive.
// Usage and the finish reason are read from the response (the unary body,
// or the stream's response.completed or response.incomplete), so spend
// and limits count them.
//
// The stream's opening events (response.created, response.in_progress)
// are held back until the first output event, as the gateway holds a chat
// stream's role-only chunk: a stream that fails before any output (an
// error or response.failed event, or a cut) reaches the client as
// nothing, and the gateway can still try another backend. A failure
// after output is returned as an error, its event not passed on: the
// gateway ends the client's stream with response.failed and error events.
func (p *Provider) CallNative(ctx context.Context, r *providers.NativeRequest, sink providers.Sink) (*providers.Result, error) {
	if r.API != responsesAPI || !p.responses {
		return nil, providers.Internal(p.name, p.name+" does not pass "+r.API+" requests through")
	}
	body, err := openaiwire.Rewrite{Model: r.Model, Drop: []string{"route"}}.Pieces(r.Body)
	if err != nil {
		return nil, providers.BadRequest("invalid request body: "+err.Error(), "").In(p.name)
	}
	req, err := p.newRequest(ctx, http.MethodPost, "/responses", body)
	if err != nil {
		return nil, err
	}
	res := &providers.Result{}
	resp, err := p.send(req, &res.Timing, r.Stream, r.FirstByte)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !r.Stream {
		var probe responseProbe
		if err := p.readJSON(resp, res, &probe); err != nil {
			return nil, err
		}
		probe.fill(res)
		return res, nil
	}
	if err := p.eventStream(resp); err != nil {
		return nil, err
	}
	return p.nativeStream(ctx, resp.Body, sink, res)
}

// responseProbe is what the adapter reads of a Response object.
type responseProbe struct {
	Status            string `json:"status"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Output []struct {
		Type string `json:"type"`
	} `json:"output"`
	Usage *struct {
		InputTokens        int `json:"input_tokens"`
		OutputTokens       int `json:"output_tokens"`
		TotalTokens        int `json:"total_tokens"`
		InputTokensDetails *struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokensDetails *struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fill sets res's usage and finish reason (in chat's words) from the
// response.
func (pr *responseProbe) fill(res *providers.Result) {
	if u := pr.Usage; u != nil {
		res.Usage = &providers.Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.TotalTokens}
		if u.InputTokensDetails != nil {
			res.Usage.CachedPromptTokens = u.InputTokensDetails.CachedTokens
		}
		if u.OutputTokensDetails != nil {
			res.Usage.ReasoningTokens = u.OutputTokensDetails.ReasoningTokens
		}
	}
	switch {
	case pr.Status == "incomplete" && pr.IncompleteDetails != nil && pr.IncompleteDetails.Reason == "content_filter":
		res.FinishReason = "content_filter"
	case pr.Status == "incomplete":
		res.FinishReason = "length"
	case pr.Status == "completed":
		res.FinishReason = "stop"
		for _, o := range pr.Output {
			if o.Type == "function_call" {
				res.FinishReason = "tool_calls"
			}
		}
	}
}

// streamEvent is what the adapter reads of a terminal stream event:
// response.completed, .incomplete and .failed carry the response; error
// carries its code and message at the top.
type streamEvent struct {
	Type     string         `json:"type"`
	Response *responseProbe `json:"response"`
	Code     *string        `json:"code"`
	Message  string         `json:"message"`
}

// nativeStream passes a Responses event stream on.
func (p *Provider) nativeStream(ctx context.Context, body io.ReadCloser, sink providers.Sink, res *providers.Result) (*providers.Result, error) {
	rd := sse.NewReader(body, maxLine)
	var held []byte // the opening events, until the first output
	sent := false
	var buf []byte
	for {
		ev, err := rd.Next()
		if err != nil {
			res.Timing.End = time.Now()
			return res, p.readError(ctx, err, "response.completed", !sent)
		}
		name := string(ev.Name)
		if name == "" {
			var t struct {
				Type string `json:"type"`
			}
			json.Unmarshal(ev.Data, &t)
			name = t.Type
		}
		switch name {
		case "response.completed", "response.incomplete", "response.failed", "error":
			var se streamEvent
			if err := json.Unmarshal(ev.Data, &se); err != nil {
				return res, providers.Upstream(p.name, p.name+" sent a stream event that is not JSON: "+err.Error(), false)
			}
			if name == "response.failed" || name == "error" {
				res.Timing.End = time.Now()
				return res, p.nativeStreamError(&se, !sent)
			}
			if se.Response != nil {
				se.Response.fill(res)
			}
		}
		if strings.HasSuffix(name, ".delta") {
			if res.Timing.FirstToken.IsZero() {
				res.Timing.FirstToken = time.Now()
			}
			res.Timing.Chunks++
		}
		buf = frame(buf[:0], ev, p.red.Guard(ev.Data))
		if !sent && (name == "response.created" || name == "response.in_progress" || name == "response.queued") {
			held = append(held, buf...)
			continue
		}
		if !sent {
			sent = true
			buf = append(held, buf...)
			held = nil
		}
		final := name == "response.completed" || name == "response.incomplete"
		if bs, ok := sink.(providers.BufferedSink); ok && !final && rd.Ready() && res.Timing.Chunks != 1 {
			if err := bs.ChunkBuffered(buf); err != nil {
				return res, err
			}
			continue
		}
		if err := sink.Chunk(buf); err != nil {
			return res, err
		}
		if final {
			res.Timing.End = time.Now()
			providers.Drain(body, providers.DrainWait) // so that the connection is reused
			return res, nil
		}
	}
}

// frame appends one whole event as the upstream sent it: its event name,
// id and data lines and the blank line that ends it.
func frame(dst []byte, ev sse.Event, data []byte) []byte {
	if len(ev.Name) > 0 {
		dst = append(append(append(dst, "event: "...), ev.Name...), '\n')
	}
	if len(ev.ID) > 0 {
		dst = append(append(append(dst, "id: "...), ev.ID...), '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte("\n"))
		dst = append(append(append(dst, "data: "...), line...), '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(dst, '\n')
}

// nativeStreamError is a response.failed or error event as the gateway's
// error: retryable (another backend may answer) when nothing reached the
// client yet and the failure is the upstream's, not the request's.
func (p *Provider) nativeStreamError(se *streamEvent, retryable bool) *providers.Error {
	code, msg := "", se.Message
	if se.Code != nil {
		code = *se.Code
	}
	if se.Response != nil && se.Response.Error != nil {
		code, msg = se.Response.Error.Code, se.Response.Error.Message
	}
	if msg == "" {
		msg = "the response failed"
	}
	e := providers.Upstream(p.name, p.name+": "+p.scrub(msg), retryable && (code == "" || code == "server_error" || code == "rate_limit_exceeded"))
	if code == "rate_limit_exceeded" {
		e.Status, e.Type = http.StatusTooManyRequests, providers.TypeRateLimit
	}
	e.Code = p.scrub(code)
	p.log.Debug("upstream error event", "provider", p.name, "code", code, "message", e.Message)
	return e
}
