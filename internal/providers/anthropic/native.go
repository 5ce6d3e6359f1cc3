package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/sse"
)

// The client APIs the adapter passes through (inbound.API.Name).
const (
	apiMessages    = "anthropic.messages"
	apiCountTokens = "anthropic.messages.count_tokens"
)

// maxEventLine bounds a line of Anthropic's event stream.
const maxEventLine = 4 << 20

var _ providers.Native = (*Provider)(nil)

// Speaks implements providers.Native: the Messages API and its
// count_tokens are Anthropic's own.
func (p *Provider) Speaks(api string) bool { return api == apiMessages || api == apiCountTokens }

// firstByteAt is a middleware that notes when the response headers
// arrived and calls first (ChatRequest.FirstByte) if they did.
func firstByteAt(at *time.Time, first func()) option.RequestOption {
	return option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		*at = time.Now()
		if err == nil {
			first()
		}
		return resp, err
	})
}

// CallNative implements providers.Native. The client's body goes
// upstream unchanged but for its model, with the client's
// anthropic-version (else the adapter's: the configured header, else the
// SDK's) and anthropic-beta headers and the adapter's key. A stream's
// events go to sink one by one as they arrive, unchanged, but for an
// `error` event, which becomes the returned error (the gateway ends the
// client's stream with it, or falls back when nothing was sent); usage
// and the stop reason are read on the way for spend.
func (p *Provider) CallNative(ctx context.Context, req *providers.NativeRequest, sink providers.Sink) (*providers.Result, error) {
	if !p.Speaks(req.API) {
		return nil, providers.BadRequest(p.name+" does not pass "+req.API+" through", "")
	}
	body := req.Body
	if req.Model != "" {
		var err error
		if body, err = (openaiwire.Rewrite{Model: req.Model}).Apply(req.Body); err != nil {
			return nil, providers.BadRequest("invalid request body: "+err.Error(), "")
		}
	}
	res := &providers.Result{}
	opts := []option.RequestOption{firstByteAt(&res.Timing.FirstByte, req.FirstByte)}
	for k, vs := range req.Header {
		switch {
		case strings.EqualFold(k, "anthropic-version") && len(vs) > 0:
			opts = append(opts, option.WithHeader("anthropic-version", vs[0]))
		case strings.EqualFold(k, "anthropic-beta"):
			for _, v := range vs {
				opts = append(opts, option.WithHeaderAdd("anthropic-beta", v))
			}
		}
	}
	path := "v1/messages"
	stream := req.Stream && req.API == apiMessages
	switch {
	case req.API == apiCountTokens:
		path = "v1/messages/count_tokens"
		opts = append(opts, option.WithRequestTimeout(healthTimeout))
	case stream:
		opts = append(opts, option.WithHeader("Accept", "text/event-stream"))
	default:
		opts = append(opts, option.WithRequestTimeout(unaryTimeout))
	}
	res.Timing.Start = time.Now()
	var resp *http.Response
	if err := p.client.Post(ctx, path, body, &resp, opts...); err != nil {
		return nil, p.fail(err)
	}
	defer resp.Body.Close()
	if !stream {
		b, err := io.ReadAll(resp.Body)
		res.Timing.End = time.Now()
		if err != nil {
			return nil, p.fail(err)
		}
		res.Body = p.red.Guard(b)
		if req.API == apiMessages {
			var m sdk.Message
			if json.Unmarshal(b, &m) == nil && m.JSON.Usage.Valid() {
				res.Usage = messageTokens(&m.Usage).usage()
				res.FinishReason = finishReason(m.StopReason)
			}
		}
		return res, nil
	}
	return p.passStream(resp.Body, res, sink)
}

// passStream copies Anthropic's events to sink.
func (p *Provider) passStream(body io.ReadCloser, res *providers.Result, sink providers.Sink) (*providers.Result, error) {
	r := sse.NewReader(body, maxEventLine)
	var tok tokens
	var stop sdk.StopReason
	haveUsage, stopped := false, false
	var buf []byte
	for {
		ev, err := r.Next()
		if err != nil {
			res.Timing.End = time.Now()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, providers.Upstream(p.name, "Anthropic's stream ended before message_stop", true)
			}
			return nil, p.fail(err)
		}
		var e sdk.MessageStreamEventUnion
		if json.Unmarshal(ev.Data, &e) != nil {
			e.Type = string(ev.Name)
		}
		switch e.Type {
		case "error":
			var body struct {
				Error struct{ Type, Message string } `json:"error"`
			}
			json.Unmarshal(ev.Data, &body)
			pe := providers.StatusError(p.name, typeStatus(body.Error.Type), p.scrub(body.Error.Message), nil)
			pe.Code = body.Error.Type
			res.Timing.End = time.Now()
			return nil, pe
		case "message_start":
			tok, haveUsage = messageTokens(&e.Message.Usage), e.Message.JSON.Usage.Valid()
		case "message_delta":
			if e.Delta.StopReason != "" {
				stop = e.Delta.StopReason
			}
			if tok.delta(&e.Usage) {
				haveUsage = true
			}
		case "message_stop":
			stopped = true
		case "content_block_delta":
			if res.Timing.FirstToken.IsZero() {
				res.Timing.FirstToken = time.Now()
			}
			res.Timing.Chunks++
		}
		buf = append(buf[:0], "event: "...)
		buf = append(buf, ev.Name...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, bytes.ReplaceAll(ev.Data, []byte("\n"), []byte("\ndata: "))...)
		buf = append(buf, '\n', '\n')
		if err := sink.Chunk(p.red.Guard(buf)); err != nil {
			res.Timing.End = time.Now()
			return nil, err
		}
		if stopped {
			providers.Drain(body, providers.DrainWait)
			res.Timing.End = time.Now()
			break
		}
	}
	if haveUsage {
		res.Usage = tok.usage()
	}
	res.FinishReason = finishReason(stop)
	return res, nil
}
