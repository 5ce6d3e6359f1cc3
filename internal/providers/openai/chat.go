package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/sse"
)

// Chat forwards a chat completion.
func (p *Provider) Chat(ctx context.Context, r *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	resp, res, err := p.post(ctx, "/chat/completions", r.Body, r.Model, r.Stream, r.FirstByte)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !r.Stream {
		return p.unary(resp, res)
	}
	if err := p.eventStream(resp); err != nil {
		return nil, err
	}
	return p.stream(ctx, resp.Body, r.IncludeUsage, sink, res)
}

var done = []byte("[DONE]")

// stream passes each event on as it arrives. Only chunks the byte scan
// finds to hold usage or an error are decoded; a chunk is scrubbed only
// when it holds the key.
func (p *Provider) stream(ctx context.Context, body io.ReadCloser, includeUsage bool, sink providers.Sink, res *providers.Result) (*providers.Result, error) {
	rd := sse.NewReader(body, maxLine)
	for {
		ev, err := rd.Next()
		if err != nil {
			res.Timing.End = time.Now()
			return res, p.readError(ctx, err, "its end marker", true)
		}
		data := ev.Data
		if bytes.Equal(data, done) {
			res.Timing.End = time.Now()
			providers.Drain(body, providers.DrainWait) // so that the connection is reused
			return res, nil
		}
		f := scanChunk(data)
		if f.content {
			res.Timing.Content()
		}
		if f.finish != nil {
			res.FinishReason = string(f.finish)
		}
		if f.usage || f.errorObj {
			var c chunkProbe
			if err := json.Unmarshal(data, &c); err != nil {
				return res, providers.Upstream(p.name, p.name+" sent a stream chunk that is not JSON: "+err.Error(), false)
			}
			if c.Error != nil && c.Error.Message != "" {
				// OpenAI-compatible servers report a mid-stream failure as
				// a chunk holding an error object.
				return res, p.streamError(c.Error)
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
		data = p.red.Guard(data)
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

// readError is a failed read of a stream as the gateway's error: the
// caller's cancellation, the upstream closing the stream before end (the
// error retryable as said), or a transport failure.
func (p *Provider) readError(ctx context.Context, err error, end string, retryable bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return providers.Upstream(p.name, p.name+" closed the stream before "+end, retryable)
	}
	return p.transportError(err)
}
