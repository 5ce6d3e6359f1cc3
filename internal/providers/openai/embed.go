package openai

import (
	"context"
	"net/http"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// Embed forwards an embeddings request.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	body, err := p.rewrite(r.Body, r.Model, false)
	if err != nil {
		return nil, err
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
