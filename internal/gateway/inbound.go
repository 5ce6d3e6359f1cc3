package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/tiergate/tiergate/internal/inbound"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// An inboundAPI is a client API served through the chat path at the
// paths under prefix (its errors, auth's included, leave in its shape).
type inboundAPI struct {
	prefix string
	api    inbound.API
}

// serveAPI registers api's chat endpoint at path (POST); its errors and
// those of every path under prefix leave in api's shape.
func (s *Server) serveAPI(mux *http.ServeMux, path, prefix string, api inbound.API) {
	s.apis = append(s.apis, inboundAPI{prefix: prefix, api: api})
	mux.HandleFunc("POST "+path, s.api(func(w http.ResponseWriter, r *http.Request) { s.serveChat(w, r, api) }))
}

// apiAt is the client API served at path, nil for OpenAI's.
func (s *Server) apiAt(path string) inbound.API {
	for _, a := range s.apis {
		if strings.HasPrefix(path, a.prefix) {
			return a.api
		}
	}
	return nil
}

// fail answers r with err in the shape of the API it was sent to.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeAPIError(w, s.apiAt(r.URL.Path), err)
}

// nativeFor is c's adapter when it speaks the client's API (native
// non-nil) itself, nil otherwise.
func nativeFor(c router.Candidate, native *providers.NativeRequest) providers.Native {
	if native == nil {
		return nil
	}
	return providers.NativeFor(c.Provider, native.API)
}

// streamError is the event that ends a broken stream in api's shape
// (enc's, when a translation is under way), OpenAI's when api is nil.
func streamError(api inbound.API, enc inbound.Stream, e *providers.Error) []byte {
	if api != nil {
		if enc == nil {
			enc = api.Stream()
		}
		return enc.Fail(nil, e)
	}
	b, _ := json.Marshal(errorBody(e))
	out := append([]byte("data: "), b...)
	return append(out, '\n', '\n')
}

// asBadRequest is a client API's translation error as the 400 it is.
func asBadRequest(err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe
	}
	return badRequest(err)
}

// toChat translates a client API's request: the chat body, and, for a
// request only adapters that speak api can serve (inbound.NativeOnly),
// the error any other attempt gets (retryable, so the next candidate is
// tried; a 400, so no backend is blamed for it).
func toChat(api inbound.API, raw []byte) ([]byte, *providers.Error, error) {
	body, err := api.ToChat(raw)
	var no *inbound.NativeOnly
	switch {
	case err == nil:
		return body, nil, nil
	case errors.As(err, &no):
		only := *no.Err
		only.Retryable = true
		return no.Chat, &only, nil
	}
	return nil, nil, asBadRequest(err)
}

// keepNative keeps dec's candidates whose adapters speak api; none is
// the client's 400 (only).
func keepNative(dec *router.Decision, api inbound.API, only *providers.Error) error {
	var keep []router.Candidate
	for _, c := range dec.Candidates {
		if providers.NativeFor(c.Provider, api.Name()) != nil {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		e := *only
		e.Retryable = false
		return &e
	}
	dec.Candidates = keep
	return nil
}

// onlyAfter is the error of an attempt a request that only native
// adapters may serve cannot make (only), saying how the native attempt
// before it failed.
func onlyAfter(only *providers.Error, nativeErr error) *providers.Error {
	e := *only
	if nativeErr != nil {
		e.Message += " (the last that could failed: " + clientSafe(providers.AsError("", nativeErr)).Message + ")"
	}
	return &e
}
