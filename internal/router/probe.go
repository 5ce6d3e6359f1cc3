package router

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
)

// Probe is an active probe of one provider's chat models.
type Probe struct {
	Interval  time.Duration
	MaxTokens int
}

// ProbeSettings returns the probes to run: each provider's probe block,
// on by default for keyless providers (a local Ollama, a self-hosted
// server: probing costs nothing) and off for keyed SaaS accounts, where
// every probe is billed.
func ProbeSettings(cfg *config.Config) map[string]Probe {
	out := map[string]Probe{}
	for name, p := range cfg.Providers {
		on := p.APIKeyEnv == ""
		if p.Probe.Enabled != nil {
			on = *p.Probe.Enabled
		}
		if !on {
			continue
		}
		pr := Probe{Interval: p.Probe.Interval, MaxTokens: p.Probe.MaxTokens}
		if pr.Interval <= 0 {
			pr.Interval = 30 * time.Second
		}
		if pr.MaxTokens <= 0 {
			pr.MaxTokens = 4
		}
		out[name] = pr
	}
	return out
}

// RunProbes probes every chat model of each configured provider until ctx
// ends: a tiny streamed request whose timing and outcome feed the same
// live state as real traffic (latency, tier, breaker), so an idle local
// backend's tier stays current and a dead one is noticed before a user is.
func (r *Router) RunProbes(ctx context.Context, settings map[string]Probe, log *slog.Logger) {
	names := make([]string, 0, len(settings))
	for n := range settings {
		names = append(names, n)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	for _, name := range names {
		var targets []*backend
		for _, b := range r.order {
			if b.model.Provider == name && b.model.Has(catalog.Chat) && b.provider != nil {
				targets = append(targets, b)
			}
		}
		if len(targets) == 0 {
			continue
		}
		pr := settings[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(pr.Interval)
			defer t.Stop()
			for {
				for _, b := range targets {
					if ctx.Err() != nil {
						return
					}
					r.probe(ctx, b, pr, log)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

type discard struct{}

func (discard) Chunk([]byte) error { return nil }

func (r *Router) probe(ctx context.Context, b *backend, pr Probe, log *slog.Logger) {
	c := Candidate{Model: b.model, Provider: b.provider, b: b}
	att, ok := r.Begin(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.TTFTTimeout)
	defer cancel()
	body := []byte(`{"model":"probe","stream":true,"max_tokens":` + strconv.Itoa(pr.MaxTokens) + `,"messages":[{"role":"user","content":"Reply with OK."}]}`)
	res, err := b.provider.Chat(ctx, &providers.ChatRequest{Model: b.model.Upstream, Body: body, Stream: true}, discard{})
	canceled := ctx.Err() != nil && err != nil && res == nil
	att.Done(res, err, canceled)
	if err != nil {
		log.Debug("probe failed", "model", b.model.ID, "err", err)
	}
}
