// Package router decides which backends serve a request, in the order to
// try them. It reads the backends set (enabled providers and their
// catalog) and never performs I/O itself; the gateway calls the chosen
// providers. It must not import the gateway.
//
// Today a request names its model: a catalog id, "provider/model", or an
// upstream name. The chosen model comes first, then the fallbacks its
// catalog entry names. Policy routing ("auto", profiles) plugs in here.
package router

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
)

// Request is what the router knows of a request.
type Request struct {
	// Model is what the client wrote.
	Model string
	// Task is what the endpoint needs (chat or embeddings).
	Task catalog.Task
	// Vision and Tools say that the request carries images or tools.
	Vision, Tools bool
}

// Candidate is one backend to try.
type Candidate struct {
	Model    *catalog.Model
	Provider providers.Provider
}

// Decision is the ordered list of candidates and why.
type Decision struct {
	Candidates []Candidate
	Reason     string
}

// Router routes requests over one backends set.
type Router struct {
	set *backends.Set
}

// New returns a router over set.
func New(set *backends.Set) *Router { return &Router{set: set} }

// Route chooses the backends for req. Its errors are *providers.Error
// with the status the gateway should answer with.
func (r *Router) Route(req *Request) (*Decision, error) {
	if len(r.set.Providers()) == 0 {
		return nil, r.noBackends()
	}
	m, ok := r.set.Lookup(req.Model)
	if !ok {
		return nil, &providers.Error{Status: http.StatusNotFound, Type: providers.TypeInvalidRequest, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` does not exist or no enabled provider serves it: GET /v1/models lists the models you can use", req.Model)}
	}
	if err := fits(m, req); err != nil {
		return nil, err
	}
	d := &Decision{Reason: "pinned: " + m.ID}
	d.Candidates = append(d.Candidates, r.candidate(m))
	for _, id := range m.Fallbacks {
		fb, ok := r.set.Catalog().Get(id)
		if !ok || fits(fb, req) != nil {
			continue
		}
		d.Candidates = append(d.Candidates, r.candidate(fb))
	}
	return d, nil
}

func (r *Router) candidate(m *catalog.Model) Candidate {
	p, _ := r.set.Provider(m.Provider)
	return Candidate{Model: m, Provider: p}
}

// fits checks that a model can do what the request needs.
func fits(m *catalog.Model, req *Request) error {
	need := []catalog.Task{req.Task}
	if req.Vision {
		need = append(need, catalog.Vision)
	}
	if req.Tools {
		need = append(need, catalog.Tools)
	}
	for _, t := range need {
		if !m.Has(t) {
			return &providers.Error{Status: http.StatusBadRequest, Type: providers.TypeInvalidRequest, Param: "model",
				Message: fmt.Sprintf("The model `%s` cannot do %s (its tasks: %s)", m.ID, t, joinTasks(m.Tasks))}
		}
	}
	return nil
}

func joinTasks(ts []catalog.Task) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (r *Router) noBackends() error {
	var hints []string
	for _, d := range r.set.Disabled() {
		hints = append(hints, d.Name+": "+d.Hint)
	}
	msg := "no backend is enabled"
	if len(hints) > 0 {
		msg += "; to enable one: " + strings.Join(hints, "; ")
	}
	return &providers.Error{Status: http.StatusServiceUnavailable, Type: providers.TypeUnavailable, Code: "no_backend", Message: msg}
}
