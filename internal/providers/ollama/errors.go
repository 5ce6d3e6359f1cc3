package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/tiergate/tiergate/internal/providers"
)

// statusError maps a non-2xx answer ({"error": "..."}) to the gateway's
// vocabulary; the body is scrubbed of the key first.
func (p *Provider) statusError(resp *http.Response, body []byte) *providers.Error {
	body = p.red.Bytes(body)
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	msg = p.red.String(msg)
	pe := providers.StatusError(p.name, resp.StatusCode, msg, resp.Header)
	if resp.StatusCode == http.StatusNotFound {
		pe.Code = "model_not_found"
		pe.Message = msg + " (pull it with `ollama pull`)"
	}
	p.log.Debug("upstream error", "provider", p.name, "status", resp.StatusCode, "message", msg)
	return pe
}

// lineError is an {"error": "..."} line of a stream or a unary answer.
func (p *Provider) lineError(msg string) *providers.Error {
	e := providers.Upstream(p.name, p.name+": "+p.red.String(msg), false)
	p.log.Debug("upstream error event", "provider", p.name, "message", e.Message)
	return e
}

// transportError is a failure to reach the upstream: the client is told
// what failed, the log also where.
func (p *Provider) transportError(err error) *providers.Error {
	p.log.Debug("upstream call failed", "provider", p.name, "base_url", p.base, "error", err)
	return providers.ScrubError(providers.TransportError(p.name, err), p.red)
}

// apiError maps an error of the SDK's client.
func (p *Provider) apiError(ctx context.Context, err error) *providers.Error {
	if ctx.Err() != nil {
		return p.transportError(ctx.Err())
	}
	var se api.StatusError
	if errors.As(err, &se) {
		return providers.StatusError(p.name, se.StatusCode, p.red.String(se.ErrorMessage), nil)
	}
	return p.transportError(err)
}
