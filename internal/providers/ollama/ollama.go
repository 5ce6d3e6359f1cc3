// Package ollama is the adapter for a local (or self-hosted) Ollama server.
// It speaks Ollama's native API (/api/chat, /api/embed, /api/tags) rather
// than its OpenAI-compatible layer, so that Ollama's own timing fields
// (load_duration, prompt_eval_duration, eval_duration and the token
// counts) reach the benchmark; requests and responses are translated to
// and from OpenAI's shapes (openaiwire), streaming, tool calls and images
// included.
//
// Types come from github.com/ollama/ollama/api; the streaming read is our
// own (internal/ndjson) because api.Client.Chat reports a cut stream as a
// clean end and allocates an 8 MiB buffer per call. It imports only
// providers, openaiwire, ndjson and its SDK.
package ollama

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

const maxLine = 16 << 20

// Provider talks to one Ollama server.
type Provider struct {
	name   string
	base   string
	hc     *http.Client
	client *api.Client
	red    *openaiwire.Redactor
	log    *slog.Logger
}

// New returns an adapter for the Ollama server at o.BaseURL, which may be
// given as Ollama's OLLAMA_HOST is (host:port without a scheme).
func New(o providers.Options) (*Provider, error) {
	base, err := NormalizeHost(o.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", o.Name, err)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	u, _ := url.Parse(base)
	return &Provider{name: o.Name, base: base, hc: hc, client: api.NewClient(u, hc), red: o.Redactor(), log: o.Log()}, nil
}

// NormalizeHost turns an OLLAMA_HOST value into a base URL: a missing
// scheme means http, a missing port means 11434.
func NormalizeHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		h = "127.0.0.1:11434"
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ollama host %q is not a URL or host:port", h)
	}
	if u.Port() == "" {
		host := u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u.Host = host + ":11434"
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

// Models lists the installed models (/api/tags).
func (p *Provider) Models(ctx context.Context) ([]string, error) {
	lr, err := p.client.List(ctx)
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	out := make([]string, 0, len(lr.Models))
	for _, m := range lr.Models {
		out = append(out, m.Name)
	}
	return out, nil
}

// Capabilities reports what an installed model can do, from /api/show
// ("completion", "vision", "tools", "embedding", "thinking").
func (p *Provider) Capabilities(ctx context.Context, model string) ([]string, error) {
	sr, err := p.client.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return nil, p.apiError(ctx, err)
	}
	caps := make([]string, 0, len(sr.Capabilities))
	for _, c := range sr.Capabilities {
		caps = append(caps, string(c))
	}
	return caps, nil
}

// Health asks for the server's version: no model is loaded.
func (p *Provider) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := p.client.Version(ctx); err != nil {
		return p.apiError(ctx, err)
	}
	return nil
}

// ParamSupport declares what the adapter refuses of the restricted
// parameters: n above 1 and tool_choice "required" (Ollama cannot force
// a tool call).
func (p *Provider) ParamSupport() providers.Capabilities {
	return providers.Capabilities{Refused: openaiwire.ParamN | openaiwire.ParamToolRequired}
}
