package openai

import (
	"context"
	"io"
	"net/http"
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

// post rewrites the client's body for model (see rewrite) and builds the
// POST to path, starting the result's clock: the opening Chat and Embed
// share.
func (p *Provider) post(ctx context.Context, path string, raw []byte, model string, stream bool) (*http.Request, *providers.Result, error) {
	body, err := p.rewrite(raw, model, stream)
	if err != nil {
		return nil, nil, err
	}
	req, err := p.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, nil, err
	}
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	return req, res, nil
}

func (p *Provider) newRequest(ctx context.Context, method, path string, body openaiwire.Body) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, nil)
	if err != nil {
		return nil, providers.Internal(p.name, "cannot build the upstream request: "+p.red.String(providers.TransportCause(err)))
	}
	if body != nil {
		req.Body, req.ContentLength = io.NopCloser(body.Reader()), int64(body.Len())
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.Reader()), nil }
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
