package anthropic

import (
	"context"

	"github.com/tiergate/tiergate/internal/providers"
)

// Embed always fails: Anthropic has no embeddings API.
func (p *Provider) Embed(ctx context.Context, req *providers.EmbedRequest) (*providers.Result, error) {
	e := providers.BadRequest("Anthropic has no embeddings API (Anthropic recommends Voyage AI for embeddings): route embeddings to another provider", "model").In(p.name)
	e.Code = "embeddings_unsupported"
	return nil, e
}
