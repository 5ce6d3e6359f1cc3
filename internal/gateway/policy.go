package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// applyPolicy holds q to the gateway key's policy (keys.FromContext),
// before routing: a model the key may not use is refused with 403, or
// routed by the key's forced profile when it has one; a profile the key
// may not use is refused with 403; the key's openness and deployment
// bounds narrow the route, so that auto and profiles choose only among
// backends the key may reach. A request without a key (an open gateway)
// is left as it is.
func (s *Server) applyPolicy(ctx context.Context, q *router.Query) error {
	id, ok := keys.FromContext(ctx)
	if !ok {
		return nil
	}
	p := &id.Policy
	auto := q.Model == "auto" || strings.HasPrefix(q.Model, "auto:")
	if !auto && len(p.Models) > 0 && !slices.Contains(p.Models, q.Model) {
		if p.Profile == "" {
			return forbidden("model_not_allowed", "model", fmt.Sprintf("gateway key %s may not use model %q; it may use: %s (or ask for auto)",
				id.Name, q.Model, strings.Join(p.Models, ", ")))
		}
	}
	if p.Profile != "" && (auto || len(p.Models) == 0 || !slices.Contains(p.Models, q.Model)) {
		// The key's profile decides, whatever model the client named.
		q.Model, q.Profile, auto = "auto:"+p.Profile, "", true
	}
	if auto && len(p.Profiles) > 0 && p.Profile == "" {
		if prof := profileOf(q); !slices.Contains(p.Profiles, prof) {
			return forbidden("profile_not_allowed", "model", fmt.Sprintf("gateway key %s may not use routing profile %q; it may use: %s",
				id.Name, prof, strings.Join(p.Profiles, ", ")))
		}
	}
	if auto {
		q.Route = s.router.Bound(q.Route, openness(p.Openness), deployment(p.Deployment))
	}
	return nil
}

// holdToPolicy drops from dec the candidates the key's openness and
// deployment bounds do not admit: the last word on where a key's data
// may go, for pinned models and their fallbacks too. When none is left
// it answers 403 naming the rule.
func holdToPolicy(ctx context.Context, dec *router.Decision) error {
	id, ok := keys.FromContext(ctx)
	if !ok || (len(id.Policy.Openness) == 0 && len(id.Policy.Deployment) == 0) {
		return nil
	}
	p := &id.Policy
	kept := dec.Candidates[:0]
	var refused *catalog.Model
	for _, c := range dec.Candidates {
		if admits(p.Openness, string(c.Model.Openness)) && admits(p.Deployment, string(c.Model.Deployment)) {
			kept = append(kept, c)
		} else if refused == nil {
			refused = c.Model
		}
	}
	dec.Candidates = kept
	if len(kept) > 0 || refused == nil {
		return nil
	}
	return forbidden("policy_violation", "model", fmt.Sprintf("gateway key %s may reach only openness %s and deployment %s; %s is %s and %s. Ask for auto, or a model within those bounds",
		id.Name, orAny(p.Openness), orAny(p.Deployment), refused.ID, refused.Openness, refused.Deployment))
}

// profileOf is the profile q asks for: the header, else auto:<profile>,
// else "auto".
func profileOf(q *router.Query) string {
	if q.Profile != "" {
		return q.Profile
	}
	if p, ok := strings.CutPrefix(q.Model, "auto:"); ok {
		return p
	}
	return "auto"
}

func admits(allowed []string, v string) bool { return len(allowed) == 0 || slices.Contains(allowed, v) }

func orAny(l []string) string {
	if len(l) == 0 {
		return "any"
	}
	return strings.Join(l, "/")
}

func openness(l []string) []catalog.Openness {
	out := make([]catalog.Openness, len(l))
	for i, v := range l {
		out[i] = catalog.Openness(v)
	}
	return out
}

func deployment(l []string) []catalog.Deployment {
	out := make([]catalog.Deployment, len(l))
	for i, v := range l {
		out[i] = catalog.Deployment(v)
	}
	return out
}

func forbidden(code, param, msg string) *providers.Error {
	return &providers.Error{Status: http.StatusForbidden, Type: providers.TypePermission, Code: code, Param: param, Message: msg}
}
