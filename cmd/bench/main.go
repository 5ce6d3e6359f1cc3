// Command bench measures LLM backends under load and assigns each a
// measured speed tier (ultra-fast, fast, moderate, slow) that the gateway
// reads.
//
// It streams chat completions to catalog models through tiergate's
// provider adapters (providers are enabled from the environment, as for
// the gateway: OPENAI_API_KEY, GROQ_API_KEY, ..., and a local Ollama that
// answers at OLLAMA_HOST), or to any OpenAI-compatible URL, the tiergate
// gateway included. For each model and load step it reports time to first
// token (TTFT), inter-token latency (ITL), time per output token (TPOT),
// end-to-end latency (E2E), per-request output tokens/s, throughput and
// failures by kind; the tier comes from the single-stream step
// (concurrency 1) against the config's tiers.rules.
//
// Examples:
//
//	bench                                         # every enabled chat model, 10 requests at concurrency 1
//	bench -model llama3-8b -concurrency 1,4,16 -out results/
//	bench -model ollama/llama3:8b -requests 20 -max-tokens 256
//	bench -model gpt-4o-mini,groq-llama3-8b -tiers-out tiers.json
//	bench -model llama3-8b -rate 0.5,1,2 -arrival poisson -duration 1m
//	bench -target http://127.0.0.1:8080/v1 -model gpt-4o-mini   # through the gateway
//	bench -model llama3-8b -prompts prompts.jsonl               # {"prompt": "..."} or {"messages": [...]} per line
//	bench -model llama3-8b -dataset sharegpt.json -turns 3      # a ShareGPT or chat JSONL dataset, 3-turn conversations
//	bench -model llama3-8b -trace trace.jsonl -trace-speed 2    # replay a trace at twice its recorded pace
//	bench -model llama3-8b -rate 2 -burstiness 0.5 -input-len normal:512,128 -output-len uniform:64,256
//
// To bench a real local model on a machine with internet: install Ollama,
// run `ollama pull llama3:8b`, then `bench -model llama3-8b` (the catalog
// id) or `bench -model ollama/llama3:8b` (any installed model by name).
//
// Output: a progress bar on a terminal (plain lines otherwise) on stderr;
// the summary table on stdout (80 columns; -wide for every column); with -out DIR, results.json, results.csv
// (one row per model and step), requests.csv (one row per request),
// report.html (self-contained charts, opens offline) and tiers.json. The
// tiers are also merged into -tiers-out (default: the config's
// tiers.file, TIERGATE_TIERS in the default config), which the gateway
// reloads when it changes. Ctrl-C stops the run and still writes what was
// measured. -out and -tiers-out are checked before the first request; a
// model whose warm-up fails is not measured, and bench exits with the
// warm-up's error. -repeat N runs the measurement N times and pools it;
// tiers come with 95% bootstrap intervals (-confidence, -resamples), and
// an undecided one keeps the tier the tiers file had. -tier-at
// concurrency=8 (or rate=2) takes tiers from that step instead of the
// single stream. results.json holds a per-second series of each step,
// the bench's own lag (a step where the client was the bottleneck is
// marked) and the run's metadata.
//
// This command parses flags and wires things up; the engine is
// internal/bench, the outputs internal/bench/report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/backends"
	"github.com/tiergate/tiergate/internal/backends/registry"
	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/bench/report"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/providers/openai"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/tiers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, terminal: term.IsTerminal(int(os.Stderr.Fd()))}
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "overhead":
		err = runOverhead(ctx, os.Args[2:], e)
	case len(os.Args) > 1 && os.Args[1] == "overhead-proxy":
		err = runOverheadProxy(ctx, os.Args[2:])
	default:
		err = run(ctx, os.Args[1:], e)
	}
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is what run needs of the process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	terminal       bool // stderr is a terminal
}

const usageHead = `bench measures LLM backends under load and assigns each a speed tier.

Usage: bench [flags]

  bench                                        every enabled chat model, 10 requests at concurrency 1
  bench -model llama3-8b -concurrency 1,4,16 -out results/
  bench -model ollama/llama3:8b -requests 20 -max-tokens 256
  bench -model llama3-8b -rate 0.5,1,2 -arrival poisson -duration 1m
  bench -target http://127.0.0.1:8080/v1 -model gpt-4o-mini     through the gateway (or any OpenAI-compatible URL)
  bench -model llama3-8b -dataset sharegpt.json -turns 3       a ShareGPT or chat JSONL dataset as 3-turn conversations
  bench -model llama3-8b -trace trace.jsonl                     replay a JSONL trace at its recorded times
  bench overhead                               the gateway's own cost against a bare reverse proxy (see bench overhead -h)

Providers are enabled from the environment as for the gateway (OPENAI_API_KEY,
GROQ_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY; Ollama at OLLAMA_HOST). To bench a
real local model: ollama pull llama3:8b, then bench -model llama3-8b (catalog id)
or bench -model ollama/llama3:8b.

Metrics: TTFT = send to first chunk with generated content; ITL = gaps between
content chunks; TPOT = (E2E - TTFT)/(tokens - 1); tok/s per request =
(tokens - 1)/(E2E - TTFT). Tokens come from the server's usage, else an offline
tokenizer, else one per chunk. Tiers come from the concurrency-1 step, judged by
the config's tiers.rules, with bootstrap confidence intervals of its medians: when
an interval straddles a threshold the tier is "undecided" and the tiers file keeps
its previous tier (with none, the medians' tier is written, marked provisional).
-tier-at concurrency=8 takes tiers from that step instead. Failures are counted by
kind, never in latency figures. Each step warms its connections first and measures
the bench's own lag; a step where the client was the bottleneck is marked.

Flags:
`

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// flagSet is a command's flag set: its errors and its usage (head, then
// the flags) go to e.stderr.
func flagSet(name, head string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), head)
		fs.PrintDefaults()
	}
	return fs
}

func run(ctx context.Context, args []string, e env) error {
	fs := flagSet("bench", usageHead, e)
	var models listFlag
	fs.Var(&models, "model", "model `ID` to bench: a catalog id, provider/model (e.g. ollama/llama3:8b), or with -target the name to send; repeat or comma-separate (default: every enabled chat model)")
	cfgPath := fs.String("config", "", "configuration `file` (default: the embedded configs/tiergate.yaml)")
	target := fs.String("target", "", "bench an OpenAI-compatible `URL` (e.g. http://127.0.0.1:8080/v1, the gateway) instead of the catalog; needs -model")
	targetKeyEnv := fs.String("target-key-env", "", "environment `variable` holding the -target API key (none by default)")
	concurrency := fs.String("concurrency", "1", "closed-loop concurrency `levels`, comma-separated (e.g. 1,4,16); tiers come from 1")
	rate := fs.String("rate", "", "open-loop arrival `rates` in requests/s, comma-separated; replaces the concurrency sweep unless -concurrency is given too")
	arrival := fs.String("arrival", "poisson", "open-loop `arrivals`: constant, poisson or gamma (with -burstiness; seeded by -seed)")
	maxConc := fs.Int("max-concurrency", 0, "cap on in-flight requests for -rate (0: none)")
	requests := fs.Int("requests", 10, "requests per step (with -duration alone: unbounded)")
	duration := fs.Duration("duration", 0, "time per step; no request starts after it (e.g. 30s, 2m)")
	rampUp := fs.Duration("ramp-up", 0, "closed loop: start the workers of a step spread evenly over this `duration` instead of all at once")
	warmup := fs.Int("warmup", 1, "warm-up requests per model before its first step, not measured (loads the model)")
	timeout := fs.Duration("timeout", 2*time.Minute, "per-request timeout")
	promptTokens := fs.Int("prompt-tokens", 128, "length of synthetic prompts, in tokens (cl100k)")
	maxTokens := fs.Int("max-tokens", 128, "max_tokens of each request")
	seed := fs.Uint64("seed", 1, "seed for synthetic prompts and Poisson arrivals")
	promptsFile := fs.String("prompts", "", "JSONL `file` of prompts, one {\"prompt\": \"...\"} or {\"messages\": [...]} per line (optional \"max_tokens\"), used in turn")
	repeat := fs.Int("repeat", 1, "run the whole measurement `N` times and pool the samples; the results give each repeat's medians and the confidence intervals their spread")
	confidence := fs.Float64("confidence", 0.95, "`level` of the bootstrap confidence intervals of the medians that decide a tier")
	resamples := fs.Int("resamples", 1000, "bootstrap draws for the confidence intervals")
	outDir := fs.String("out", "", "write results.json, results.csv, requests.csv, report.html and tiers.json into `dir`")
	tiersOut := fs.String("tiers-out", "", "merge the tiers into this `file` for the gateway (default: tiers.file of the config; \"off\" to skip)")
	publish := fs.String("publish", "", "also merge the tiers into those published in Redis (`redis://host:6379/0`), which every gateway replica with state.redis picks up")
	wide := fs.Bool("wide", false, "print the full summary table (every percentile and column; wider than 80 columns) instead of the narrow one")
	progress := fs.String("progress", "auto", "progress display: auto (a bar on a terminal, else lines), bar, lines or off")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	slo := fs.String("slo", "", "score each step's goodput against `bounds` such as ttft=800ms,itl=60ms,e2e=20s (itl: a request's mean gap between tokens)")
	findMax := fs.Bool("find-max-rate", false, "after the steps, search each model's highest open-loop rate that keeps -slo for -slo-goal of requests (starts at the first -rate, else 1/s)")
	sloGoal := fs.Float64("slo-goal", 0.9, "share of requests that must meet -slo for -find-max-rate")
	wf := addWorkloadFlags(fs) // workload.go
	tierAt := fs.String("tier-at", "", "the `load` a tier must hold at: concurrency=N or rate=R; tiers come from that step (which must be among the steps) instead of concurrency 1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: flags only (see bench -h)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lv}))

	o := bench.Options{Requests: *requests, Duration: *duration, RampUp: *rampUp, Warmup: *warmup, Timeout: *timeout,
		MaxTokens: *maxTokens, PromptTokens: *promptTokens, Seed: *seed, Logger: log,
		Repeat: *repeat, Confidence: *confidence, Resamples: *resamples}
	if *repeat < 1 || !(*confidence > 0 && *confidence < 1) || *resamples < 1 {
		return errors.New("-repeat and -resamples must be at least 1, -confidence between 0 and 1 (e.g. 0.95)")
	}
	if set["duration"] && !set["requests"] {
		o.Requests = 0
	}
	steps, err := parseSteps(*concurrency, *rate, *arrival, *maxConc, set["concurrency"])
	if err != nil {
		return err
	}
	o.Steps = steps
	if *slo != "" {
		if o.SLO, err = bench.ParseSLO(*slo); err != nil {
			return fmt.Errorf("-%w", err)
		}
	}
	if *findMax {
		if o.SLO == nil {
			return errors.New("-find-max-rate needs -slo: the bounds the rate must keep (e.g. -slo ttft=800ms,e2e=20s)")
		}
		if !(*sloGoal > 0 && *sloGoal <= 1) {
			return errors.New("-slo-goal: give a share between 0 and 1 (e.g. 0.9)")
		}
		o.FindMaxRate = &bench.MaxRateSearch{Goal: *sloGoal, Arrival: bench.Arrival(*arrival)}
		if !set["concurrency"] {
			// The search makes its own open-loop steps; the default
			// concurrency sweep is not asked for.
			o.Steps = nil
		}
		for _, st := range steps {
			if st.Rate > 0 {
				o.FindMaxRate.Start = st.Rate
				o.Steps = slices.DeleteFunc(o.Steps, func(s bench.Step) bool { return s.Rate > 0 })
				break
			}
		}
	}
	if *promptsFile != "" {
		f, err := os.Open(*promptsFile)
		if err != nil {
			return fmt.Errorf("-prompts: %w", err)
		}
		o.Prompts, err = bench.ReadPrompts(*promptsFile, f)
		f.Close()
		if err != nil {
			return err
		}
		o.PromptsFile = *promptsFile
	}
	if err := applyWorkload(wf, &o, set, *promptsFile); err != nil {
		return err
	}

	cfg, err := config.LoadFile(*cfgPath, configs.DefaultName, configs.Default(), e.getenv)
	if err != nil {
		return err
	}
	o.Rules = cfg.Tiers.Rules
	if *tierAt != "" {
		if o.TierAt, err = tiers.ParseAt(*tierAt); err != nil {
			return fmt.Errorf("-tier-at %w", err)
		}
	}

	var targets []bench.Target
	if *target != "" {
		targets, err = urlTargets(*target, *targetKeyEnv, models, e.getenv, log)
	} else {
		targets, err = catalogTargets(ctx, cfg, models, e.getenv, log)
	}
	if err != nil {
		return err
	}
	if wf.ignoreEOS && *target == "" {
		if err := checkIgnoreEOS(cfg, targets); err != nil {
			return err
		}
	}
	switch *progress {
	case "auto":
		if e.terminal {
			o.Progress = bench.NewBarProgress(e.stderr)
		} else {
			o.Progress = bench.NewLineProgress(e.stderr, 5*time.Second)
		}
	case "bar":
		o.Progress = bench.NewBarProgress(e.stderr)
	case "lines":
		o.Progress = bench.NewLineProgress(e.stderr, 5*time.Second)
	case "off":
	default:
		return fmt.Errorf("-progress %q: use auto, bar, lines or off", *progress)
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.Model)
	}
	fmt.Fprintf(e.stderr, "bench: %d model(s): %s; steps: %s\n", len(targets), strings.Join(names, ", "), stepLabels(o.Steps))

	tpath := *tiersOut
	if tpath == "" {
		tpath = cfg.Tiers.File
	}
	if *outDir != "" {
		if err := report.CheckDir(*outDir); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
	}
	var prevTiers *tiers.File
	if tpath != "" && tpath != "off" {
		if err := checkWritable(tpath); err != nil {
			return fmt.Errorf("-tiers-out: %w", err)
		}
		// Read the file to merge into before the run: a file bench cannot
		// read is found now, not after the measurement.
		if prevTiers, err = loadTiers(tpath); err != nil {
			return err
		}
	}

	var pub *redisstate.Store
	if *publish != "" {
		// Reached before the run: a wrong -publish is found now, not
		// after the measurement.
		if pub, err = redisstate.New(redisstate.Options{URL: *publish, Logger: log}); err != nil {
			return fmt.Errorf("-publish: %w", err)
		}
		defer pub.Close()
		if err := pub.Check(ctx); err != nil {
			return fmt.Errorf("-publish: %w", err)
		}
	}

	res, err := bench.Run(ctx, targets, o)
	if err != nil {
		return err
	}
	res.Meta = runMeta(args)
	// An undecided tier keeps the one the tiers file has (tiers.Settle).
	for i, t := range res.Tiers {
		for _, p := range prevTiersOf(prevTiers) {
			if p.Model == t.Model && p.Provider == t.Provider {
				res.Tiers[i] = tiers.Settle(t, &p)
			}
		}
	}
	fmt.Fprintln(e.stdout)
	table := report.Table
	if *wide {
		table = report.WideTable
	}
	if err := table(e.stdout, res); err != nil {
		return err
	}
	if *outDir != "" {
		paths, err := report.WriteDir(*outDir, res)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "bench: wrote %s\n", strings.Join(paths, ", "))
	}
	if tpath != "" && tpath != "off" && len(res.Tiers) > 0 {
		if err := mergeTiers(tpath, prevTiers, res.TiersFile()); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "bench: tiers of %d model(s) merged into %s\n", len(res.Tiers), tpath)
	}
	if pub != nil && len(res.Tiers) > 0 {
		f, err := pub.PublishTiers(ctx, res.TiersFile())
		if err != nil {
			return fmt.Errorf("-publish: %w", err)
		}
		fmt.Fprintf(e.stderr, "bench: tiers of %d model(s) published to redis (%d in all); every replica with state.redis routes on them\n", len(res.Tiers), len(f.Tiers))
	}
	succeeded := 0
	for _, r := range res.Runs {
		succeeded += r.Requests.Succeeded
	}
	switch {
	case res.Interrupted:
		return errors.New("interrupted")
	case res.WarmupFailed:
		var why []string
		for _, u := range res.Untiered {
			if strings.Contains(u.Reason, "warm-up failed") {
				why = append(why, u.Model+": "+u.Reason)
			}
		}
		return errors.New(strings.Join(why, "; "))
	case succeeded == 0:
		return errors.New("no request succeeded (see FAILURES above)")
	}
	return nil
}

func stepLabels(steps []bench.Step) string {
	var l []string
	for _, s := range steps {
		l = append(l, s.Label())
	}
	return strings.Join(l, ", ")
}

// parseSteps builds the load steps: the concurrency sweep, then the
// rates. A -rate without an explicit -concurrency replaces the sweep.
func parseSteps(conc, rates, arrival string, maxConc int, concSet bool) ([]bench.Step, error) {
	var steps []bench.Step
	if rates == "" || concSet {
		for _, s := range strings.Split(conc, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("-concurrency %q: give positive whole numbers, comma-separated (e.g. 1,4,16)", conc)
			}
			steps = append(steps, bench.Step{Concurrency: n})
		}
	}
	a := bench.Arrival(arrival)
	if a != bench.Constant && a != bench.Poisson && a != bench.Gamma {
		return nil, fmt.Errorf("-arrival %q: use constant, poisson or gamma (with -burstiness)", arrival)
	}
	if maxConc < 0 {
		return nil, errors.New("-max-concurrency must not be negative")
	}
	for _, s := range strings.Split(rates, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || !(r > 0) || r > 1e6 {
			return nil, fmt.Errorf("-rate %q: give positive requests per second, comma-separated (e.g. 0.5,1,2)", rates)
		}
		steps = append(steps, bench.Step{Rate: r, Arrival: a, MaxConcurrency: maxConc})
	}
	if len(steps) == 0 {
		return nil, errors.New("no load steps: give -concurrency or -rate")
	}
	return steps, nil
}

// catalogTargets resolves -model against the enabled providers.
func catalogTargets(ctx context.Context, cfg *config.Config, models []string, getenv func(string) string, log *slog.Logger) ([]bench.Target, error) {
	set, err := backends.Build(ctx, cfg, backends.Options{Getenv: getenv, Logger: log, Constructors: registry.Constructors(), HTTPClient: bench.NewHTTPClient()})
	if err != nil {
		return nil, err
	}
	disabled := func() string {
		var parts []string
		for _, d := range set.Disabled() {
			parts = append(parts, fmt.Sprintf("%s (%s: %s)", d.Name, d.Why, d.Hint))
		}
		if len(parts) == 0 {
			return ""
		}
		return "; disabled providers: " + strings.Join(parts, "; ")
	}
	var out []bench.Target
	seen := map[string]bool{}
	add := func(m *catalog.Model) error {
		p, ok := set.Provider(m.Provider)
		if !ok {
			return fmt.Errorf("model %s: provider %s is not enabled%s", m.ID, m.Provider, disabled())
		}
		if seen[m.ID] {
			return nil
		}
		seen[m.ID] = true
		out = append(out, bench.Target{Model: m.ID, Provider: m.Provider, Upstream: m.Upstream, Client: p})
		return nil
	}
	if len(models) == 0 {
		for _, m := range set.Catalog().All() {
			if m.Has(catalog.Chat) {
				if err := add(m); err != nil {
					return nil, err
				}
			}
		}
		if len(out) == 0 {
			return nil, errors.New("no chat model is enabled: set a provider's API key or start Ollama" + disabled())
		}
		return out, nil
	}
	for _, id := range models {
		m, ok := set.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("model %q is not served by an enabled provider: enabled chat models: %s%s",
				id, strings.Join(chatIDs(set), ", "), disabled())
		}
		if !m.Has(catalog.Chat) {
			return nil, fmt.Errorf("model %s does not chat (tasks: %v): bench measures chat completions", m.ID, m.Tasks)
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func chatIDs(set *backends.Set) []string {
	var ids []string
	for _, m := range set.Catalog().All() {
		if m.Has(catalog.Chat) {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return []string{"(none)"}
	}
	return ids
}

// urlTargets builds targets for an OpenAI-compatible URL.
func urlTargets(raw, keyEnv string, models []string, getenv func(string) string, log *slog.Logger) ([]bench.Target, error) {
	if len(models) == 0 {
		return nil, errors.New("-target needs -model NAME: the model name to send")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-target %q: give an http:// or https:// URL such as http://127.0.0.1:8080/v1", raw)
	}
	if p := strings.TrimRight(u.Path, "/"); p == "" {
		u.Path = "/v1" // the OpenAI API root
	}
	key := ""
	if keyEnv != "" {
		if key = getenv(keyEnv); key == "" {
			return nil, fmt.Errorf("-target-key-env %s: the variable is empty", keyEnv)
		}
	}
	p, err := openai.New(providers.Options{Name: u.Host, BaseURL: u.String(), APIKey: key, KeyEnv: keyEnv, Logger: log, HTTPClient: bench.NewHTTPClient()})
	if err != nil {
		return nil, err
	}
	var out []bench.Target
	seen := map[string]bool{}
	for _, m := range models {
		if !seen[m] {
			seen[m] = true
			out = append(out, bench.Target{Model: m, Provider: u.Host, Upstream: m, Client: p})
		}
	}
	return out, nil
}

// loadTiers reads the tiers file bench will merge into; nil when there
// is none yet.
func loadTiers(path string) (*tiers.File, error) {
	old, err := tiers.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("-tiers-out: %w (fix or remove it; bench does not overwrite a file it cannot read)", err)
	}
	return old, nil
}

// runMeta describes this run for results.json: the build, the flags (a
// URL's user and password left out), the host.
func runMeta(args []string) *bench.Meta {
	m := &bench.Meta{Version: "(unknown)", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				m.Version += " " + s.Value
			}
		}
	}
	m.Host, _ = os.Hostname()
	m.Args = []string{}
	for _, a := range args {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			u.User = nil
			a = u.String()
		}
		m.Args = append(m.Args, a)
	}
	return m
}

// checkWritable makes sure a file can be written at path the way
// tiers.Write does (a temporary file in its directory, renamed over it).
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.probe")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

func prevTiersOf(f *tiers.File) []tiers.Entry {
	if f == nil {
		return nil
	}
	return f.Tiers
}

// mergeTiers merges f into old, the tiers file at path read before the
// run, keeping the entries of models not measured now.
func mergeTiers(path string, old, f *tiers.File) error {
	if err := tiers.Write(path, tiers.Merge(old, f)); err != nil {
		return fmt.Errorf("-tiers-out: %w", err)
	}
	return nil
}
