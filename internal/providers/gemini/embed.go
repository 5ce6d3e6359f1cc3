package gemini

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// maxBatch is the most inputs batchEmbedContents accepts in one call.
const maxBatch = 100

// Embed creates embeddings with batchEmbedContents (the SDK sends every
// Gemini API embedding request through it; inputs beyond 100 are split into
// several calls). Gemini reports no token usage for embeddings, so the
// body's usage is zero and Result.Usage is nil.
func (p *Provider) Embed(ctx context.Context, req *providers.EmbedRequest) (_ *providers.Result, err error) {
	defer p.guard(&err)
	if perr := p.checkModel(req.Model); perr != nil {
		return nil, perr
	}
	var er openaiwire.EmbeddingRequest
	if jerr := json.Unmarshal(req.Body, &er); jerr != nil {
		var te *json.UnmarshalTypeError
		if errors.As(jerr, &te) {
			return nil, p.invalid(te.Field, fmt.Sprintf("invalid type for '%s'", te.Field))
		}
		return nil, p.invalid("", "invalid embeddings request body")
	}
	inputs, perr := p.embedInputs(er.Input)
	if perr != nil {
		return nil, perr
	}
	asBase64 := false
	if f := er.EncodingFormat; f != nil {
		switch *f {
		case "float":
		case "base64":
			asBase64 = true
		default:
			return nil, p.invalid("encoding_format", "encoding_format must be float or base64")
		}
	}
	cfg := &genai.EmbedContentConfig{}
	if d := er.Dimensions; d != nil {
		if *d < 1 || *d > math.MaxInt32 {
			return nil, p.invalid("dimensions", "dimensions must be a positive integer")
		}
		cfg.OutputDimensionality = genai.Ptr(int32(*d))
	}

	ctx, ci := withCallInfo(ctx)
	res := &providers.Result{}
	res.Timing.Start = time.Now()
	out := openaiwire.EmbeddingList{Object: openaiwire.ObjectList, Data: make([]openaiwire.Embedding, 0, len(inputs)), Model: req.Model}
	for start := 0; start < len(inputs); start += maxBatch {
		batch := inputs[start:min(start+maxBatch, len(inputs))]
		contents := make([]*genai.Content, len(batch))
		for i, text := range batch {
			contents[i] = genai.NewContentFromText(text, genai.RoleUser)
		}
		resp, eerr := p.client.Models.EmbedContent(ctx, req.Model, contents, cfg)
		if res.Timing.FirstByte.IsZero() {
			res.Timing.FirstByte, _, _ = ci.snapshot()
		}
		if eerr != nil {
			return nil, p.mapError(ctx, ci, eerr)
		}
		if len(resp.Embeddings) != len(batch) {
			return nil, providers.Upstream(p.name, fmt.Sprintf("%s returned %d embeddings for %d inputs", p.name, len(resp.Embeddings), len(batch)), true)
		}
		for i, e := range resp.Embeddings {
			var values []float32
			if e != nil {
				values = e.Values
			}
			var emb any = values
			if asBase64 {
				emb = float32Base64(values)
			} else if values == nil {
				emb = []float32{}
			}
			out.Data = append(out.Data, openaiwire.Embedding{Object: openaiwire.ObjectEmbedding, Index: start + i, Embedding: emb})
		}
	}
	res.Timing.End = time.Now()
	res.Body = openaiwire.MustMarshal(out)
	return res, nil
}

// embedInputs reads input: a string or an array of strings. Token arrays
// cannot be sent to Gemini.
func (p *Provider) embedInputs(raw json.RawMessage) ([]string, *providers.Error) {
	if openaiwire.IsNull(raw) {
		return nil, p.invalid("input", "input is required")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, p.invalid("input", "input must not be empty")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, p.invalid("input", "input must be a string or an array of strings (token arrays are not supported by Gemini)")
	}
	if len(many) == 0 {
		return nil, p.invalid("input", "input must not be empty")
	}
	for i, s := range many {
		if s == "" {
			return nil, p.invalid(fmt.Sprintf("input[%d]", i), "input strings must not be empty")
		}
	}
	return many, nil
}

// float32Base64 encodes values as little-endian float32s in base64, as
// OpenAI's encoding_format=base64 does.
func float32Base64(values []float32) string {
	buf := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(buf)
}
