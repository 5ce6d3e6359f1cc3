package openai

import (
	"context"

	"github.com/tiergate/tiergate/internal/providers"
)

// Embed forwards an embeddings request.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	resp, res, err := p.post(ctx, "/embeddings", r.Body, r.Model, false, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return p.unary(resp, res)
}
