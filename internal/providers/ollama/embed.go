package ollama

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// Embed translates an OpenAI embeddings request to /api/embed.
func (p *Provider) Embed(ctx context.Context, r *providers.EmbedRequest) (*providers.Result, error) {
	var o openaiwire.EmbeddingRequest
	if err := json.Unmarshal(r.Body, &o); err != nil {
		return nil, providers.BadRequest(err.Error(), "").In(p.name)
	}
	var inputs []string
	var one string
	if json.Unmarshal(o.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(o.Input, &inputs) != nil {
		return nil, providers.BadRequest("Ollama embeds text: input must be a string or an array of strings (token arrays are not supported)", "input").In(p.name)
	}
	format := ""
	if o.EncodingFormat != nil {
		format = *o.EncodingFormat
	}
	if format != "" && format != "float" && format != "base64" {
		return nil, providers.BadRequest("encoding_format must be float or base64", "encoding_format").In(p.name)
	}
	dims := 0
	if o.Dimensions != nil {
		dims = int(*o.Dimensions)
	}
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	er, err := p.client.Embed(ctx, &api.EmbedRequest{Model: r.Model, Input: inputs, Dimensions: dims})
	res.Timing.End = time.Now()
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	res.Timing.FirstByte = res.Timing.End
	data := make([]openaiwire.Embedding, len(er.Embeddings))
	for i, e := range er.Embeddings {
		var v any = e
		if format == "base64" {
			b := make([]byte, 4*len(e))
			for j, f := range e {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			v = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = openaiwire.Embedding{Object: openaiwire.ObjectEmbedding, Index: i, Embedding: v}
	}
	res.Usage = &providers.Usage{PromptTokens: er.PromptEvalCount, TotalTokens: er.PromptEvalCount}
	res.Timing.Upstream = map[string]time.Duration{"load_duration": er.LoadDuration, "total_duration": er.TotalDuration}
	res.Body = openaiwire.MustMarshal(openaiwire.EmbeddingList{Object: openaiwire.ObjectList, Data: data, Model: r.Model,
		Usage: openaiwire.EmbeddingUsage{PromptTokens: er.PromptEvalCount, TotalTokens: er.PromptEvalCount}})
	return res, nil
}
