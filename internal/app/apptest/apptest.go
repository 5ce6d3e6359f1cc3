// Package apptest starts a gateway for a test exactly as cmd/gateway
// does (internal/app), on a loopback port, and stops it when the test
// ends. It imports app and config only.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/proc"
)

// Gateway is a running gateway.
type Gateway struct {
	*app.App
	// URL is its base URL, http://127.0.0.1:port (no /v1).
	URL string
}

// Start builds the gateway from cfg with app.New and runs it until the
// test ends (then it shuts down as the binary does; a drain delay and a
// grace left at their defaults are shortened to 1ns and 2s, since no load
// balancer watches a test; an empty server.data_dir is a temporary
// directory of the test's). A nil Logger
// discards the logs; a nil Listener listens on 127.0.0.1:0.
func Start(t testing.TB, cfg *config.Config, o app.Options) *Gateway {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Server.DrainDelay == config.DefaultDrainDelay {
		cfg.Server.DrainDelay = 1
	}
	if cfg.Server.ShutdownGrace == 30*time.Second {
		cfg.Server.ShutdownGrace = 2 * time.Second
	}
	if cfg.Server.DataDir == "" {
		cfg.Server.DataDir = t.TempDir() // never the user's own state directory
	}
	if o.Listener == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		o.Listener = ln
	}
	a, err := app.New(context.Background(), cfg, o)
	if err != nil {
		o.Listener.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	// Serving, as a client would find it: a test that dials before Serve
	// runs would race the start-up under load.
	url := "http://" + a.Addr()
	if err := proc.Ready[error](url+"/healthz", nil, 20*time.Second); err != nil {
		t.Fatalf("gateway not serving: %v", err)
	}
	return &Gateway{App: a, URL: url}
}
