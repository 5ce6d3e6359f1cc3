// Command gateway runs tiergate's OpenAI-compatible gateway. Point any
// OpenAI client at http://ADDR/v1. With no flags it runs on the embedded
// default configuration (configs/tiergate.yaml) and enables each provider
// whose key is set in the environment, plus a local Ollama if it answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/gateway"
	"github.com/tiergate/tiergate/internal/memtrim"
	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/router"
	"github.com/tiergate/tiergate/internal/tiers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration `file` (default: the embedded configs/tiergate.yaml)")
	addr := fs.String("addr", "", "listen `host:port` (default 127.0.0.1:8080, or server.addr in the config)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	tiersPath := fs.String("tiers", "", "tiers `file` written by bench, loaded at start and reloaded when it changes (default: tiers.file in the config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))

	cfg, err := config.LoadFile(*cfgPath, configs.DefaultName, configs.Default(), os.Getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	set, err := backends.Build(ctx, cfg, backends.Options{Getenv: os.Getenv, Logger: log})
	if err != nil {
		return err
	}
	if len(set.Providers()) == 0 {
		log.Warn("no backend is enabled: /v1/models is empty and requests get 503 until one is; set OPENAI_API_KEY, GROQ_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or start Ollama")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	profiles := make([]string, 0, len(cfg.Profiles)+1)
	for name := range cfg.Profiles {
		profiles = append(profiles, name)
	}
	profiles = append(profiles, "pinned")
	m := metrics.NewWithOptions(reg, set.Catalog(), metrics.Options{Profiles: profiles})
	rt := router.New(router.Options{Backends: set, Config: cfg.Router, Profiles: cfg.Profiles, Domains: cfg.Domains, TierRules: cfg.Tiers.Rules,
		OnState: func(model, state string) {
			log.Warn("circuit breaker", "model", model, "state", state)
			m.SetBreaker(model, state)
		}})
	gw := gateway.New(gateway.Options{Backends: set, Router: rt, MaxBodyBytes: cfg.Server.MaxBodyBytes, Logger: log, Metrics: m, Gatherer: reg})

	var bg sync.WaitGroup
	defer bg.Wait()
	bgctx, bgcancel := context.WithCancel(context.Background())
	defer bgcancel()
	if *tiersPath == "" {
		*tiersPath = cfg.Tiers.File
	}
	if *tiersPath != "" {
		bg.Add(1)
		go func() {
			defer bg.Done()
			tiers.Watch(bgctx, *tiersPath, 2*time.Second, func(f *tiers.File, err error) {
				if err != nil {
					log.Warn("tiers file not loaded; keeping the tiers in use", "file", *tiersPath, "err", err)
					return
				}
				rt.SetMeasured(f)
				m.SetTiersFile(f)
				log.Info("tiers loaded", "file", *tiersPath, "backends", len(f.Tiers), "generated_at", f.GeneratedAt)
			})
		}()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		rt.RunProbes(bgctx, router.ProbeSettings(cfg), log)
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		exportTiers(bgctx, rt, m, 5*time.Second)
	}()

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	// A burst's memory goes back to the OS once it is over.
	srv := &http.Server{Handler: (&memtrim.Trimmer{}).Wrap(gw), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("tiergate gateway listening", "addr", "http://"+ln.Addr().String()+"/v1", "models", len(set.Catalog().All()), "providers", set.Providers())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down: no new connections; in-flight requests may finish", "grace", cfg.Server.ShutdownGrace)
	gw.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("grace period over: closing the remaining connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	bgcancel()
	log.Info("stopped")
	return nil
}

// exportTiers copies every backend's tier, speed and breaker state from
// the router to the metrics, at start and then every interval.
func exportTiers(ctx context.Context, rt *router.Router, m *metrics.Metrics, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, b := range rt.Status() {
			m.SetTier(b.Model, b.Provider, b.Tier, b.TierSource, b.TTFT, b.TokensPerS, b.MeasuredAt)
			m.SetBreaker(b.Model, b.Breaker)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
