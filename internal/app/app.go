// Package app wires tiergate's gateway from a configuration: the backends
// (with the adapters of internal/backends/registry), the metrics registry,
// the router, the gateway's handler and the HTTP server with its limits,
// plus what runs beside them (the tiers file watch, the active probes) and
// the shutdown that load balancers see (drain delay, grace, streams cut
// with an error event). cmd/gateway and every end-to-end test build the
// gateway through New, so tests run the binary's wiring.
//
// It imports the gateway, router, backends (and its registry), metrics,
// tiers, keys and config; nothing imports it but cmd/gateway and tests.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/backends/registry"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/gateway"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/pgstore"
	"github.com/tiergate/tiergate/internal/memtrim"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/router"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/tiers"
)

// Options for New. Every field is optional.
type Options struct {
	// Getenv reads provider keys and the like (nil: no environment).
	Getenv func(string) string
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// HTTPClient is the adapters' client to upstreams (nil: their own).
	HTTPClient *http.Client
	// Registry and Gatherer hold the metrics served on /metrics (nil: a
	// new registry with the Go and process collectors). Give both or
	// neither.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Constructors replaces the adapters (nil: registry.Constructors()).
	Constructors map[string]backends.Constructor
	// TiersPath is the tiers file to load and follow ("": tiers.file in
	// the config; none when both are empty).
	TiersPath string
	// TiersInterval is how often the tiers file is checked (0: 2s).
	TiersInterval time.Duration
	// Listener to serve on (nil: New listens on cfg.Server.Addr).
	Listener net.Listener
}

// App is a wired gateway, listening but not yet serving until Run.
type App struct {
	cfg     *config.Config
	o       Options
	log     *slog.Logger
	metrics *metrics.Metrics
	srv     *http.Server
	ln      net.Listener
	slots   chan struct{}     // the concurrency cap, shared by every generation
	keys    *keys.Ring        // gateway keys (keys.go)
	admin   http.Handler      // the admin API under /admin/
	state   *redisstate.Store // the shared state store (nil: none; state.go)
	pg      *pgstore.Store    // the shared key store (nil: SQLite; postgres.go)

	// cur is the generation serving new requests; gens are all made so
	// far (older ones may still be finishing requests).
	cur      atomic.Pointer[generation]
	mu       sync.Mutex
	gens     []*generation
	draining bool
	// measured is the tiers file last loaded, for a new generation.
	measured atomic.Pointer[tiers.File]
}

// generation is a backends set with the router and gateway built over it.
// When a keyless provider comes up or a discovering one reports new
// models, a new generation replaces the current one for new requests.
type generation struct {
	set    *backends.Set
	router *router.Router
	gw     *gateway.Server
}

// New builds the backends (probing keyless and discovering providers,
// each bounded by server.discover_timeout and by ctx), the metrics, the
// router and the gateway, and opens the listener.
func New(ctx context.Context, cfg *config.Config, o Options) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Constructors == nil {
		o.Constructors = registry.Constructors()
	}
	if (o.Registry == nil) != (o.Gatherer == nil) {
		return nil, errors.New("app.New: give both Options.Registry and Options.Gatherer, or neither")
	}
	if o.Registry == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		o.Registry, o.Gatherer = reg, reg
	}
	if o.TiersPath == "" {
		o.TiersPath = cfg.Tiers.File
	}
	a := &App{cfg: cfg, o: o, log: log}
	if err := a.openKeys(ctx); err != nil {
		a.closeState()
		return nil, err
	}
	set, err := a.build(ctx, log, nil)
	if err != nil {
		a.keys.Close()
		a.closeState()
		return nil, err
	}
	if len(set.Providers()) == 0 {
		log.Warn("no backend is enabled: /v1/models is empty and requests get 503 until one is; set OPENAI_API_KEY, GROQ_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or start Ollama")
	}
	profiles := make([]string, 0, len(cfg.Profiles)+1)
	for name := range cfg.Profiles {
		profiles = append(profiles, name)
	}
	profiles = append(profiles, "pinned")
	a.metrics = metrics.NewWithOptions(o.Registry, set.Catalog(), metrics.Options{Profiles: profiles, Status: a.status, Providers: a.providers, KeyKnown: a.keys.Known})
	o.Registry.MustRegister(metrics.NewKeyBudgetCollector(a.keyBudgets, a.keys.Known))
	if cfg.Server.MaxConcurrent > 0 {
		a.slots = make(chan struct{}, cfg.Server.MaxConcurrent)
	}
	a.install(a.newGeneration(set))
	a.srv = &http.Server{Handler: (&memtrim.Trimmer{}).Wrap(a), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout, IdleTimeout: cfg.Server.IdleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	a.ln = o.Listener
	if a.ln == nil {
		if a.ln, err = net.Listen("tcp", cfg.Server.Addr); err != nil {
			a.keys.Close()
			a.closeState()
			return nil, err
		}
	}
	return a, nil
}

// build builds the backends from the configuration, keeping the adapters
// of reuse's providers (nil: all new).
func (a *App) build(ctx context.Context, log *slog.Logger, reuse *backends.Set) (*backends.Set, error) {
	return backends.Build(ctx, a.cfg, backends.Options{Getenv: a.o.Getenv, Logger: log, HTTPClient: a.o.HTTPClient,
		Constructors: a.o.Constructors, Reuse: reuse})
}

// newGeneration builds the router and the gateway over set.
func (a *App) newGeneration(set *backends.Set) *generation {
	cfg, log := a.cfg, a.log
	g := &generation{set: set}
	g.router = router.New(router.Options{Backends: set, Config: cfg.Router, Profiles: cfg.Profiles, Domains: cfg.Domains, TierRules: cfg.Tiers.Rules,
		OnState: func(model, state string) { log.Warn("circuit breaker", "model", model, "state", state) },
		OnProviderState: func(provider, state string) {
			log.Warn("provider circuit breaker", "provider", provider, "state", state)
		}, OnShare: a.shareHook()})
	g.gw = gateway.New(gateway.Options{Backends: set, Router: g.router, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		BodyReadTimeout: cfg.Server.BodyReadTimeout, Slots: a.slots,
		Logger: log, Metrics: a.metrics, Gatherer: a.o.Gatherer, Keys: a.keys})
	return g
}

// install makes g the generation that serves new requests.
func (a *App) install(g *generation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.draining {
		g.gw.Drain()
	}
	// Under the lock the tiers watch takes too (each): no file loaded
	// meanwhile is missed.
	if f := a.measured.Load(); f != nil {
		g.router.SetMeasured(f)
	}
	// What the current generation learned (breakers, cool-downs, live
	// speeds, provider health) carries over, after the tiers file so
	// that live figures are not set back to the bench's.
	if prev := a.cur.Load(); prev != nil {
		g.router.CarryFrom(prev.router)
	}
	a.gens = append(a.gens, g)
	a.cur.Store(g)
	a.metrics.SetCatalog(g.set.Catalog())
}

// each calls f on every generation made so far.
func (a *App) each(f func(*generation)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.gens {
		f(g)
	}
}

// ServeHTTP serves a request on the current generation.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		a.admin.ServeHTTP(w, r)
		return
	}
	if (a.state != nil || a.pg != nil) && r.URL.Path == "/readyz" {
		a.serveReady(w, r)
		return
	}
	a.cur.Load().gw.ServeHTTP(w, r)
}

// status is the metrics' view of the router's live state, read when
// Prometheus scrapes.
func (a *App) status() []metrics.Backend {
	st := a.cur.Load().router.Status()
	out := make([]metrics.Backend, len(st))
	for i, b := range st {
		out[i] = metrics.Backend{Model: b.Model, Provider: b.Provider, Tier: b.Tier, TierSource: b.TierSource, TTFT: b.TTFT,
			TokensPerSecond: b.TokensPerS, MeasuredAt: b.MeasuredAt, Breaker: b.Breaker, InFlight: b.InFlight}
	}
	return out
}

// providers is the metrics' view of the providers' health, read when
// Prometheus scrapes.
func (a *App) providers() []metrics.Provider {
	st := a.cur.Load().router.Providers()
	out := make([]metrics.Provider, len(st))
	for i, p := range st {
		out[i] = metrics.Provider{Name: p.Provider, Breaker: p.Breaker}
	}
	return out
}

// Handler is the gateway's HTTP handler (the API, /healthz, /readyz,
// /metrics and the status page), on whichever backends are current.
func (a *App) Handler() http.Handler { return a }

// Addr is the address the gateway listens on (host:port).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Backends is the set of enabled providers and their catalog, now.
func (a *App) Backends() *backends.Set { return a.cur.Load().set }

// Router is the router serving new requests.
func (a *App) Router() *router.Router { return a.cur.Load().router }

// applyTiers makes f the measured tiers every router routes on (from the
// tiers file or, with shared state, from what bench -publish stored).
func (a *App) applyTiers(f *tiers.File) {
	a.measured.Store(f)
	a.each(func(g *generation) { g.router.SetMeasured(f) })
	a.metrics.SetTiersFile(f)
}

// Run serves until ctx is done (or serving fails), with the tiers watch
// and the probes beside it, then shuts down as load balancers need it:
// /readyz answers 503 for server.drain_delay while new connections are
// still accepted, then the listener closes and in-flight requests have
// server.shutdown_grace to finish; what is still open then is cut, a
// stream with an error event. It returns nil after a clean shutdown.
func (a *App) Run(ctx context.Context) error {
	defer a.keys.Close() // last: after the requests and the background work
	defer a.closeState()
	var bg sync.WaitGroup
	defer bg.Wait()
	bgctx, bgcancel := context.WithCancel(context.Background())
	defer bgcancel()
	if path := a.o.TiersPath; path != "" {
		bg.Add(1)
		go func() {
			defer bg.Done()
			tiers.Watch(bgctx, path, a.o.TiersInterval, func(f *tiers.File, err error) {
				switch {
				case err == nil:
					a.applyTiers(f)
					a.log.Info("tiers loaded", "file", path, "backends", len(f.Tiers), "generated_at", f.GeneratedAt)
				case errors.Is(err, fs.ErrNotExist):
					a.log.Info("no tiers file yet: run bench to write it; it is picked up when it appears", "file", path)
				default:
					a.log.Warn("tiers file not loaded; keeping the tiers in use", "file", path, "err", err)
				}
			})
		}()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		a.follow(bgctx)
	}()
	a.runState(bgctx, &bg)
	a.runPostgres(bgctx, &bg)

	cur := a.cur.Load().set
	a.log.Info("tiergate gateway listening", "addr", "http://"+a.Addr()+"/v1", "models", len(cur.Catalog().All()), "providers", cur.Providers())
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(a.ln) }()
	// Start-up is done: give back its garbage and the executable's pages
	// that package init and the wiring touched (see memtrim.Trim), beside
	// the first requests rather than before them.
	bg.Add(1)
	go func() {
		defer bg.Done()
		a.log.Debug("start-up memory returned", "mapped_bytes_dropped", memtrim.Trim())
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	bgcancel() // no new generation during the shutdown
	if err := a.shutdown(errc); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// follow runs the current generation's probes and, every
// server.rediscover_interval, builds the backends again when some
// provider is keyless or discovers its models: a provider that came up or
// new models replace the generation for new requests (requests in flight
// finish on the old one). A rebuild that lost a provider or a model
// changes nothing (an outage is the breakers' business, and the models
// of a provider that blinked stay until it answers again).
func (a *App) follow(ctx context.Context) {
	var probes sync.WaitGroup
	defer probes.Wait()
	probe := func(g *generation) context.CancelFunc {
		pctx, cancel := context.WithCancel(ctx)
		probes.Add(1)
		go func() {
			defer probes.Done()
			g.router.RunProbes(pctx, router.ProbeSettings(a.cfg), a.log)
		}()
		return cancel
	}
	stop := probe(a.cur.Load())
	defer func() { stop() }()
	if !a.rediscovers() {
		<-ctx.Done()
		return
	}
	quiet := slog.New(slog.DiscardHandler)
	t := time.NewTicker(a.cfg.Server.RediscoverInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		old := a.cur.Load()
		set, err := a.build(ctx, quiet, old.set)
		if err != nil || ctx.Err() != nil {
			continue
		}
		added, ok := grown(old.set, set)
		if !ok {
			continue
		}
		g := a.newGeneration(set)
		a.install(g)
		a.log.Info("backends changed: new requests use the new set", "added", added, "providers", set.Providers(), "models", len(set.Catalog().All()))
		stop()
		stop = probe(g)
	}
}

// rediscovers says whether any provider can change at run time: a
// keyless one (enabled only when it answers) or one that lists its models.
func (a *App) rediscovers() bool {
	for _, p := range a.cfg.Providers {
		if p.APIKeyEnv == "" || p.Discover {
			return true
		}
	}
	return false
}

// grown says what next has that cur lacks (providers, then model ids),
// and whether next keeps everything cur has and adds something.
func grown(cur, next *backends.Set) ([]string, bool) {
	have := map[string]bool{}
	for _, p := range cur.Providers() {
		have["provider "+p] = true
	}
	for _, m := range cur.Catalog().All() {
		have["model "+m.ID] = true
	}
	var added []string
	seen := 0
	for _, p := range next.Providers() {
		if k := "provider " + p; have[k] {
			seen++
		} else {
			added = append(added, k)
		}
	}
	for _, m := range next.Catalog().All() {
		if k := "model " + m.ID; have[k] {
			seen++
		} else {
			added = append(added, k)
		}
	}
	return added, seen == len(have) && len(added) > 0
}

// shutdown drains, waits for in-flight requests within the grace, and
// cuts the rest.
func (a *App) shutdown(errc chan error) error {
	s := a.cfg.Server
	a.log.Info("shutting down: /readyz answers 503 while load balancers notice; new connections are still accepted", "drain_delay", s.DrainDelay)
	a.mu.Lock()
	a.draining = true
	a.mu.Unlock()
	a.each(func(g *generation) { g.gw.Drain() })
	a.srv.SetKeepAlivesEnabled(false) // each response now asks its client to reconnect, elsewhere
	select {
	case err := <-errc:
		return err
	case <-time.After(s.DrainDelay):
	}
	a.log.Info("closing the listener; in-flight requests may finish", "grace", s.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownGrace)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		a.log.Warn("grace period over: ending the requests still in flight (streams get an error event)")
		a.each(func(g *generation) { g.gw.CutStreams() })
		// The cut handlers write their error event and return at once;
		// give them a moment before the connections close.
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ccancel()
		if err := a.srv.Shutdown(cctx); err != nil {
			a.srv.Close()
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Close releases the listener of an App that is not run.
func (a *App) Close() error {
	defer a.closeState()
	return errors.Join(a.ln.Close(), a.keys.Close())
}
