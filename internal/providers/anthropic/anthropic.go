// Package anthropic holds the gateway's adapter for Anthropic's Messages
// API, built on the official Go SDK (github.com/anthropics/anthropic-sdk-go/v2,
// which speaks API version 2026-10-21). It translates an OpenAI chat
// completion request into a Messages request, and the Message or its event
// stream back into OpenAI's chat.completion or chat.completion.chunk JSON.
// Parameters lists what happens to each OpenAI parameter. It also passes
// Anthropic's own Messages API through (providers.Native, native.go).
//
// It imports only package providers, openaiwire, the SDK and the event
// stream reader (internal/sse, for passed-through streams); it must not
// import the gateway, the router or another adapter.
package anthropic

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

const (
	defaultBaseURL   = "https://api.anthropic.com"
	defaultMaxTokens = 4096
	// healthTimeout bounds Health's models call.
	healthTimeout = 10 * time.Second
	// unaryTimeout is the SDK's per-request timeout for non-streamed
	// calls. Setting it keeps the SDK from refusing, on its own, unary
	// calls whose max_tokens it expects to run past ten minutes; the
	// caller's context still bounds every call.
	unaryTimeout = time.Hour
)

// Provider is one configured Anthropic account.
type Provider struct {
	name       string
	red        *openaiwire.Redactor
	keyEnv     string
	maxTokens  int64
	legacy     bool // anthropic-version 2023-06-01 is configured: sampling parameters exist
	client     sdk.Client
	log        *slog.Logger
	now        func() time.Time
	httpClient *http.Client
}

var _ providers.Provider = (*Provider)(nil)

// New builds the adapter. o.BaseURL is the API host root (default
// https://api.anthropic.com); o.DefaultMaxTokens (4096 when 0) is sent as
// max_tokens when the client gives none. The SDK's own retries are off: the
// gateway's router retries. A header "anthropic-version: 2023-06-01" in
// o.Headers pins that API version, under which temperature, top_p and top_k
// are passed through.
func New(o providers.Options) (*Provider, error) {
	p := &Provider{
		name:      o.Name,
		red:       o.Redactor(),
		keyEnv:    o.KeyEnv,
		maxTokens: int64(o.DefaultMaxTokens),
		log:       o.Log(),
		now:       time.Now,
	}
	if p.name == "" {
		p.name = "anthropic"
	}
	if p.maxTokens <= 0 {
		p.maxTokens = defaultMaxTokens
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = defaultBaseURL
	}
	// The SDK adds /v1 to its paths; accept a base written either way.
	base = strings.TrimSuffix(base, "/v1")
	p.httpClient = o.HTTPClient
	if p.httpClient == nil {
		p.httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(), // nothing from ANTHROPIC_* variables
		option.WithBaseURL(base + "/"),
		option.WithHTTPClient(p.httpClient),
		option.WithMaxRetries(0),
	}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	}
	for k, v := range o.Headers {
		if strings.EqualFold(k, "anthropic-version") && strings.TrimSpace(v) == "2023-06-01" {
			p.legacy = true
		}
		opts = append(opts, option.WithHeader(k, v))
	}
	p.client = sdk.NewClient(opts...)
	return p, nil
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

// Models lists the model ids the account can use (GET /v1/models, all pages).
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	pager := p.client.Models.ListAutoPaging(ctx, sdk.ModelListParams{Limit: param.NewOpt[int64](1000)})
	var ids []string
	for pager.Next() {
		ids = append(ids, pager.Current().ID)
	}
	if err := pager.Err(); err != nil {
		return nil, p.fail(err)
	}
	return ids, nil
}

// Health lists one model with a short timeout: it costs no tokens and
// checks both reachability and the API key.
func (p *Provider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	_, err := p.client.Models.List(ctx, sdk.ModelListParams{Limit: param.NewOpt[int64](1)})
	if err != nil {
		return p.fail(err)
	}
	return nil
}

// ParamSupport declares what the adapter refuses and drops of the
// restricted parameters (the Parameters table says how).
func (p *Provider) ParamSupport() providers.Capabilities {
	c := providers.Capabilities{
		Refused: openaiwire.ParamN | openaiwire.ParamLogprobs | openaiwire.ParamLogitBias | openaiwire.ParamJSONObject,
		Dropped: openaiwire.ParamSeed | openaiwire.ParamFrequencyPenalty | openaiwire.ParamPresencePenalty,
	}
	if !p.legacy {
		c.Dropped |= openaiwire.ParamTemperature | openaiwire.ParamTopP
	}
	return c
}
