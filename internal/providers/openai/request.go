package openai

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// rewrite is the whole request translation of a pass-through adapter: the
// resolved model, the usage chunk asked for on streams, the gateway's own
// "route" object dropped; every other byte is the client's. The result is
// pieces of the client's body, sent without copying it.
func (p *Provider) rewrite(body []byte, model string, stream bool) (openaiwire.Body, error) {
	out, err := openaiwire.Rewrite{Model: model, ForceUsage: stream, Drop: []string{"route"}}.Pieces(body)
	if err != nil {
		return nil, providers.BadRequest("invalid request body: "+err.Error(), "").In(p.name)
	}
	return out, nil
}

// post rewrites the client's body for model (see rewrite) and sends it
// to path (see send): the opening Chat, Embed and Speech share.
func (p *Provider) post(ctx context.Context, path string, raw []byte, model string, stream bool, firstByte func()) (*http.Response, *providers.Result, error) {
	body, err := p.rewrite(raw, model, stream)
	if err != nil {
		return nil, nil, err
	}
	req, err := p.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, nil, err
	}
	res := &providers.Result{}
	resp, err := p.send(req, &res.Timing, stream, firstByte)
	if err != nil {
		return nil, nil, err
	}
	return resp, res, nil
}

// send sends req (asking for an event stream when stream is set) and
// returns the upstream's 2xx answer, timing in t when it was sent and
// when its headers arrived, and then calling firstByte when it is set;
// a non-2xx answer is the error (see do). Every call upstream but the
// model list goes through it.
func (p *Provider) send(req *http.Request, t *providers.Timing, stream bool, firstByte func()) (*http.Response, error) {
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	t.Start = time.Now()
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	t.FirstByte = time.Now()
	if firstByte != nil {
		firstByte()
	}
	return resp, nil
}

// eventStream checks that the answer to a stream request is an event
// stream: some servers answer one with a JSON error and 200.
func (p *Provider) eventStream(resp *http.Response) error {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return providers.Upstream(p.name, fmt.Sprintf("%s answered a stream request with %q instead of an event stream: %.200s",
			p.name, p.scrub(ct), p.red.Bytes(b)), true)
	}
	return nil
}

func (p *Provider) newRequest(ctx context.Context, method, path string, body openaiwire.Body) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, nil)
	if err != nil {
		return nil, providers.Internal(p.name, "cannot build the upstream request: "+p.red.String(providers.TransportCause(err)))
	}
	if body != nil {
		// The pieces are slices of the client's body: each request body
		// holds it until the transport closes it (providers.HeldBody).
		req.Body, req.ContentLength = providers.HeldBody(ctx, body.Reader()), int64(body.Len())
		req.GetBody = func() (io.ReadCloser, error) { return providers.HeldBody(ctx, body.Reader()), nil }
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
		return nil, p.transportError(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, p.statusError(resp, p.red.Bytes(b))
}
