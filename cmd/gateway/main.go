// Command gateway runs tiergate's OpenAI-compatible gateway. Point any
// OpenAI client at http://ADDR/v1. With no flags it runs on the embedded
// default configuration (configs/tiergate.yaml) and enables each provider
// whose key is set in the environment, plus a local Ollama if it answers.
//
// It reads flags, sets up logging and signals, and hands the rest to
// internal/app, the same wiring the end-to-end tests use. `gateway keys`
// manages gateway keys through a running gateway's admin API (keys.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/memtrim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "keys" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runKeys(ctx, args[1:], os.Stdout, os.Getenv)
	}
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
	// Under a container's memory limit (and no GOMEMLIMIT), the Go
	// runtime gets a soft limit below it.
	if lim, src := memtrim.SetLimit(os.Getenv, os.DirFS("/sys/fs/cgroup")); lim > 0 {
		log.Info("Go memory limit set from the container's", "soft_limit_bytes", lim, "source", src)
	}

	cfg, err := config.LoadFile(*cfgPath, configs.DefaultName, configs.Default(), os.Getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	a, err := app.New(ctx, cfg, app.Options{Getenv: os.Getenv, Logger: log, TiersPath: *tiersPath})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
