// Package openai is the adapter for OpenAI and every server that speaks
// OpenAI's API: Groq, vLLM, TGI's Messages API, LM Studio, llama.cpp's
// server. Requests pass through with only "model" rewritten (and
// stream_options.include_usage asked for), so fields the gateway does not
// know reach the upstream unchanged; responses pass back as they arrive.
// go-openai's types are used to read what the adapter needs (usage, deltas,
// errors, model lists). It imports only providers, sse and wire.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/sse"
)

// maxUnary bounds a unary response body; maxLine bounds one SSE line.
const (
	maxUnary = 64 << 20
	maxLine  = 8 << 20
)

// Provider talks to one OpenAI-compatible base URL.
type Provider struct {
	name    string
	base    string // without trailing slash, e.g. https://api.openai.com/v1
	auth    string // "Bearer KEY" or ""
	keyEnv  string
	headers map[string]string
	hc      *http.Client
}

// New returns an adapter for o.BaseURL.
func New(o providers.Options) (*Provider, error) {
	if o.BaseURL == "" {
		return nil, fmt.Errorf("provider %s: base_url is empty", o.Name)
	}
	if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
		return nil, fmt.Errorf("provider %s: base_url %q must start with http:// or https://", o.Name, o.BaseURL)
	}
	p := &Provider{
		name:    o.Name,
		base:    strings.TrimRight(o.BaseURL, "/"),
		keyEnv:  o.KeyEnv,
		headers: o.Headers,
		hc:      o.HTTPClient,
	}
	if o.APIKey != "" {
		p.auth = "Bearer " + o.APIKey
	}
	if p.hc == nil {
		p.hc = DefaultHTTPClient()
	}
	return p, nil
}

// DefaultHTTPClient is an HTTP client for upstream calls: bounded connect
// and header waits, generous idle pools, no overall timeout (a stream may
// run for minutes; the request context bounds it).
func DefaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

func (p *Provider) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 500, Type: providers.TypeServer, Message: "cannot build the upstream request: " + err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// do sends req and turns non-2xx answers into *providers.Error.
func (p *Provider) do(req *http.Request) (*http.Response, error) {
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, providers.TransportError(p.name, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, p.statusError(resp, b)
}

func (p *Provider) statusError(resp *http.Response, body []byte) *providers.Error {
	var er goopenai.ErrorResponse
	msg := ""
	var code, param, typ string
	if json.Unmarshal(body, &er) == nil && er.Error != nil {
		msg = er.Error.Message
		typ = er.Error.Type
		if er.Error.Param != nil {
			param = *er.Error.Param
		}
		switch c := er.Error.Code.(type) {
		case string:
			code = c
		case float64:
			code = fmt.Sprint(c)
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
		msg = s
	}
	e := providers.StatusError(p.name, resp.StatusCode, msg, resp.Header)
	if resp.StatusCode == http.StatusUnauthorized {
		e.Message = p.name + " rejected the API key"
		if p.keyEnv != "" {
			e.Message += ": check " + p.keyEnv
		}
		if msg != "" {
			e.Message += " (" + redact(msg) + ")"
		}
	} else if e.Status < 500 && msg != "" {
		e.Message = redact(msg)
	}
	if resp.StatusCode < 500 {
		if typ != "" {
			e.Type = typ
		}
		e.Code, e.Param = code, param
	}
	return e
}

// redact removes what looks like an API key from an upstream message:
// OpenAI's 401 message quotes the (masked) key it was given.
func redact(msg string) string {
	fields := strings.Fields(msg)
	changed := false
	for i, f := range fields {
		t := strings.Trim(f, ".,:;'\"`")
		if (strings.HasPrefix(t, "sk-") || strings.HasPrefix(t, "gsk_") || strings.HasPrefix(t, "sk_")) && len(t) > 8 {
			fields[i] = strings.Replace(f, t, "[redacted]", 1)
			changed = true
		}
	}
	if !changed {
		return msg
	}
	return strings.Join(fields, " ")
}

// Chat forwards a chat completion.
func (p *Provider) Chat(ctx context.Context, r *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	// The rewritten body is sent as pieces of the client's: not copied.
	body, err := openaiwire.Rewrite{Model: r.Model, ForceUsage: r.Stream, Drop: []string{"route"}}.Pieces(r.Body)
	if err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Message: "invalid request body: " + err.Error()}
	}
	req, err := p.newRequest(ctx, http.MethodPost, "/chat/completions", nil)
	if err != nil {
		return nil, err
	}
	req.Body, req.ContentLength = io.NopCloser(body.Reader()), int64(body.Len())
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.Reader()), nil }
	req.Header.Set("Content-Type", "application/json")
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	if r.Stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res.Timing.FirstByte = time.Now()
	r.FirstByte()
	if !r.Stream {
		return p.unary(resp, res)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		// Some servers answer a stream request with a JSON error and 200.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: true,
			Message: fmt.Sprintf("%s answered a stream request with %q instead of an event stream: %.200s", p.name, ct, b)}
	}
	return p.stream(ctx, resp.Body, r.IncludeUsage, sink, res)
}

func (p *Provider) unary(resp *http.Response, res *providers.Result) (*providers.Result, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUnary))
	res.Timing.End = time.Now()
	if err != nil {
		return nil, providers.TransportError(p.name, err)
	}
	var probe struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *goopenai.Usage `json:"usage"`
		XGroq *struct {
			Usage *groqUsage `json:"usage"`
		} `json:"x_groq"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: true,
			Message: p.name + " sent a response that is not JSON: " + err.Error()}
	}
	res.Body = b
	if probe.Usage != nil {
		res.Usage = convUsage(probe.Usage)
	}
	if len(probe.Choices) > 0 {
		res.FinishReason = probe.Choices[0].FinishReason
	}
	return res, nil
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

// chunkProbe is what the adapter reads of each streamed chunk.
type chunkProbe struct {
	Choices []struct{} `json:"choices"`
	Usage   *struct {
		goopenai.Usage
		groqUsage
	} `json:"usage"`
	XGroq *struct {
		Usage *struct {
			goopenai.Usage
			groqUsage
		} `json:"usage"`
	} `json:"x_groq"`
	Error *goopenai.APIError `json:"error"`
}

func (p *Provider) stream(ctx context.Context, body io.ReadCloser, includeUsage bool, sink providers.Sink, res *providers.Result) (*providers.Result, error) {
	rd := sse.NewReader(body, maxLine)
	for {
		ev, err := rd.Next()
		if err != nil {
			res.Timing.End = time.Now()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return res, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: true,
					Message: p.name + " closed the stream before its end marker"}
			}
			return res, providers.TransportError(p.name, err)
		}
		data := ev.Data
		if bytes.Equal(data, []byte("[DONE]")) {
			res.Timing.End = time.Now()
			providers.Drain(body, providers.DrainWait) // so that the connection is reused
			return res, nil
		}
		f := scanChunk(data)
		if f.content {
			if res.Timing.FirstToken.IsZero() {
				res.Timing.FirstToken = time.Now()
			}
			res.Timing.Chunks++
		}
		if f.finish != nil {
			res.FinishReason = string(f.finish)
		}
		if f.usage || f.errorObj {
			var c chunkProbe
			if err := json.Unmarshal(data, &c); err != nil {
				return res, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream,
					Message: p.name + " sent a stream chunk that is not JSON: " + err.Error()}
			}
			if c.Error != nil && c.Error.Message != "" {
				// OpenAI-compatible servers report a mid-stream failure as
				// a chunk holding an error object.
				e := &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Message: p.name + ": " + c.Error.Message}
				if c.Error.Type != "" {
					e.Type = c.Error.Type
				}
				return res, e
			}
			usageOnly := false
			if c.Usage != nil {
				res.Usage = convUsage(&c.Usage.Usage)
				if t := c.Usage.groqUsage.timings(); t != nil {
					res.Timing.Upstream = t
				}
				usageOnly = len(c.Choices) == 0
			} else if c.XGroq != nil && c.XGroq.Usage != nil {
				res.Usage = convUsage(&c.XGroq.Usage.Usage)
				res.Timing.Upstream = c.XGroq.Usage.groqUsage.timings()
			}
			if usageOnly && !includeUsage {
				continue // the gateway asked for usage; the client did not
			}
		}
		// Chunks already followed by the next are written without a flush,
		// except the first content chunk: it leaves at once, as the client
		// times its first token by it.
		if bs, ok := sink.(providers.BufferedSink); ok && rd.Ready() && !(f.content && res.Timing.Chunks == 1) {
			if err := bs.ChunkBuffered(data); err != nil {
				return res, err
			}
			continue
		}
		if err := sink.Chunk(data); err != nil {
			return res, err
		}
	}
}

func convUsage(u *goopenai.Usage) *providers.Usage {
	out := &providers.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		out.CachedPromptTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}

// Embed forwards an embeddings request.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	body, err := openaiwire.Rewrite{Model: r.Model, Drop: []string{"route"}}.Apply(r.Body)
	if err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Message: "invalid request body: " + err.Error()}
	}
	req, err := p.newRequest(ctx, http.MethodPost, "/embeddings", body)
	if err != nil {
		return nil, err
	}
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res.Timing.FirstByte = time.Now()
	return p.unary(resp, res)
}

// Models lists the upstream's models (GET /models).
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	req, err := p.newRequest(ctx, http.MethodGet, "/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list goopenai.ModelsList
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxUnary)).Decode(&list); err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Message: p.name + " sent a model list that is not JSON: " + err.Error()}
	}
	ids := make([]string, 0, len(list.Models))
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// Health lists models with a short deadline: it checks reachability and
// the key without spending tokens.
func (p *Provider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := p.Models(ctx)
	return err
}
