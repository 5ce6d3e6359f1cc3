package gemini

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/genai"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// DefaultBaseURL is the Gemini API's host root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/"

// DefaultKeyEnv is named in authentication errors when Options.KeyEnv is
// empty.
const DefaultKeyEnv = "GEMINI_API_KEY"

// healthTimeout bounds Health's models list call.
const healthTimeout = 5 * time.Second

// Provider is one configured Gemini API account. It is safe for concurrent
// use.
type Provider struct {
	name   string
	keyEnv string
	red    *openaiwire.Redactor // scrubs the key from upstream messages
	client *genai.Client
	log    *slog.Logger

	// now gives the "created" timestamp and newID the completion and tool
	// call ids; tests replace them to make responses deterministic. Timing
	// always uses the real clock.
	now   func() time.Time
	newID func() string
}

var _ providers.Provider = (*Provider)(nil)

// New creates a Gemini API provider. o.APIKey is required (the SDK's
// fallback to the GEMINI_API_KEY / GOOGLE_API_KEY environment variables is
// never relied on); o.BaseURL defaults to DefaultBaseURL.
//
// The SDK is configured to make exactly one attempt per call: its HTTP
// retry options are set to a single attempt and its automatic stream
// continuation (which silently reconnects a stream that ended without a
// finish reason) is turned off on every request, because retrying belongs
// to the gateway's router.
func New(o providers.Options) (*Provider, error) {
	name := o.Name
	if name == "" {
		name = "gemini"
	}
	keyEnv := o.KeyEnv
	if keyEnv == "" {
		keyEnv = DefaultKeyEnv
	}
	if o.APIKey == "" {
		return nil, fmt.Errorf("%s: no API key configured (set %s)", name, keyEnv)
	}
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL must be an absolute http(s) URL", name)
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("%s: base URL must not carry credentials or a query (the key goes in the x-goog-api-key header)", name)
	}

	hc := o.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	wrapped := *hc // never mutate the caller's client
	base0 := hc.Transport
	if base0 == nil {
		base0 = http.DefaultTransport
	}
	wrapped.Transport = &recordingTransport{base: base0}

	headers := http.Header{}
	for k, v := range o.Headers {
		headers.Set(k, v)
	}
	one := int32(1)
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:     o.APIKey,
		Backend:    genai.BackendGeminiAPI,
		HTTPClient: &wrapped,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:      base,
			APIVersion:   "v1beta",
			Headers:      headers,
			RetryOptions: &genai.HTTPRetryOptions{Attempts: &one},
		},
	})
	if err != nil {
		// The SDK's messages can print the whole config, key included.
		return nil, fmt.Errorf("%s: cannot create the Gemini client: %s", name, o.Redactor().String(err.Error()))
	}
	return &Provider{
		name:   name,
		keyEnv: keyEnv,
		red:    o.Redactor(),
		client: client,
		log:    o.Log(),
		now:    time.Now,
		newID:  randomID,
	}, nil
}

func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   32,
		ExpectContinueTimeout: time.Second,
	}}
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Name returns the configured provider name.
func (p *Provider) Name() string { return p.name }

// Models lists the models the account can use, without the "models/"
// prefix.
func (p *Provider) Models(ctx context.Context) (_ []string, err error) {
	defer p.guard(&err)
	ctx, ci := withCallInfo(ctx)
	page, lerr := p.client.Models.List(ctx, &genai.ListModelsConfig{PageSize: 1000})
	var out []string
	for lerr == nil {
		for _, m := range page.Items {
			if m != nil && m.Name != "" {
				out = append(out, strings.TrimPrefix(m.Name, "models/"))
			}
		}
		page, lerr = page.Next(ctx)
	}
	if !errors.Is(lerr, genai.ErrPageDone) {
		return nil, p.mapError(ctx, ci, lerr)
	}
	return out, nil
}

// Health lists one model with a short timeout: it proves the API answers
// and accepts the key, and costs no tokens.
func (p *Provider) Health(ctx context.Context) (err error) {
	defer p.guard(&err)
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	ctx, ci := withCallInfo(ctx)
	if _, lerr := p.client.Models.List(ctx, &genai.ListModelsConfig{PageSize: 1}); lerr != nil {
		return p.mapError(ctx, ci, lerr)
	}
	return nil
}

// checkModel rejects model names the SDK would refuse or that would change
// the request path.
func (p *Provider) checkModel(model string) *providers.Error {
	m := strings.TrimPrefix(model, "models/")
	if m == "" || strings.ContainsAny(m, "?&#/:% \t\r\n") || strings.Contains(m, "..") {
		return p.invalid("model", fmt.Sprintf("invalid Gemini model name %q", model))
	}
	return nil
}

// --- transport recording -------------------------------------------------

// callInfo records what the transport saw of one call: when the response
// headers arrived, the status and the headers (for Retry-After).
type callInfo struct {
	mu          sync.Mutex
	firstByte   time.Time
	status      int
	header      http.Header
	onFirstByte func() // ChatRequest.FirstByte, called once
}

func (c *callInfo) snapshot() (time.Time, int, http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstByte, c.status, c.header
}

type callInfoKey struct{}

// withCallInfo attaches a fresh callInfo to ctx; onFirstByte (may be nil)
// is called once, when the first response headers arrive.
func withCallInfo(ctx context.Context, onFirstByte ...func()) (context.Context, *callInfo) {
	ci := &callInfo{}
	if len(onFirstByte) > 0 {
		ci.onFirstByte = onFirstByte[0]
	}
	return context.WithValue(ctx, callInfoKey{}, ci), ci
}

// recordingTransport notes response arrival time, status and headers in
// the request context's callInfo. The SDK hides them (its APIError keeps
// neither the status line nor Retry-After).
type recordingTransport struct {
	base http.RoundTripper
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		if ci, ok := req.Context().Value(callInfoKey{}).(*callInfo); ok {
			ci.mu.Lock()
			first := ci.firstByte.IsZero()
			ci.firstByte = time.Now()
			ci.status = resp.StatusCode
			ci.header = resp.Header.Clone()
			notify := ci.onFirstByte
			ci.mu.Unlock()
			if first && notify != nil {
				notify()
			}
		}
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ParamSupport declares what the adapter refuses of the restricted
// parameters (the Parameters table says why).
func (p *Provider) ParamSupport() providers.Capabilities {
	return providers.Capabilities{Refused: openaiwire.ParamLogitBias | openaiwire.ParamLogprobs}
}
