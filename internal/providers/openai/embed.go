package openai

import (
	"context"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// Embed forwards an embeddings request.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	req, res, err := p.post(ctx, "/embeddings", r.Body, r.Model, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res.Timing.FirstByte = time.Now()
	return p.unary(resp, res)
}
