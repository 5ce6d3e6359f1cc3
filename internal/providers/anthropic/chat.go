package anthropic

import (
	"context"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/tiergate/tiergate/internal/providers"
)

// Chat performs a chat completion, streamed when req.Stream is set.
func (p *Provider) Chat(ctx context.Context, req *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	params, perr := translate(req.Body, req.Model, p.maxTokens, p.legacy)
	if perr != nil {
		perr.Provider = p.name
		return nil, perr
	}
	res := &providers.Result{}
	var firstByte time.Time
	opts := []option.RequestOption{firstByteAt(&firstByte, req.FirstByte)}
	res.Timing.Start = time.Now()
	if !req.Stream {
		opts = append(opts, option.WithRequestTimeout(unaryTimeout))
		msg, err := p.client.Messages.New(ctx, *params, opts...)
		res.Timing.FirstByte, res.Timing.End = firstByte, time.Now()
		if err != nil {
			return nil, p.fail(err)
		}
		body, usage, fr, err := completionBody(msg, p.now().Unix())
		if err != nil {
			return nil, p.fail(err)
		}
		res.Body, res.Usage, res.FinishReason = p.red.Guard(body), usage, fr
		return res, nil
	}

	stream := p.client.Messages.NewStreaming(ctx, *params, opts...)
	defer stream.Close()
	res.Timing.FirstByte = firstByte // the call returns once the headers are in
	st := &streamState{created: p.now().Unix()}
	var out []chunkOut
	for stream.Next() {
		ev := stream.Current()
		out = st.handle(&ev, req.IncludeUsage, out[:0])
		for _, c := range out {
			if c.content {
				res.Timing.Content()
			}
			c.data = p.red.Guard(c.data)
			if err := sink.Chunk(c.data); err != nil {
				// The client went away: stop reading, which cancels
				// the upstream body. The sink's own error is returned
				// so that the caller recognises it.
				res.Timing.End = time.Now()
				return nil, err
			}
		}
	}
	res.Timing.End = time.Now()
	if err := stream.Err(); err != nil {
		return nil, p.fail(err)
	}
	if !st.stopped {
		return nil, providers.Upstream(p.name, "Anthropic's stream ended before message_stop", true)
	}
	if st.haveUsage {
		res.Usage = st.tok.usage()
	}
	res.FinishReason = finishReason(st.stop)
	return res, nil
}
