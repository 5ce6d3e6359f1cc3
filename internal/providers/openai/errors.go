package openai

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// statusError maps a non-2xx answer (its body already scrubbed of the
// key) to the gateway's vocabulary.
func (p *Provider) statusError(resp *http.Response, body []byte) *providers.Error {
	var er openaiwire.ErrorBody
	msg := ""
	var code, param, typ string
	if json.Unmarshal(body, &er) == nil && er.Error != nil {
		msg = er.Error.Message
		typ = er.Error.Type
		param = er.Error.ParamString()
		code = er.Error.CodeString()
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
		msg = s
	}
	msg = p.scrub(msg)
	e := providers.StatusError(p.name, resp.StatusCode, msg, resp.Header)
	if resp.StatusCode == http.StatusUnauthorized {
		e.Message = p.name + " rejected the API key"
		if p.keyEnv != "" {
			e.Message += ": check " + p.keyEnv
		}
		if msg != "" {
			e.Message += " (" + msg + ")"
		}
	} else if e.Status < 500 && msg != "" {
		e.Message = msg
	}
	if resp.StatusCode < 500 {
		if typ != "" {
			e.Type = typ
		}
		e.Code, e.Param = p.scrub(code), p.scrub(param)
	}
	p.log.Debug("upstream error", "provider", p.name, "status", resp.StatusCode, "message", msg)
	return e
}

// streamError is the error object an OpenAI-compatible server puts in a
// stream chunk to report a failure mid-stream.
func (p *Provider) streamError(o *openaiwire.ErrorObject) *providers.Error {
	e := providers.Upstream(p.name, p.name+": "+p.scrub(o.Message), false)
	if o.Type != "" {
		e.Type = p.scrub(o.Type)
	}
	p.log.Debug("upstream error event", "provider", p.name, "message", e.Message)
	return e
}

// transportError is a failure to reach the upstream: the client is told
// what failed, the log also where.
func (p *Provider) transportError(err error) *providers.Error {
	p.log.Debug("upstream call failed", "provider", p.name, "base_url", p.base, "error", err)
	return providers.ScrubError(providers.TransportError(p.name, err), p.red)
}

// scrub removes the configured key, and whatever looks like an API key,
// from an upstream message: OpenAI's 401 message quotes the (masked) key
// it was given.
func (p *Provider) scrub(msg string) string {
	return redact(p.red.String(msg))
}

// redact removes what looks like an API key (an sk-, sk_ or gsk_ token).
func redact(msg string) string {
	fields := strings.Fields(msg)
	changed := false
	for i, f := range fields {
		t := strings.Trim(f, ".,:;'\"`")
		if (strings.HasPrefix(t, "sk-") || strings.HasPrefix(t, "gsk_") || strings.HasPrefix(t, "sk_")) && len(t) > 8 {
			fields[i] = strings.Replace(f, t, openaiwire.Redacted, 1)
			changed = true
		}
	}
	if !changed {
		return msg
	}
	return strings.Join(fields, " ")
}
