package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/inbound/messages"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// dated matches the suffix of a dated or -latest model name
// (claude-sonnet-4-5-20250929, claude-3-5-haiku-latest).
var dated = regexp.MustCompile(`-(\d{8}|latest)$`)

// messagesModel resolves the model a Messages client names: an enabled
// catalog entry of that id or upstream name, else of that name without
// its dated or -latest suffix; else, for a Claude name, the first enabled
// provider that speaks the Messages API (Anthropic's: passed through as
// provider/name); else the first of router.aliases that matches (a model
// or auto:<profile>); else the name as it is (which the router answers
// 404 with the models it knows).
func (s *Server) messagesModel(name string) string {
	if _, ok := s.set.Lookup(name); ok {
		return name
	}
	if base := dated.ReplaceAllString(name, ""); base != name {
		if _, ok := s.set.Lookup(base); ok {
			return base
		}
	}
	if strings.HasPrefix(name, "claude-") {
		for _, prov := range s.set.Providers() {
			if p, _ := s.set.Provider(prov); providers.NativeFor(p, messages.Name) != nil {
				return prov + "/" + name
			}
		}
	}
	cfg := s.router.Config()
	if m := cfg.Resolve(name); m != "" {
		return m
	}
	return name
}

// countTokens serves POST /v1/messages/count_tokens. The request is
// routed as its message would be; a backend that passes the Messages API
// through (Anthropic's) counts it upstream and its answer passes back
// unchanged. Any other backend has no such count, so the answer, in
// Anthropic's shape ({"input_tokens":N}), is the gateway's own estimate
// (the prompt estimate limits and routing use: a token per four
// characters of text, the tools' definitions included, 85 per image),
// marked X-Tiergate-Token-Count: estimate.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request, api *messages.API) {
	raw, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := api.CountChat(raw)
	var no *inbound.NativeOnly
	if errors.As(err, &no) { // routed by what translates; estimated from it too
		body, err = no.Chat, nil
	}
	if err != nil {
		s.fail(w, r, asBadRequest(err))
		return
	}
	_, q, err := s.chatQuery(r, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dec, err := s.route(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i, c := range dec.Candidates {
		n := providers.NativeFor(c.Provider, messages.CountTokensAPI)
		if n == nil {
			break // not Anthropic's: the estimate below
		}
		res, err := n.CallNative(r.Context(), &providers.NativeRequest{API: messages.CountTokensAPI, Model: c.Model.Upstream, Body: raw, Header: api.Forward(r.Header)}, nil)
		if err == nil {
			setRouteHeaders(w.Header(), dec, c, i+1)
			w.Header().Set("Content-Type", "application/json")
			w.Write(res.Body)
			return
		}
		pe := providers.AsError(c.Model.Provider, err)
		if !pe.Retryable || r.Context().Err() != nil || i+1 >= max(s.router.Config().MaxAttempts, 1) || i+1 == len(dec.Candidates) {
			s.fail(w, r, clientSafe(pe))
			return
		}
	}
	var tools struct {
		Tools json.RawMessage `json:"tools"`
	}
	json.Unmarshal(body, &tools)
	n := q.PromptTokens + len(tools.Tools)/4
	w.Header().Set("X-Tiergate-Token-Count", "estimate")
	w.Header().Set("Content-Type", "application/json")
	w.Write(openaiwire.MustMarshal(messages.CountTokens{InputTokens: n}))
}
