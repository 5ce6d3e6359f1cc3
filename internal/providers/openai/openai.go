// Package openai is the adapter for OpenAI and every server that speaks
// OpenAI's API: Groq, vLLM, TGI's Messages API, LM Studio, llama.cpp's
// server. Requests pass through with only "model" rewritten (and
// stream_options.include_usage asked for), so fields the gateway does not
// know reach the upstream unchanged; responses pass back as they arrive.
// The adapter reads what it needs (usage, finish reasons, errors, model
// lists) with a byte scan or openaiwire's types. Error bodies, in-stream
// error events and any chunk that holds the key are scrubbed of it. It
// imports only providers, openaiwire and sse.
package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// maxUnary bounds a unary response body; maxLine bounds one SSE line.
const (
	maxUnary = 64 << 20
	maxLine  = 8 << 20
)

// Provider talks to one OpenAI-compatible base URL.
type Provider struct {
	name    string
	base    string // without trailing slash, e.g. https://api.openai.com/v1
	auth    string // "Bearer KEY" or ""
	keyEnv  string
	headers map[string]string
	hc      *http.Client
	red     *openaiwire.Redactor
	log     *slog.Logger
	// responses: the upstream serves the Responses API (native.go).
	responses bool
}

// New returns an adapter for o.BaseURL.
func New(o providers.Options) (*Provider, error) {
	if o.BaseURL == "" {
		return nil, fmt.Errorf("provider %s: base_url is empty", o.Name)
	}
	if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
		return nil, fmt.Errorf("provider %s: base_url %q must start with http:// or https://", o.Name, o.BaseURL)
	}
	p := &Provider{
		name:    o.Name,
		base:    strings.TrimRight(o.BaseURL, "/"),
		keyEnv:  o.KeyEnv,
		headers: o.Headers,
		hc:      o.HTTPClient,
		red:     o.Redactor(),
		log:     o.Log(),

		responses: o.ResponsesAPI,
	}
	if o.APIKey != "" {
		p.auth = "Bearer " + o.APIKey
	}
	if p.hc == nil {
		p.hc = DefaultHTTPClient()
	}
	return p, nil
}

// DefaultHTTPClient is an HTTP client for upstream calls: bounded connect
// and header waits, generous idle pools, no overall timeout (a stream may
// run for minutes; the request context bounds it).
func DefaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

// Models lists the upstream's models (GET /models).
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	req, err := p.newRequest(ctx, http.MethodGet, "/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list openaiwire.ModelList
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxUnary)).Decode(&list); err != nil {
		return nil, providers.Upstream(p.name, p.name+" sent a model list that is not JSON: "+p.red.String(err.Error()), false)
	}
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// Health lists models with a short deadline: it checks reachability and
// the key without spending tokens.
func (p *Provider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := p.Models(ctx)
	return err
}
