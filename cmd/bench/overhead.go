package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/overhead"
)

const overheadUsage = `bench overhead measures what the gateway adds to a request, in one run
against one fast upstream: directly, through a bare httputil.ReverseProxy
(the floor: one extra Go HTTP hop) and through the gateway. The proxy and
the gateway each run pinned to one core (-core) with GOMAXPROCS=1; run the
command itself pinned to another (taskset -c 0), as scripts/overhead.sh does.

Reports added p50/p99 latency at a fixed rate (unary), added time to the
first streamed chunk, requests/s at saturation and peak memory, with the
targets as ratios to the floor: added latency <= 1.25x, throughput >= 0.75x;
the added p50 of a ~1 MB body with one base64 image (target <= 2x); and,
open loop at each -open-rate, p50/p99/p99.9 of every path, each request
timed from its scheduled send so that a stall counts against every request
it delays (no coordinated omission), the paths interleaved in blocks.
First, on the fresh processes, memory: the proxy's and the gateway's idle
RSS (anon and file pages), then what each of -streams open streams adds
(RSS, goroutines) and the RSS a few seconds after they ended; targets:
idle <= 20 MB, per stream <= the floor's and <= 3 goroutines.
-memory-only runs that part alone.

Usage: bench overhead [flags]

`

// runOverhead is "bench overhead".
func runOverhead(ctx context.Context, args []string, e env) error {
	fs := flagSet("bench overhead", overheadUsage, e)
	gw := fs.String("gateway", "", "gateway `binary` (default: go build ./cmd/gateway into a temp dir)")
	core := fs.String("core", "1", "CPU the proxy and the gateway are pinned to (\"\" for none)")
	rate := fs.Float64("rate", 500, "fixed arrival rate (requests/s) of the latency phases")
	requests := fs.Int("requests", 3000, "requests per path in the unary phase (a quarter as many streams)")
	chunks := fs.Int("chunks", 20, "content chunks in each streamed answer")
	conc := fs.Int("concurrency", 64, "workers in the saturation phase")
	sat := fs.Duration("saturate", 5*time.Second, "length of the saturation phase per path")
	rounds := fs.Int("rounds", 30, "blocks the latency phases are cut into, the paths taking turns in each")
	openRates := fs.String("open-rate", "1000,5000", "comma-separated `rates` (requests/s) of the open-loop phase (\"\" for none)")
	openReq := fs.Int("open-requests", 5000, "requests per path at each open-loop rate")
	openRounds := fs.Int("open-rounds", 10, "blocks each open-loop rate is cut into, the paths taking turns")
	imgReq := fs.Int("image-requests", 300, "requests per path with a ~1 MB image body (0 for none)")
	out := fs.String("json", "", "also write the report as JSON to `file`")
	streams := fs.Int("streams", 1000, "streams held open at once in the memory phase (0 for none)")
	memOnly := fs.Bool("memory-only", false, "measure memory only (idle, per open stream, after the streams end)")
	key := fs.Bool("key", false, "require a gateway key (limits checked, spend ledger written) and send it with every request")
	redisURL := fs.String("redis", "", "with -key, keep the key's limits in Redis at this `URL` (state.redis), as replicas share them")
	var gwEnv listFlag
	fs.Var(&gwEnv, "gateway-env", "`VAR=value` for the gateway process only, e.g. GOGC=200 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *redisURL != "" && !*key {
		return errors.New("-redis shares a key's limits: it needs -key")
	}
	var rates []float64
	for _, f := range strings.Split(*openRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-open-rate: %q is not a positive rate", f)
		}
		rates = append(rates, r)
	}
	if *gw == "" {
		dir, err := os.MkdirTemp("", "tiergate-overhead-bin")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*gw = filepath.Join(dir, "gateway")
		b := exec.CommandContext(ctx, "go", "build", "-o", *gw, "./cmd/gateway")
		b.Stdout, b.Stderr = e.stderr, e.stderr
		if err := b.Run(); err != nil {
			return fmt.Errorf("building the gateway (run from the repository root, or pass -gateway): %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep, err := overhead.Run(ctx, overhead.Options{GatewayBin: *gw, ProxyCmd: []string{self, "overhead-proxy"}, Core: *core,
		Rate: *rate, Requests: *requests, Chunks: *chunks, Concurrency: *conc, Saturate: *sat, Rounds: *rounds, Log: e.stderr, GatewayEnv: gwEnv,
		OpenRates: rates, OpenRequests: *openReq, OpenRounds: *openRounds, ImageRequests: *imgReq, Key: *key, Redis: *redisURL,
		Streams: *streams, MemoryOnly: *memOnly})
	if err != nil {
		return err
	}
	rep.Format(e.stdout)
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		return os.WriteFile(*out, b, 0o644)
	}
	return nil
}

// runOverheadProxy is "bench overhead-proxy": the floor proxy process.
func runOverheadProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench overhead-proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "upstream URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return overhead.ServeProxy(ctx, *listen, *target)
}
