// Package bench is tiergate's benchmark engine. It sends streamed chat
// completions to backends through the provider adapters (or to any
// OpenAI-compatible URL, the gateway included, through the openai
// adapter), under a closed-loop concurrency sweep or open-loop constant or
// Poisson arrivals, measures every request from the client's side, and
// summarises each model and load step: time to first token, inter-token
// latency, time per output token, end-to-end latency, per-request output
// tokens per second, throughput and failures by kind. From the
// single-stream step (concurrency 1), or the step at Options.TierAt (or
// at a rule's own at, for that rule), it assigns each model a speed tier
// with the configured rules
// (internal/tiers), judged on bootstrap confidence intervals of the two
// deciding medians (MedianCI; over the repeats of Options.Repeat, at
// least Resolution wide): a tier whose interval straddles a threshold is
// "undecided". Each step also gets a
// per-second time series (Second), and the bench's own lag (ClientLag,
// lag.go): a step where the client, not the backend, was the bottleneck
// is marked and warned about. A step's connections are opened before
// its clock starts.
//
// Definitions (those of vLLM's bench serve, GuideLLM and NVIDIA AIPerf):
//
//   - TTFT: from sending the request to the first chunk that carries
//     generated content (text, reasoning or a tool-call piece); a
//     role-only or empty chunk does not count. Reasoning models also get
//     the time to the first non-reasoning token.
//   - ITL: every gap between consecutive content chunks, pooled over the
//     step's requests as a distribution.
//   - TPOT = (E2E - TTFT) / (output tokens - 1); per-request output
//     tokens/s = (output tokens - 1) / (E2E - TTFT). Both are undefined,
//     and left out, for answers of one token.
//   - Output tokens: the server's usage when it reports it (the adapters
//     ask for it: stream_options.include_usage, Ollama's eval_count);
//     otherwise the generated text counted once with an offline BPE
//     tokenizer; otherwise one per content chunk. Each request records the
//     method, and each step says which it used.
//
// Failed and timed-out requests are counted by kind and reported; they
// never enter latency statistics. Warm-up requests are sent before a
// model's first step and left out of the results.
//
// The measurement path is lean: a request's Sink takes its timestamp
// before parsing the chunk, touches no lock, and each closed-loop worker
// appends its records to its own slice.
//
// What is sent, and when, can come from a workload (Options.Workload, the
// sub-package workload: datasets, drawn lengths, shared prefixes,
// multi-turn conversations, traces; source.go is the seam).
//
// Outputs (tables, JSON, CSV, HTML) are in the sub-package report. This
// package imports providers, config and tiers of tiergate and its
// sub-package workload (and tiktoken-go with its embedded vocabularies,
// progressbar); it must not import the gateway or the router, which it
// measures from outside.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/tiers"
)

// Target is one model on one backend.
type Target struct {
	// Model names the model in results and the tiers file: the catalog
	// id, or the model name given with -target.
	Model string
	// Provider is the configured provider name ("target" for a URL).
	Provider string
	// Upstream is the model name sent to the provider.
	Upstream string
	// Client is the provider's adapter.
	Client providers.Provider
}

// Arrival is an open-loop arrival process.
type Arrival string

// Arrival processes.
const (
	Constant Arrival = "constant" // evenly spaced, 1/rate apart
	Poisson  Arrival = "poisson"  // exponential gaps with mean 1/rate, seeded
	// Gamma has gamma-distributed gaps with mean 1/rate and shape
	// Options.Burstiness (workload.Gamma), seeded.
	Gamma Arrival = "gamma"
	// Trace sends at the times of the Options.Workload trace
	// (workload.Timed); its step has no rate.
	Trace Arrival = "trace"
)

// Step is one load level.
type Step struct {
	// Concurrency > 0 runs a closed loop: this many requests in flight,
	// each worker sending its next request when the last one ends.
	Concurrency int
	// Rate > 0 (with Concurrency 0) runs an open loop: requests arrive at
	// Rate per second following Arrival, whatever is in flight.
	Rate    float64
	Arrival Arrival
	// MaxConcurrency caps in-flight requests of an open loop (0: no cap);
	// an arrival over the cap waits, and its clock starts when it is sent.
	MaxConcurrency int
}

// Label names the step in tables and progress: "c=4" or
// "rate=2/s poisson".
func (s Step) Label() string {
	if s.Concurrency > 0 {
		return fmt.Sprintf("c=%d", s.Concurrency)
	}
	l := fmt.Sprintf("rate=%g/s %s", s.Rate, s.Arrival)
	if s.Arrival == Trace {
		l = "trace"
	}
	if s.MaxConcurrency > 0 {
		l += fmt.Sprintf(" max=%d", s.MaxConcurrency)
	}
	return l
}

// Options configure Run.
type Options struct {
	// Steps are the load levels, run in order for each target.
	Steps []Step
	// Requests per step; with Duration both bound the step (whichever
	// comes first), and at least one of them must be set.
	Requests int
	// Duration per step: no request starts after it; requests in flight
	// finish (bounded by Timeout).
	Duration time.Duration
	// RampUp spreads the start of closed-loop workers evenly over this
	// time (worker w starts at w*RampUp/c) instead of starting all at
	// once; it bounds the thundering herd at the start of each step and
	// keeps the workers staggered afterwards.
	RampUp time.Duration
	// Warmup requests are sent one at a time before a target's first
	// step and left out of the results. When one fails the target is
	// not measured (Results.WarmupFailed, and its Untiered reason).
	Warmup int
	// Timeout bounds each request.
	Timeout time.Duration
	// MaxTokens bounds each answer (a prompt's own MaxTokens wins).
	MaxTokens int
	// PromptTokens is the length of synthetic prompts.
	PromptTokens int
	// Seed makes synthetic prompts and Poisson arrivals repeatable.
	Seed uint64
	// Prompts, when set, are used in turn instead of synthetic ones.
	Prompts []Prompt
	// PromptsFile names where Prompts came from, for the results.
	PromptsFile string
	// Workload, when set, is where requests come from instead of
	// synthetic prompts or Prompts: datasets, drawn lengths, shared
	// prefixes, multi-turn conversations (closed-loop steps only), and the
	// times of a trace for a Trace step (source.go).
	Workload workload.Source
	// Burstiness is the shape of Gamma arrivals (1: Poisson; below 1
	// burstier).
	Burstiness float64
	// Rules decide tiers (config.Tiers.Rules).
	Rules []config.TierRule
	// TierAt is the load a tier must hold at: tiers come from the step
	// run at that concurrency or rate instead of the single stream (the
	// zero value, concurrency 1). A target without that step gets no
	// tier, and the reason names the step. It is the default of each
	// rule's at: a rule with its own is judged on that step instead.
	TierAt tiers.At
	// Repeat runs the whole measurement (every target's warm-up and
	// steps) this many times, one after another, and pools each step's
	// requests over the repeats; 0 or 1 runs it once. The results give
	// each repeat's medians, and the confidence intervals hold the spread
	// between repeats (MedianCI).
	Repeat int
	// Resamples is the number of bootstrap draws for the confidence
	// intervals of the medians that decide a tier; 0 means 1000.
	Resamples int
	// Confidence is the intervals' level; 0 means 0.95.
	Confidence float64
	// SLO, when set, scores every step's requests against it
	// (RunResult.Goodput).
	SLO *SLO
	// FindMaxRate, when set (with an SLO), searches each target's highest
	// open-loop rate that keeps the SLO (Results.MaxRates) after its
	// steps, which may then be none.
	FindMaxRate *MaxRateSearch
	// Progress is told about each phase; nil for none.
	Progress Progress
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// Tokenizer counts output when a server reports no usage; nil builds
	// an offline BPE tokenizer (EncodingFor the model) when first needed.
	Tokenizer Tokenizer

	hooks *testHooks
}

func (o *Options) validate() error {
	if o.FindMaxRate != nil && o.SLO == nil {
		return errors.New("a search for the highest rate needs an SLO to keep (such as ttft=800ms,e2e=20s)")
	}
	if m := o.FindMaxRate; m != nil && (m.Goal < 0 || m.Goal > 1 || m.Start < 0 || m.Precision < 0 || m.Limit < 0) {
		return errors.New("the rate search's goal must be between 0 and 1, and its start, precision and limit not negative")
	}
	if len(o.Steps) == 0 && o.FindMaxRate == nil {
		return errors.New("no load steps: give a concurrency or a rate")
	}
	for _, s := range o.Steps {
		switch {
		case s.Concurrency > 0 && s.Rate > 0:
			return errors.New("a step has both a concurrency and a rate")
		case s.Concurrency < 0:
			return fmt.Errorf("concurrency %d: give a positive number", s.Concurrency)
		case s.Concurrency == 0 && s.Arrival != Trace && !(s.Rate > 0 && !math.IsInf(s.Rate, 0)):
			return fmt.Errorf("rate %g: give a positive number of requests per second", s.Rate)
		case s.Concurrency == 0 && s.Arrival != Constant && s.Arrival != Poisson && s.Arrival != Gamma && s.Arrival != Trace:
			return fmt.Errorf("arrival %q: use %s, %s, %s or %s", s.Arrival, Constant, Poisson, Gamma, Trace)
		case s.MaxConcurrency < 0:
			return errors.New("max concurrency is negative")
		}
	}
	if o.Requests <= 0 && o.Duration <= 0 {
		return errors.New("give a number of requests or a duration per step")
	}
	if o.Requests < 0 || o.Duration < 0 || o.Warmup < 0 {
		return errors.New("requests, duration and warm-up must not be negative")
	}
	if o.Repeat < 0 || o.Resamples < 0 {
		return errors.New("repeat and resamples must not be negative")
	}
	if o.Confidence < 0 || o.Confidence >= 1 {
		return fmt.Errorf("confidence %g: give a level between 0 and 1 (e.g. 0.95)", o.Confidence)
	}
	if o.RampUp < 0 {
		return errors.New("ramp-up must not be negative")
	}
	if err := o.TierAt.Validate(); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return errors.New("the request timeout must be positive")
	}
	if o.MaxTokens <= 0 {
		return errors.New("max tokens must be positive: answers must be bounded")
	}
	if len(o.Prompts) == 0 && o.Workload == nil && o.PromptTokens <= 0 {
		return errors.New("prompt tokens must be positive (or give a prompts file)")
	}
	return o.validateWorkload()
}

// Live holds a phase's running counts, updated atomically as requests
// end (chunks as they arrive); Progress implementations read it.
type Live struct {
	started  time.Time
	done     atomic.Int64
	failed   atomic.Int64
	inFlight atomic.Int64
	chunks   atomic.Int64
}

// Snapshot is a reading of Live.
type Snapshot struct {
	Elapsed   time.Duration
	Succeeded int64
	Failed    int64
	InFlight  int64
	// Chunks counts chunks so far, about one token each: every chunk while
	// a request streams, its content chunks once it has ended (exact token
	// counts come with the summary).
	Chunks int64
}

// Snapshot reads the counters.
func (l *Live) Snapshot() Snapshot {
	return Snapshot{Elapsed: time.Since(l.started), Succeeded: l.done.Load(), Failed: l.failed.Load(),
		InFlight: l.inFlight.Load(), Chunks: l.chunks.Load()}
}

// Phase describes what is running: a target's warm-up or one step.
type Phase struct {
	Model, Provider string
	Warmup          bool
	Step            Step
	// Total is the number of requests expected, 0 when only a duration
	// bounds the step.
	Total    int
	Duration time.Duration
	// N and Of count steps over the whole benchmark (1-based), repeats
	// included.
	N, Of int
	// Repeat and Repeats number the repeat (1-based) when there are
	// several.
	Repeat, Repeats int
}

// Progress is told when phases begin and end. Begin and End are called
// from Run's goroutine, in order.
type Progress interface {
	Begin(p Phase, live *Live)
	// End reports the phase's run (nil for a warm-up).
	End(p Phase, run *RunResult)
}

type engine struct {
	o      Options
	log    *slog.Logger
	tokens map[string]Tokenizer // built on first use, by encoding
}

// Run benchmarks each target through every step and returns the results
// and the tiers earned. When ctx is cancelled it stops sending, lets
// in-flight requests fail as "cancelled", and returns what it measured
// with Results.Interrupted set. Its error is for invalid options only.
func Run(ctx context.Context, targets []Target, o Options) (*Results, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("no models to benchmark")
	}
	e := &engine{o: o, log: o.Logger, tokens: map[string]Tokenizer{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	res := &Results{Tool: ToolName, SchemaVersion: SchemaVersion, StartedAt: time.Now().UTC(), Settings: settingsOf(&o)}
	for _, r := range o.Rules {
		res.TierRules = append(res.TierRules, tiers.RuleOf(r))
	}
	repeats := max(o.Repeat, 1)
	// segs[target][step] holds each repeat's records of that step.
	segs := make([][][]segment, len(targets))
	for ti := range segs {
		segs[ti] = make([][]segment, len(o.Steps))
	}
	// warmFailed[target] says why its warm-up failed: it is then not
	// measured, since its figures would be those of a broken backend.
	warmFailed := make([]string, len(targets))
	n, of := 0, repeats*len(targets)*len(o.Steps)
	for rep := 1; rep <= repeats && ctx.Err() == nil; rep++ {
		for ti := range targets {
			t := &targets[ti]
			if ctx.Err() != nil {
				break
			}
			if warmFailed[ti] != "" {
				continue
			}
			if o.Warmup > 0 {
				w := e.warmup(ctx, t)
				res.Warmups = append(res.Warmups, w)
				if w.Failed > 0 && ctx.Err() == nil {
					e0 := w.Errors[0]
					warmFailed[ti] = fmt.Sprintf("the warm-up failed (%s", e0.Kind)
					if e0.Status != 0 {
						warmFailed[ti] += fmt.Sprintf(", status %d", e0.Status)
					}
					warmFailed[ti] += "): " + e0.Message
					res.WarmupFailed = true
					continue
				}
			}
			for si, s := range o.Steps {
				if ctx.Err() != nil {
					break
				}
				n++
				ph := Phase{Model: t.Model, Provider: t.Provider, Step: s, Total: o.Requests, Duration: o.Duration, N: n, Of: of}
				if repeats > 1 {
					ph.Repeat, ph.Repeats = rep, repeats
				}
				live := &Live{started: time.Now()}
				if o.Progress != nil {
					o.Progress.Begin(ph, live)
				}
				seg := e.step(ctx, t, s, rep, live)
				segs[ti][si] = append(segs[ti][si], seg)
				if o.Progress != nil {
					o.Progress.End(ph, e.summarize(t, s, []segment{seg}))
				}
			}
		}
	}
	for ti := range targets {
		t := &targets[ti]
		var runs []*RunResult
		for si, s := range o.Steps {
			if len(segs[ti][si]) > 0 {
				runs = append(runs, e.summarize(t, s, segs[ti][si]))
			}
		}
		if warmFailed[ti] != "" && len(runs) == 0 {
			res.Untiered = append(res.Untiered, Untiered{Model: t.Model, Provider: t.Provider, Reason: "not measured: " + warmFailed[ti]})
			continue
		}
		if len(runs) == 0 && e.o.FindMaxRate == nil {
			res.Untiered = append(res.Untiered, Untiered{Model: t.Model, Provider: t.Provider, Reason: "not measured: the run was interrupted"})
			continue
		}
		if len(runs) > 0 {
			res.Runs = append(res.Runs, runs...)
			e.tier(res, t, runs)
		}
		if e.o.FindMaxRate != nil && warmFailed[ti] == "" && ctx.Err() == nil {
			// The search's steps are reported, not tiered: tiers come
			// from the steps asked for.
			res.MaxRates = append(res.MaxRates, e.findMaxRate(ctx, t, &res.Runs))
		}
	}
	for _, r := range res.Runs {
		if l := r.ClientLag; l != nil && l.ClientBound {
			e.log.Warn("the bench itself was the bottleneck of a step: its figures include the client's own delay",
				"model", r.Model, "step", r.Load(), "why", l.Why)
		}
	}
	res.Interrupted = ctx.Err() != nil
	res.FinishedAt = time.Now().UTC()
	return res, nil
}

// warmupBase numbers warm-up prompts apart from measured ones.
const warmupBase = 1 << 30

func (e *engine) prompt(i int) Prompt {
	if e.o.Workload != nil {
		return e.sourcePrompt(i)
	}
	if len(e.o.Prompts) > 0 {
		return e.o.Prompts[i%len(e.o.Prompts)]
	}
	return Synthetic(e.o.Seed, i, e.o.PromptTokens)
}

func (e *engine) warmup(ctx context.Context, t *Target) Warmup {
	ph := Phase{Model: t.Model, Provider: t.Provider, Warmup: true, Total: e.o.Warmup}
	live := &Live{started: time.Now()}
	if e.o.Progress != nil {
		e.o.Progress.Begin(ph, live)
	}
	w := Warmup{Model: t.Model, Provider: t.Provider, Requests: e.o.Warmup}
	var recs []Record
	for i := 0; i < e.o.Warmup && ctx.Err() == nil; i++ {
		r := e.do(ctx, t, e.prompt(warmupBase+i), warmupBase+i, time.Now(), live)
		recs = append(recs, r)
		if !r.OK {
			break // the first failure says it all
		}
	}
	w.Sent = len(recs)
	for _, r := range recs {
		if !r.OK {
			w.Failed++
		}
	}
	w.Errors = countErrors(recs)
	if e.o.Progress != nil {
		e.o.Progress.End(ph, nil)
	}
	return w
}

// segment is one repeat of one step.
type segment struct {
	repeat      int
	started     time.Time
	recs        []Record
	interrupted bool
	warm        int // connections warmed before it
}

// step runs one load level once, its connections opened first.
func (e *engine) step(ctx context.Context, t *Target, s Step, repeat int, live *Live) segment {
	warm := e.prewarm(ctx, t, e.warmCount(s))
	seg := segment{repeat: repeat, started: time.Now(), warm: warm}
	if s.Concurrency > 0 {
		seg.recs = e.closedLoop(ctx, t, s.Concurrency, live)
	} else {
		seg.recs = e.openLoop(ctx, t, s, live)
	}
	for i := range seg.recs {
		seg.recs[i].Repeat = repeat
	}
	seg.interrupted = ctx.Err() != nil
	return seg
}

// closedLoop keeps c requests in flight until Requests have been sent or
// Duration has passed.
func (e *engine) closedLoop(ctx context.Context, t *Target, c int, live *Live) []Record {
	if e.o.Requests > 0 && c > e.o.Requests {
		c = e.o.Requests // more workers than requests would idle
	}
	var deadline time.Time
	if e.o.Duration > 0 {
		deadline = time.Now().Add(e.o.Duration)
	}
	var next, convs atomic.Int64
	per := make([][]Record, c)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.o.RampUp > 0 && w > 0 {
				delay := time.Until(begin.Add(e.o.RampUp * time.Duration(w) / time.Duration(c)))
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			cur := e.cursor(&convs)
			for ctx.Err() == nil {
				due := time.Now()
				i := int(next.Add(1) - 1)
				if e.o.Requests > 0 && i >= e.o.Requests {
					return
				}
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				r := e.do(ctx, t, cur.next(i), i, due, live)
				cur.done(&r)
				per[w] = append(per[w], r)
			}
		}()
	}
	wg.Wait()
	var all []Record
	for _, r := range per {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Index < all[j].Index })
	return all
}

// openLoop sends requests at their arrival times, whatever is in flight.
func (e *engine) openLoop(ctx context.Context, t *Target, s Step, live *Live) []Record {
	sched := newSchedule(e.o.Seed, s)
	if s.Arrival == Gamma {
		sched.gamma = workload.NewGamma(e.o.Seed, s.Rate, e.o.Burstiness)
	}
	var sem chan struct{}
	if s.MaxConcurrency > 0 {
		sem = make(chan struct{}, s.MaxConcurrency)
	}
	var recs []*Record
	var wg sync.WaitGroup
	start := time.Now()
	var at time.Duration // arrival offset from start
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
loop:
	for i := 0; e.o.Requests <= 0 || i < e.o.Requests; i++ {
		var more bool
		if at, more = e.arrival(s, sched, i, at); !more {
			break
		}
		if e.o.Duration > 0 && at >= e.o.Duration {
			break
		}
		if wait := time.Until(start.Add(at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				break loop
			case <-timer.C:
			}
		}
		due := start.Add(at)
		if sem != nil {
			select {
			case <-ctx.Done():
				break loop
			case sem <- struct{}{}:
			default:
				// Over the cap: the request is due when a slot frees.
				select {
				case <-ctx.Done():
					break loop
				case sem <- struct{}{}:
					due = time.Now()
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		r := &Record{Index: i}
		recs = append(recs, r)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			*r = e.do(ctx, t, e.prompt(i), i, due, live)
			if sem != nil {
				<-sem
			}
		}(i)
	}
	wg.Wait()
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// schedule draws the gaps between open-loop arrivals.
type schedule struct {
	rng     *rand.Rand
	rate    float64
	poisson bool
	gamma   *workload.Gamma // for Gamma arrivals
}

// newSchedule seeds the arrival process with seed and the step's rate, so
// a step's arrivals repeat from run to run.
func newSchedule(seed uint64, s Step) *schedule {
	return &schedule{rng: rand.New(rand.NewPCG(seed, math.Float64bits(s.Rate))), rate: s.Rate, poisson: s.Arrival == Poisson}
}

// next returns the gap before the next arrival: 1/rate, or an
// exponential draw with mean 1/rate for Poisson arrivals.
func (s *schedule) next() time.Duration {
	if s.gamma != nil {
		return s.gamma.Next()
	}
	gap := 1 / s.rate
	if s.poisson {
		gap = s.rng.ExpFloat64() / s.rate
	}
	return time.Duration(gap * float64(time.Second))
}

// tierStep is the step a tier must hold at (a rule's at, else
// Options.TierAt), with its name in reasons: "single-stream" or "c=8".
func tierStep(a tiers.At) (match func(*RunResult) bool, name string) {
	switch {
	case a.Rate > 0:
		return func(r *RunResult) bool { return r.Concurrency == 0 && r.Rate == a.Rate }, a.String()
	case a.Single():
		return func(r *RunResult) bool { return r.Concurrency == 1 }, "single-stream"
	}
	return func(r *RunResult) bool { return r.Concurrency == a.Concurrency }, a.String()
}

// measured is t's figures at load a from runs: the step's medians and
// intervals, or why there are none (the step was not run, was
// interrupted, had no successful request).
func (e *engine) measured(a tiers.At, runs []*RunResult) (tiers.Measured, *RunResult) {
	match, name := tierStep(a)
	var step *RunResult
	for _, r := range runs {
		if match(r) {
			step = r
			break
		}
	}
	missing := func(why string) (tiers.Measured, *RunResult) { return tiers.Measured{Missing: why}, nil }
	ran := false
	for _, s := range e.o.Steps {
		if match(&RunResult{Concurrency: s.Concurrency, Rate: s.Rate}) {
			ran = true
		}
	}
	switch {
	case step == nil && ran:
		return missing("interrupted before its " + name + " step")
	case step == nil && a.Single():
		return missing("no single-stream step: tiers come from concurrency 1 (add 1 to -concurrency)")
	case step == nil:
		var labels []string
		for _, s := range e.o.Steps {
			labels = append(labels, s.Label())
		}
		how := "-concurrency"
		if a.Rate > 0 {
			how = "-rate"
		}
		return missing(fmt.Sprintf("no %s step: the tier must hold at %s, and that step was not run (steps: %s); add it to %s",
			name, name, strings.Join(labels, ", "), how))
	case step.Interrupted:
		return missing("its " + name + " step was interrupted")
	case step.TTFT == nil:
		return missing(fmt.Sprintf("no successful %s request (%d failed)", name, step.Requests.Failed))
	case step.OutputTokensPerS == nil:
		return missing("no " + name + " answer had two tokens or more, so tokens/s is unknown: raise -max-tokens")
	}
	d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	est := tiers.Estimate{TTFT: d(step.TTFT.P50), TokPerSec: step.OutputTokensPerS.P50, Confidence: e.confidence(),
		TTFTLo: d(step.TTFTP50CI.Lo), TTFTHi: d(step.TTFTP50CI.Hi),
		TokPerSecLo: step.OutputTokensPerSP50CI.Lo, TokPerSecHi: step.OutputTokensPerSP50CI.Hi}
	return tiers.Measured{Est: est, Requests: step.Requests.Succeeded, MeasuredAt: step.FinishedAt}, step
}

// tier assigns t's tier: each rule is judged on the step at its own
// load (its at, else Options.TierAt, the single-stream step by default);
// a rule whose step is missing is not met, and the next rule is tried.
func (e *engine) tier(res *Results, t *Target, runs []*RunResult) {
	def := e.o.TierAt
	at := func(a tiers.At) tiers.Measured { m, _ := e.measured(a, runs); return m }
	skip := func(why string) {
		res.Untiered = append(res.Untiered, Untiered{Model: t.Model, Provider: t.Provider, Reason: why})
	}
	own := tiers.OwnLoads(e.o.Rules)
	if !own {
		if m := at(def); m.Missing != "" {
			skip(m.Missing)
			return
		}
	}
	entry := tiers.NewJudgedEntryAt(t.Model, t.Provider, t.Upstream, e.o.Rules, def, at)
	var where tiers.At // the load whose figures the entry records
	if entry.At != nil {
		where = *entry.At
	}
	_, step := e.measured(where, runs)
	if step == nil {
		skip("no step a rule must hold at was measured: " + entry.Reason)
		return
	}
	if !own && !def.Single() {
		entry.Reason = "measured at " + step.Load() + ": " + entry.Reason
	}
	if l := step.ClientLag; l != nil && l.ClientBound {
		entry.Reason += "; the bench itself was the bottleneck of that step (" + l.Why + "), so the backend may be faster than measured"
	}
	res.Tiers = append(res.Tiers, entry)
}

// Resolution is the bench's timing resolution, relative: a confidence
// interval is at least this far either side of its median (and a TTFT
// interval at least TTFTResolution). A bootstrap over a run's requests
// sees only the spread within the run; against a steady backend that is
// near zero, while the shift from run to run (timers on both sides, the
// scheduler, loopback: a few milliseconds on a 2 s TTFT on a loaded
// 2-core machine) goes unseen. The floor makes a median this close to a
// threshold undecided rather than a coin toss.
const Resolution = 0.005

// TTFTResolution is the least half-width of a TTFT interval.
const TTFTResolution = time.Millisecond

func (e *engine) confidence() float64 {
	if e.o.Confidence > 0 {
		return e.o.Confidence
	}
	return 0.95
}

// medianCI is MedianCI with the options' draws, level and seed, widened
// to the resolution floor (abs, in the values' unit, and Resolution).
func (e *engine) medianCI(groups [][]float64, p50, abs float64) *tiers.Interval {
	n := e.o.Resamples
	if n == 0 {
		n = 1000
	}
	lo, hi := MedianCI(groups, n, e.confidence(), e.o.Seed)
	if math.IsNaN(lo) {
		return nil
	}
	floor := math.Max(abs, Resolution*math.Abs(p50))
	return &tiers.Interval{Lo: round(math.Max(0, math.Min(lo, p50-floor))), Hi: round(math.Max(hi, p50+floor))}
}

// tokenizer returns the tokenizer for model, building it on first use.
func (e *engine) tokenizer(model string) (Tokenizer, error) {
	if e.o.Tokenizer != nil {
		return e.o.Tokenizer, nil
	}
	enc := EncodingFor(model)
	if tk, ok := e.tokens[enc]; ok {
		return tk, nil
	}
	tk, err := NewTokenizer(enc)
	if err != nil {
		return nil, err
	}
	e.tokens[enc] = tk
	return tk, nil
}
