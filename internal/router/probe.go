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
	Interval time.Duration
	// Retry is how soon a failing provider is probed again: a probe of it
	// failed, or its breaker or one of its models' is not closed.
	Retry     time.Duration
	MaxTokens int
}

// ProbeSettings returns the probes to run: each provider's probe block,
// on by default for keyless providers (a local Ollama, a self-hosted
// server: probing costs nothing) and off for keyed SaaS accounts, where
// every probe is billed. A failing keyless provider is probed every 2s
// (probe.retry_interval), so its recovery is noticed within seconds.
func ProbeSettings(cfg *config.Config) map[string]Probe {
	out := map[string]Probe{}
	for name, p := range cfg.Providers {
		keyless := p.APIKeyEnv == ""
		on := keyless
		if p.Probe.Enabled != nil {
			on = *p.Probe.Enabled
		}
		if !on {
			continue
		}
		pr := Probe{Interval: p.Probe.Interval, Retry: p.Probe.RetryInterval, MaxTokens: p.Probe.MaxTokens}
		if pr.Interval <= 0 {
			pr.Interval = 30 * time.Second
		}
		if pr.Retry <= 0 {
			pr.Retry = pr.Interval
			if keyless {
				pr.Retry = 2 * time.Second
			}
		}
		pr.Retry = min(pr.Retry, pr.Interval)
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
// A probe is the half-open trial: it goes even when a breaker is open,
// and its success closes the model's and the provider's circuits at once
// instead of after open_for. A provider is probed every Interval while
// it is well, every Retry while it is failing.
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
		if pr.Retry <= 0 || pr.Retry > pr.Interval {
			pr.Retry = pr.Interval
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Ticks every Retry; a round runs when Interval has passed
			// since the last, or sooner while the provider is failing.
			t := time.NewTicker(pr.Retry)
			defer t.Stop()
			var last time.Time
			failing := false
			for {
				if last.IsZero() || failing || time.Since(last) >= pr.Interval-pr.Retry/2 || r.unwell(targets) {
					last, failing = time.Now(), false
					for _, b := range targets {
						if ctx.Err() != nil {
							return
						}
						if !r.probe(ctx, b, pr, log) {
							failing = true
						}
					}
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

// unwell reports whether a breaker of the targets or of their provider
// is not closed: what a probe's success would close.
func (r *Router) unwell(targets []*backend) bool {
	now := r.now()
	for _, b := range targets {
		if b.ph.stateAt(now, &r.cfg) != Closed || b.stateNow() != Closed {
			return true
		}
	}
	return false
}

type discard struct{}

func (discard) Chunk([]byte) error { return nil }

// probe sends one probe to b and reports whether it succeeded. It skips
// admission: an open circuit is what a probe is there to try.
func (r *Router) probe(ctx context.Context, b *backend, pr Probe, log *slog.Logger) bool {
	b.inflight.Add(1)
	att := &Attempt{r: r, b: b, start: r.now(), stream: true}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.TTFTTimeout)
	defer cancel()
	body := []byte(`{"model":"probe","stream":true,"max_tokens":` + strconv.Itoa(pr.MaxTokens) + `,"messages":[{"role":"user","content":"Reply with OK."}]}`)
	res, err := b.provider.Chat(ctx, &providers.ChatRequest{Model: b.model.Upstream, Body: body, Stream: true}, discard{})
	canceled := ctx.Err() != nil && err != nil && res == nil
	if err == nil {
		r.trialPassed(b, att.start)
	}
	att.Done(res, err, canceled)
	if err != nil {
		log.Debug("probe failed", "model", b.model.ID, "err", err)
	}
	return err == nil
}

// trialPassed closes b's circuit and its provider's when they opened
// before the probe was sent (at sent): a probe that answered is the
// trial half-open would wait open_for to send. One sent before the
// failures that opened a circuit tells nothing of them.
func (r *Router) trialPassed(b *backend, sent time.Time) {
	now := r.now()
	b.ph.pass(now, sent)
	b.mu.Lock()
	changed := b.state != Closed && !b.openedAt.After(sent)
	if changed {
		b.state, b.trialOut, b.winStart = Closed, false, now
		b.curTotal, b.curErr, b.prevTotal, b.prevErr = 0, 0, 0, 0
		b.publish()
	}
	b.mu.Unlock()
	if changed && r.onState != nil {
		r.onState(b.model.ID, Closed)
	}
}
