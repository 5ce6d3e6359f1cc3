// Package ollama is the adapter for a local (or self-hosted) Ollama server.
// It speaks Ollama's native API (/api/chat, /api/embed, /api/tags) rather
// than its OpenAI-compatible layer, so that Ollama's own timing fields
// (load_duration, prompt_eval_duration, eval_duration and the token
// counts) reach the benchmark; requests and responses are translated to
// and from OpenAI's shapes, streaming, tool calls and images included.
//
// Types come from github.com/ollama/ollama/api; the streaming read is our
// own (internal/ndjson) because api.Client.Chat reports a cut stream as a
// clean end and allocates an 8 MiB buffer per call. It imports only
// providers, ndjson and its SDK.
package ollama

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	goopenai "github.com/sashabaranov/go-openai"

	"github.com/tiergate/tiergate/internal/ndjson"
	"github.com/tiergate/tiergate/internal/providers"
)

const maxLine = 16 << 20

// Provider talks to one Ollama server.
type Provider struct {
	name   string
	base   string
	hc     *http.Client
	client *api.Client
}

// New returns an adapter for the Ollama server at o.BaseURL, which may be
// given as Ollama's OLLAMA_HOST is (host:port without a scheme).
func New(o providers.Options) (*Provider, error) {
	base, err := NormalizeHost(o.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", o.Name, err)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	u, _ := url.Parse(base)
	return &Provider{name: o.Name, base: base, hc: hc, client: api.NewClient(u, hc)}, nil
}

// NormalizeHost turns an OLLAMA_HOST value into a base URL: a missing
// scheme means http, a missing port means 11434.
func NormalizeHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		h = "127.0.0.1:11434"
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ollama host %q is not a URL or host:port", h)
	}
	if u.Port() == "" {
		host := u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u.Host = host + ":11434"
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

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
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Message: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/chat", bytes.NewReader(body))
	if err != nil {
		return nil, providers.TransportError(p.name, err)
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
		return nil, providers.TransportError(p.name, err)
	}
	defer resp.Body.Close()
	res.Timing.FirstByte = time.Now()
	r.FirstByte()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, p.statusError(resp, b)
	}
	tr := newTranslator(r.Model, r.IncludeUsage)
	if !stream {
		// A unary answer is one JSON object (with or without a newline).
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxLine))
		if err != nil {
			return nil, providers.TransportError(p.name, err)
		}
		var cr chatLine
		if err := json.Unmarshal(b, &cr); err != nil {
			return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: true,
				Message: p.name + " sent an answer that is not JSON: " + err.Error()}
		}
		if cr.Error != "" {
			return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Message: p.name + ": " + cr.Error}
		}
		if !cr.Done {
			return nil, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: true,
				Message: p.name + " sent an answer without \"done\": true"}
		}
		tr.accumulate(&cr.ChatResponse)
		p.finish(res, &cr.ChatResponse, tr)
		res.Body = tr.completion()
		return res, nil
	}
	rd := ndjson.NewReader(resp.Body, maxLine)
	for {
		line, err := rd.Next()
		if err != nil {
			res.Timing.End = time.Now()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return res, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Retryable: !tr.sent,
					Message: p.name + " closed the stream before its final \"done\": true line"}
			}
			return res, providers.TransportError(p.name, err)
		}
		var cr chatLine
		if err := json.Unmarshal(line, &cr); err != nil {
			return res, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream,
				Message: p.name + " sent a line that is not JSON: " + err.Error()}
		}
		if cr.Error != "" {
			return res, &providers.Error{Provider: p.name, Status: 502, Type: providers.TypeUpstream, Message: p.name + ": " + cr.Error}
		}
		if cr.Message.Content != "" || cr.Message.Thinking != "" || len(cr.Message.ToolCalls) > 0 {
			if res.Timing.FirstToken.IsZero() {
				res.Timing.FirstToken = time.Now()
			}
			res.Timing.Chunks++
		}
		for _, c := range tr.chunks(&cr.ChatResponse) {
			if err := sink.Chunk(c); err != nil {
				return res, err
			}
		}
		if cr.Done {
			p.finish(res, &cr.ChatResponse, tr)
			providers.Drain(resp.Body, providers.DrainWait) // so that the connection is reused
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

func (p *Provider) statusError(resp *http.Response, body []byte) *providers.Error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	pe := providers.StatusError(p.name, resp.StatusCode, msg, resp.Header)
	if resp.StatusCode == http.StatusNotFound {
		pe.Code = "model_not_found"
		pe.Message = msg + " (pull it with `ollama pull`)"
	}
	return pe
}

// translateRequest maps an OpenAI chat request to Ollama's.
func translateRequest(o *goopenai.ChatCompletionRequest, model string) (*api.ChatRequest, error) {
	bad := func(param, msg string) error {
		return &providers.Error{Status: 400, Type: providers.TypeInvalidRequest, Param: param, Message: msg}
	}
	if o.N > 1 {
		return nil, bad("n", "Ollama returns one choice per request; n must be 1")
	}
	req := &api.ChatRequest{Model: model, Options: map[string]any{}}
	names := map[string]string{} // tool call id -> function name
	for i, m := range o.Messages {
		am := api.Message{Role: m.Role, Content: m.Content}
		if m.Role == "developer" {
			am.Role = "system"
		}
		for _, part := range m.MultiContent {
			switch part.Type {
			case goopenai.ChatMessagePartTypeText:
				if am.Content != "" {
					am.Content += "\n"
				}
				am.Content += part.Text
			case goopenai.ChatMessagePartTypeImageURL:
				if part.ImageURL == nil {
					return nil, bad(fmt.Sprintf("messages[%d].content", i), "image_url part without a url")
				}
				img, err := decodeDataURL(part.ImageURL.URL)
				if err != nil {
					return nil, bad(fmt.Sprintf("messages[%d].content", i), err.Error())
				}
				am.Images = append(am.Images, img)
			default:
				return nil, bad(fmt.Sprintf("messages[%d].content", i), fmt.Sprintf("Ollama cannot take %q content parts", part.Type))
			}
		}
		for _, tc := range m.ToolCalls {
			args := api.NewToolCallFunctionArguments()
			if strings.TrimSpace(tc.Function.Arguments) != "" {
				if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
					return nil, bad(fmt.Sprintf("messages[%d].tool_calls", i), "tool call arguments are not a JSON object: "+err.Error())
				}
			}
			names[tc.ID] = tc.Function.Name
			am.ToolCalls = append(am.ToolCalls, api.ToolCall{ID: tc.ID, Function: api.ToolCallFunction{Name: tc.Function.Name, Arguments: args}})
		}
		if m.Role == "tool" {
			am.ToolCallID = m.ToolCallID
			am.ToolName = names[m.ToolCallID]
			if am.ToolName == "" {
				am.ToolName = m.Name
			}
		}
		req.Messages = append(req.Messages, am)
	}
	for i, t := range o.Tools {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, bad(fmt.Sprintf("tools[%d]", i), err.Error())
		}
		var at api.Tool
		if err := json.Unmarshal(b, &at); err != nil {
			return nil, bad(fmt.Sprintf("tools[%d]", i), "Ollama cannot take this tool definition: "+err.Error())
		}
		req.Tools = append(req.Tools, at)
	}
	if tc, ok := o.ToolChoice.(string); ok && tc == "none" {
		req.Tools = nil
	}
	if o.Temperature != 0 {
		req.Options["temperature"] = o.Temperature
	}
	if o.TopP != 0 {
		req.Options["top_p"] = o.TopP
	}
	n := o.MaxCompletionTokens
	if n == 0 {
		//lint:ignore SA1019 clients still send max_tokens, and it means the same here
		n = o.MaxTokens
	}
	if n > 0 {
		req.Options["num_predict"] = n
	}
	if len(o.Stop) > 0 {
		req.Options["stop"] = o.Stop
	}
	if o.Seed != nil {
		req.Options["seed"] = *o.Seed
	}
	if o.PresencePenalty != 0 {
		req.Options["presence_penalty"] = o.PresencePenalty
	}
	if o.FrequencyPenalty != 0 {
		req.Options["frequency_penalty"] = o.FrequencyPenalty
	}
	if rf := o.ResponseFormat; rf != nil {
		switch rf.Type {
		case goopenai.ChatCompletionResponseFormatTypeJSONObject:
			req.Format = json.RawMessage(`"json"`)
		case goopenai.ChatCompletionResponseFormatTypeJSONSchema:
			if rf.JSONSchema != nil && rf.JSONSchema.Schema != nil {
				b, err := json.Marshal(rf.JSONSchema.Schema)
				if err != nil {
					return nil, bad("response_format", err.Error())
				}
				req.Format = b
			}
		}
	}
	if o.LogProbs {
		req.Logprobs = true
		req.TopLogprobs = o.TopLogProbs
	}
	if len(req.Options) == 0 {
		req.Options = nil
	}
	return req, nil
}

func decodeDataURL(u string) (api.ImageData, error) {
	if !strings.HasPrefix(u, "data:") {
		//lint:ignore ST1005 Ollama is a name
		return nil, errors.New("Ollama needs images inline: send them as data: URLs (base64), not links")
	}
	comma := strings.IndexByte(u, ',')
	if comma < 0 || !strings.HasSuffix(u[:comma], ";base64") {
		return nil, errors.New("image data URL must be base64 encoded (data:image/png;base64,...)")
	}
	b, err := base64.StdEncoding.DecodeString(u[comma+1:])
	if err != nil {
		return nil, errors.New("image data URL is not valid base64")
	}
	return b, nil
}

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
	calls             []goopenai.ToolCall
	last              api.ChatResponse
}

func newTranslator(model string, includeUsage bool) *translator {
	now := time.Now()
	return &translator{id: "chatcmpl-" + strconv.FormatInt(now.UnixNano(), 36), model: model, created: now.Unix(), includeUsage: includeUsage}
}

type chunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []chunkChoice   `json:"choices"`
	Usage   *goopenai.Usage `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type delta struct {
	Role             string              `json:"role,omitempty"`
	Content          *string             `json:"content,omitempty"`
	ReasoningContent string              `json:"reasoning_content,omitempty"`
	ToolCalls        []goopenai.ToolCall `json:"tool_calls,omitempty"`
}

func (t *translator) marshal(d delta, finish *string, usage *goopenai.Usage) []byte {
	c := chunk{ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model, Usage: usage}
	if usage == nil {
		c.Choices = []chunkChoice{{Delta: d, FinishReason: finish}}
	} else {
		c.Choices = []chunkChoice{}
	}
	b, _ := json.Marshal(c)
	return b
}

func (t *translator) toolCalls(calls []api.ToolCall) []goopenai.ToolCall {
	var out []goopenai.ToolCall
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
		out = append(out, goopenai.ToolCall{Index: &idx, ID: id, Type: goopenai.ToolTypeFunction,
			Function: goopenai.FunctionCall{Name: tc.Function.Name, Arguments: string(args)}})
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
		empty := ""
		out = append(out, t.marshal(delta{Role: "assistant", Content: &empty}, nil, nil))
	}
	if r.Message.Thinking != "" {
		out = append(out, t.marshal(delta{ReasoningContent: r.Message.Thinking}, nil, nil))
	}
	if r.Message.Content != "" {
		c := r.Message.Content
		out = append(out, t.marshal(delta{Content: &c}, nil, nil))
	}
	if len(r.Message.ToolCalls) > 0 {
		out = append(out, t.marshal(delta{ToolCalls: t.toolCalls(r.Message.ToolCalls)}, nil, nil))
	}
	if r.Done {
		t.finish = t.finishReason(r)
		f := t.finish
		out = append(out, t.marshal(delta{}, &f, nil))
		if t.includeUsage {
			out = append(out, t.marshal(delta{}, nil, &goopenai.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount, TotalTokens: r.PromptEvalCount + r.EvalCount}))
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
	msg := map[string]any{"role": "assistant", "content": t.content.String()}
	if t.thinking.Len() > 0 {
		msg["reasoning_content"] = t.thinking.String()
	}
	if len(t.calls) > 0 {
		for i := range t.calls {
			t.calls[i].Index = nil
		}
		msg["tool_calls"] = t.calls
		if t.content.Len() == 0 {
			msg["content"] = nil
		}
	}
	r := &t.last
	b, _ := json.Marshal(map[string]any{
		"id": t.id, "object": "chat.completion", "created": t.created, "model": t.model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": t.finish, "logprobs": nil}},
		"usage":   goopenai.Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount, TotalTokens: r.PromptEvalCount + r.EvalCount},
	})
	return b
}

// Embed translates an OpenAI embeddings request to /api/embed.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	var o struct {
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil {
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Message: err.Error()}
	}
	var inputs []string
	var one string
	if json.Unmarshal(o.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(o.Input, &inputs) != nil {
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Param: "input",
			Message: "Ollama embeds text: input must be a string or an array of strings (token arrays are not supported)"}
	}
	if o.EncodingFormat != "" && o.EncodingFormat != "float" && o.EncodingFormat != "base64" {
		return nil, &providers.Error{Provider: p.name, Status: 400, Type: providers.TypeInvalidRequest, Param: "encoding_format",
			Message: "encoding_format must be float or base64"}
	}
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	er, err := p.client.Embed(ctx, &api.EmbedRequest{Model: r.Model, Input: inputs, Dimensions: o.Dimensions})
	res.Timing.End = time.Now()
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	res.Timing.FirstByte = res.Timing.End
	data := make([]map[string]any, len(er.Embeddings))
	for i, e := range er.Embeddings {
		var v any = e
		if o.EncodingFormat == "base64" {
			b := make([]byte, 4*len(e))
			for j, f := range e {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			v = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
	}
	res.Usage = &providers.Usage{PromptTokens: er.PromptEvalCount, TotalTokens: er.PromptEvalCount}
	res.Timing.Upstream = map[string]time.Duration{"load_duration": er.LoadDuration, "total_duration": er.TotalDuration}
	res.Body, _ = json.Marshal(map[string]any{"object": "list", "data": data, "model": r.Model,
		"usage": map[string]int{"prompt_tokens": er.PromptEvalCount, "total_tokens": er.PromptEvalCount}})
	return res, nil
}

func (p *Provider) apiError(ctx context.Context, err error) *providers.Error {
	if ctx.Err() != nil {
		return providers.TransportError(p.name, ctx.Err())
	}
	var se api.StatusError
	if errors.As(err, &se) {
		pe := providers.StatusError(p.name, se.StatusCode, se.ErrorMessage, nil)
		return pe
	}
	return providers.TransportError(p.name, err)
}

// Models lists the installed models (/api/tags).
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	lr, err := p.client.List(ctx)
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	out := make([]string, 0, len(lr.Models))
	for _, m := range lr.Models {
		out = append(out, m.Name)
	}
	return out, nil
}

// Capabilities reports what an installed model can do, from /api/show
// ("completion", "vision", "tools", "embedding", "thinking").
func (p *Provider) Capabilities(ctx context.Context, model string) ([]string, error) {
	sr, err := p.client.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	caps := make([]string, 0, len(sr.Capabilities))
	for _, c := range sr.Capabilities {
		caps = append(caps, string(c))
	}
	return caps, nil
}

// Health asks for the server's version: no model is loaded.
func (p *Provider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := p.client.Version(ctx); err != nil {
		return p.apiError(ctx, err)
	}
	return nil
}
