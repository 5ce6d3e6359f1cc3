// Package backends builds the set of backends the gateway can use right
// now from the configuration: it constructs each provider's adapter, turns
// off the ones whose key is unset (saying how to enable them), probes
// keyless local servers, and adds the models a provider reports (Ollama's
// installed models) to the catalog. It imports config, catalog and the
// providers contract, never an adapter: the caller passes the adapters'
// constructors (internal/backends/registry holds them), so the router and
// the gateway, which read the Set it returns, import no provider SDK.
package backends

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
)

// Constructor builds an adapter of one type.
type Constructor func(providers.Options) (providers.Provider, error)

// Disabled is a provider that is not in use, with how to enable it.
type Disabled struct {
	Name string `json:"name"`
	Why  string `json:"why"`
	Hint string `json:"hint"`
}

// Set is the enabled providers and the models they serve. It is
// immutable once built.
type Set struct {
	providers map[string]providers.Provider
	types     map[string]string
	catalog   *catalog.Catalog
	disabled  []Disabled
	// byUpstream maps "provider/upstream" to a catalog entry.
	byUpstream map[string]*catalog.Model
	// reused is set when the set was built again (Options.Reuse).
	reused bool
}

// Options for Build.
type Options struct {
	Getenv     func(string) string
	Logger     *slog.Logger
	HTTPClient *http.Client
	// Constructors maps config provider types to adapters (required:
	// registry.Constructors() holds every adapter of this build).
	Constructors map[string]Constructor
	// Reuse, when set, is a Set built before from the same configuration:
	// its enabled providers keep their adapters (and connection pools)
	// instead of being constructed again.
	Reuse *Set
}

// Build constructs the backends. Providers are probed concurrently, each
// bounded by cfg.Server.DiscoverTimeout.
func Build(ctx context.Context, cfg *config.Config, o Options) (*Set, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cons := o.Constructors
	if cons == nil {
		return nil, fmt.Errorf("backends.Build: no adapter constructors given (pass registry.Constructors())")
	}
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)

	s := &Set{providers: map[string]providers.Provider{}, types: map[string]string{}, byUpstream: map[string]*catalog.Model{}}
	var mu sync.Mutex
	discovered := map[string][]*catalog.Model{}
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range names {
		pc := cfg.Providers[name]
		hint := pc.EnableHint
		if hint == "" && pc.APIKeyEnv != "" {
			hint = "set " + pc.APIKeyEnv
		}
		key := ""
		if pc.APIKeyEnv != "" {
			key = o.Getenv(pc.APIKeyEnv)
			if key == "" {
				log.Info("provider disabled", "provider", name, "why", pc.APIKeyEnv+" is not set", "enable", hint)
				mu.Lock()
				s.disabled = append(s.disabled, Disabled{Name: name, Why: pc.APIKeyEnv + " is not set", Hint: hint})
				mu.Unlock()
				continue
			}
		}
		con, ok := cons[pc.Type]
		if !ok {
			log.Warn("provider disabled", "provider", name, "why", "no adapter for type "+pc.Type+" in this build")
			mu.Lock()
			s.disabled = append(s.disabled, Disabled{Name: name, Why: "no adapter for type " + pc.Type + " in this build", Hint: hint})
			mu.Unlock()
			continue
		}
		p, reused := o.Reuse.Provider(name)
		if !reused {
			var err error
			p, err = con(providers.Options{Name: name, BaseURL: pc.BaseURL, APIKey: key, KeyEnv: pc.APIKeyEnv,
				HTTPClient: o.HTTPClient, Headers: pc.Headers, DefaultMaxTokens: pc.DefaultMaxTokens, ResponsesAPI: pc.ResponsesAPI != nil && *pc.ResponsesAPI, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("providers.%s: %w", name, err)
			}
		}
		keyless := pc.APIKeyEnv == ""
		if !keyless && !pc.Discover {
			mu.Lock()
			s.providers[name], s.types[name] = p, pc.Type
			mu.Unlock()
			log.Info("provider enabled", "provider", name, "type", pc.Type, "base_url", pc.BaseURL)
			continue
		}
		g.Go(func() error {
			pctx, cancel := context.WithTimeout(gctx, cfg.Server.DiscoverTimeout)
			defer cancel()
			if keyless {
				if err := p.Health(pctx); err != nil {
					log.Info("provider disabled", "provider", name, "why", "it does not answer at "+pc.BaseURL, "enable", hint)
					mu.Lock()
					s.disabled = append(s.disabled, Disabled{Name: name, Why: "it does not answer at " + pc.BaseURL, Hint: hint})
					mu.Unlock()
					return nil
				}
			}
			var found []*catalog.Model
			if pc.Discover {
				found = discover(pctx, name, pc, p, log)
			}
			mu.Lock()
			s.providers[name], s.types[name] = p, pc.Type
			discovered[name] = found
			mu.Unlock()
			log.Info("provider enabled", "provider", name, "type", pc.Type, "base_url", pc.BaseURL, "discovered_models", len(found))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(s.disabled, func(i, j int) bool { return s.disabled[i].Name < s.disabled[j].Name })

	var models []*catalog.Model
	for _, m := range cfg.Models {
		if _, ok := s.providers[m.Provider]; !ok {
			continue
		}
		if list, ok := discovered[m.Provider]; ok && cfg.Providers[m.Provider].Discover {
			// A discovering provider serves only what it has installed.
			if !installed(list, m.Upstream) {
				continue
			}
		}
		models = append(models, m)
	}
	known := map[string]bool{}
	for _, m := range models {
		known[m.Provider+"/"+normTag(m.Provider, m.Upstream, s.types)] = true
	}
	for _, name := range names {
		for _, m := range discovered[name] {
			if !known[name+"/"+normTag(name, m.Upstream, s.types)] {
				models = append(models, m)
			}
		}
	}
	s.reused = o.Reuse != nil
	models = s.servedTasks(models, log)
	c, err := catalog.New(models)
	if err != nil {
		return nil, err
	}
	s.catalog = c
	for _, m := range models {
		s.byUpstream[m.Provider+"/"+m.Upstream] = m
		s.byUpstream[m.Provider+"/"+normTag(m.Provider, m.Upstream, s.types)] = m
	}
	return s, nil
}

// normTag gives Ollama names their implicit ":latest".
func normTag(provider, name string, types map[string]string) string {
	if types[provider] == config.TypeOllama && !strings.Contains(name, ":") {
		return name + ":latest"
	}
	return name
}

func installed(list []*catalog.Model, upstream string) bool {
	if !strings.Contains(upstream, ":") {
		upstream += ":latest"
	}
	for _, m := range list {
		if m.Upstream == upstream {
			return true
		}
	}
	return false
}

// capabler is implemented by adapters that can say what a model does.
type capabler interface {
	Capabilities(ctx context.Context, model string) ([]string, error)
}

// discover lists a provider's models as catalog entries "provider/name".
func discover(ctx context.Context, name string, pc *config.Provider, p providers.Provider, log *slog.Logger) []*catalog.Model {
	ids, err := p.Models(ctx)
	if err != nil {
		log.Warn("cannot list models", "provider", name, "err", err)
		return nil
	}
	out := make([]*catalog.Model, 0, len(ids))
	for _, id := range ids {
		m := &catalog.Model{
			ID: name + "/" + id, Provider: name, Upstream: id,
			// Weights on hardware we run are at least open-weight.
			Openness: catalog.OpenWeight, Deployment: pc.Deployment,
			Tasks: []catalog.Task{catalog.Chat}, Domains: []string{"general"},
			Price:      catalog.Price{Source: "discovered on " + name + " at start; no per-token price"},
			Discovered: true,
		}
		if c, ok := p.(capabler); ok {
			if caps, err := c.Capabilities(ctx, id); err == nil && len(caps) > 0 {
				m.Tasks = tasksFromCapabilities(caps)
			}
		}
		out = append(out, m)
	}
	return out
}

func tasksFromCapabilities(caps []string) []catalog.Task {
	var t []catalog.Task
	for _, c := range caps {
		switch c {
		case "completion":
			t = append(t, catalog.Chat)
		case "vision":
			t = append(t, catalog.Vision)
		case "tools":
			t = append(t, catalog.Tools)
		case "embedding":
			t = append(t, catalog.Embeddings)
		}
	}
	if len(t) == 0 {
		t = []catalog.Task{catalog.Chat}
	}
	return t
}

// Provider returns an enabled provider (none from a nil Set).
func (s *Set) Provider(name string) (providers.Provider, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.providers[name]
	return p, ok
}

// Providers returns the enabled providers' names, sorted.
func (s *Set) Providers() []string {
	out := make([]string, 0, len(s.providers))
	for n := range s.providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Catalog returns the models that enabled providers serve.
func (s *Set) Catalog() *catalog.Catalog { return s.catalog }

// Disabled returns the providers not in use.
func (s *Set) Disabled() []Disabled { return s.disabled }

// Lookup resolves what a client wrote as "model": a catalog id, then
// "provider/model" for an enabled provider (a model that is not in the
// catalog is passed through with unknown attributes), then a bare
// upstream name that exactly one enabled catalog entry uses.
func (s *Set) Lookup(name string) (*catalog.Model, bool) {
	if m, ok := s.catalog.Get(name); ok {
		return m, true
	}
	if prov, rest, ok := strings.Cut(name, "/"); ok && rest != "" {
		if _, enabled := s.providers[prov]; enabled {
			if m, ok := s.byUpstream[prov+"/"+rest]; ok {
				return m, true
			}
			return &catalog.Model{ID: name, Provider: prov, Upstream: rest, Tasks: []catalog.Task{catalog.Chat, catalog.Embeddings, catalog.Vision, catalog.Tools}}, true
		}
	}
	var found *catalog.Model
	for _, m := range s.catalog.All() {
		if m.Upstream == name {
			if found != nil {
				return nil, false // ambiguous
			}
			found = m
		}
	}
	return found, found != nil
}

// servedTasks leaves out of models the speech tasks their provider's
// adapter does not serve (providers.Transcriber, providers.Speaker), with
// a warning: the router would pick such a model and every request would
// fail. A model left with no task is left out.
func (s *Set) servedTasks(models []*catalog.Model, log *slog.Logger) []*catalog.Model {
	out := models[:0:0]
	for _, m := range models {
		p := s.providers[m.Provider]
		var kept []catalog.Task
		for _, t := range m.Tasks {
			ok := true
			switch t {
			case catalog.SpeechToText:
				_, ok = p.(providers.Transcriber)
			case catalog.TextToSpeech:
				_, ok = p.(providers.Speaker)
			}
			if ok {
				kept = append(kept, t)
				continue
			}
			level := slog.LevelWarn
			if s.reused {
				level = slog.LevelDebug // said when the set was first built
			}
			log.Log(context.Background(), level, "model task not served", "model", m.ID, "task", t, "provider", m.Provider, "type", s.types[m.Provider],
				"fix", "only openai-type providers serve the speech tasks: remove the task or move the model to such a provider")
		}
		switch {
		case len(kept) == len(m.Tasks):
			out = append(out, m)
		case len(kept) > 0:
			c := *m
			c.Tasks = kept
			out = append(out, &c)
		}
	}
	return out
}
