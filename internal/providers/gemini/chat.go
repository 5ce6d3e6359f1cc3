package gemini

import (
	"context"
	"sort"
	"time"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

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
	res.Body, res.Usage, res.FinishReason = p.red.Guard(body), pu, finish
	return res, nil
}

// choiceState tracks one streamed choice (one Gemini candidate).
type choiceState struct {
	roleSent bool
	calls    int                // tool calls emitted so far
	finish   genai.FinishReason // last finishReason seen, "" while open
}

// streamer turns streamGenerateContent responses into chat.completion.chunk
// payloads as they arrive.
type streamer struct {
	p       *Provider
	req     *providers.ChatRequest
	sink    providers.Sink
	res     *providers.Result
	id      string
	model   string
	created int64
	choices map[int]*choiceState
	usage   *genai.GenerateContentResponseUsageMetadata
	blocked bool
}

func (s *streamer) emit(c openaiwire.ChatCompletionChunk) error {
	b := openaiwire.MustMarshal(c)
	b = s.p.red.Guard(b)
	return s.sink.Chunk(b)
}

func (s *streamer) chunk(choices ...openaiwire.ChunkChoice) openaiwire.ChatCompletionChunk {
	return openaiwire.ChatCompletionChunk{ID: s.id, Object: openaiwire.ObjectChunk, Created: s.created, Model: s.model, Choices: choices}
}

// content sends one content-carrying delta for choice idx, adding the
// assistant role to the choice's first delta.
func (s *streamer) content(idx int, d openaiwire.Delta) error {
	st := s.state(idx)
	if !st.roleSent {
		d.Role = "assistant"
		st.roleSent = true
	}
	s.res.Timing.Content()
	return s.emit(s.chunk(openaiwire.ChunkChoice{Index: idx, Delta: d}))
}

func (s *streamer) state(idx int) *choiceState {
	st := s.choices[idx]
	if st == nil {
		st = &choiceState{}
		s.choices[idx] = st
	}
	return st
}

func (s *streamer) handle(resp *genai.GenerateContentResponse) error {
	if s.id == "" {
		s.id = s.p.completionID(resp)
		s.model = responseModel(resp, s.req.Model)
	}
	if resp.UsageMetadata != nil {
		s.usage = resp.UsageMetadata // running totals: the last one wins
	}
	if blocked(resp) {
		s.blocked = true
	}
	for _, c := range resp.Candidates {
		if c == nil {
			continue
		}
		idx := int(c.Index)
		st := s.state(idx)
		if c.Content != nil {
			for _, part := range c.Content.Parts {
				if err := s.part(idx, st, part); err != nil {
					return err
				}
			}
		}
		if c.FinishReason != "" && c.FinishReason != genai.FinishReasonUnspecified {
			st.finish = c.FinishReason
		}
	}
	return nil
}

func (s *streamer) part(idx int, st *choiceState, part *genai.Part) error {
	switch {
	case part == nil:
		return nil
	case part.FunctionCall != nil:
		// Gemini sends a call whole: announce it (id, type, name), then
		// send its arguments in one piece, as OpenAI's chunks are shaped.
		tc := s.p.toolCallFor(part)
		n := st.calls
		st.calls++
		head := openaiwire.ToolCall{Index: &n, ID: tc.ID, Type: tc.Type, Function: openaiwire.FunctionCall{Name: tc.Function.Name}, ExtraContent: tc.ExtraContent}
		if err := s.content(idx, openaiwire.Delta{ToolCalls: []openaiwire.ToolCall{head}}); err != nil {
			return err
		}
		return s.content(idx, openaiwire.Delta{ToolCalls: []openaiwire.ToolCall{{Index: &n, Function: openaiwire.FunctionCall{Arguments: tc.Function.Arguments}}}})
	case part.Text == "":
		return nil
	case part.Thought:
		t := part.Text
		return s.content(idx, openaiwire.Delta{ReasoningContent: &t})
	default:
		t := part.Text
		return s.content(idx, openaiwire.Delta{Content: &t})
	}
}

// finish sends each choice's finish_reason, then the usage chunk when the
// client asked for it. A stream in which a choice never got a finish
// reason was cut off, and is an error, not a clean end.
func (s *streamer) finish() error {
	if s.id == "" {
		s.id = s.p.completionID(nil)
		s.model = responseModel(nil, s.req.Model)
	}
	idxs := make([]int, 0, len(s.choices))
	for idx := range s.choices {
		idxs = append(idxs, idx)
	}
	sort.Ints(idxs)
	if len(idxs) == 0 && !s.blocked {
		return providers.Upstream(s.p.name, s.p.name+" stream ended without any candidate", true)
	}
	for _, idx := range idxs {
		if s.choices[idx].finish == "" && !s.blocked {
			return providers.Upstream(s.p.name, s.p.name+" stream ended before the model finished (no finishReason): the response is incomplete", true)
		}
	}
	if len(idxs) == 0 { // prompt blocked: no candidate at all
		idxs = []int{0}
		s.state(0)
	}
	for _, idx := range idxs {
		st := s.choices[idx]
		reason := finishReason(st.finish, st.calls > 0)
		if s.blocked && st.finish == "" {
			reason = "content_filter"
		}
		if idx == idxs[0] {
			s.res.FinishReason = reason
		}
		d := openaiwire.Delta{}
		if !st.roleSent {
			d.Role = "assistant"
			st.roleSent = true
		}
		if err := s.emit(s.chunk(openaiwire.ChunkChoice{Index: idx, Delta: d, FinishReason: &reason})); err != nil {
			return err
		}
	}
	pu, uj := usage(s.usage)
	s.res.Usage = pu
	if s.req.IncludeUsage && uj != nil {
		c := s.chunk()
		c.Choices = []openaiwire.ChunkChoice{}
		c.Usage = uj
		return s.emit(c)
	}
	return nil
}

// stream runs streamGenerateContent?alt=sse and hands each chunk to sink
// as it arrives. Errors returned by sink are returned unchanged (they are
// the gateway's own); upstream failures, mid-stream error objects and cut
// streams come back as *providers.Error.
func (p *Provider) stream(ctx context.Context, req *providers.ChatRequest, tr *translation, sink providers.Sink) (*providers.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandoning the iterator early must drop the upstream request
	ctx, ci := withCallInfo(ctx, req.FirstByte)
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	s := &streamer{p: p, req: req, sink: sink, res: res, created: p.now().Unix(), choices: map[int]*choiceState{}}
	done := func(err error) (*providers.Result, error) {
		res.Timing.End = time.Now()
		res.Timing.FirstByte, _, _ = ci.snapshot()
		if err != nil {
			return res, err
		}
		return res, nil
	}
	for resp, err := range p.client.Models.GenerateContentStream(ctx, req.Model, tr.contents, tr.config) {
		if err != nil {
			return done(p.mapError(ctx, ci, err))
		}
		if resp == nil {
			continue
		}
		if err := s.handle(resp); err != nil {
			return done(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return done(p.contextError(err))
	}
	return done(s.finish())
}
