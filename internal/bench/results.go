package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/tiers"
)

// ToolName is written in results.json and the tiers file.
const ToolName = "tiergate bench"

// SchemaVersion is results.json's format version.
const SchemaVersion = 1

// Results is everything a benchmark measured: results.json.
type Results struct {
	Tool          string    `json:"tool"`
	SchemaVersion int       `json:"schema_version"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool     `json:"interrupted,omitempty"`
	Settings    Settings `json:"settings"`
	// Runs holds one entry per model and load step.
	Runs    []*RunResult `json:"runs"`
	Warmups []Warmup     `json:"warmups,omitempty"`
	// WarmupFailed is set when a target's warm-up failed: that target
	// was not measured (see Untiered).
	WarmupFailed bool `json:"warmup_failed,omitempty"`
	// Tiers are the tiers earned, with the figures and rules that
	// decided them; Untiered the models that got none, and why.
	Tiers     []tiers.Entry `json:"tiers"`
	Untiered  []Untiered    `json:"untiered,omitempty"`
	TierRules []tiers.Rule  `json:"tier_rules"`
	// MaxRates are the answers of Options.FindMaxRate, a target each.
	MaxRates []MaxRate `json:"max_rates,omitempty"`
	// Meta describes the run: the bench's version, its flags, the host
	// (cmd/bench fills it in).
	Meta *Meta `json:"meta,omitempty"`
}

// Meta describes where and how a run was made.
type Meta struct {
	Version   string   `json:"version"`
	GoVersion string   `json:"go_version"`
	Args      []string `json:"args"`
	Host      string   `json:"host"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
	CPUs      int      `json:"cpus"`
}

// Settings echo the options a run used.
type Settings struct {
	Concurrency    []int     `json:"concurrency,omitempty"`
	Rates          []float64 `json:"rates,omitempty"`
	Arrival        Arrival   `json:"arrival,omitempty"`
	MaxConcurrency int       `json:"max_concurrency,omitempty"`
	Requests       int       `json:"requests,omitempty"`
	DurationS      float64   `json:"duration_s,omitempty"`
	RampUpS        float64   `json:"ramp_up_s,omitempty"`
	Warmup         int       `json:"warmup"`
	TimeoutS       float64   `json:"timeout_s"`
	PromptTokens   int       `json:"prompt_tokens,omitempty"`
	MaxTokens      int       `json:"max_tokens"`
	Seed           uint64    `json:"seed"`
	PromptsFile    string    `json:"prompts_file,omitempty"`
	Prompts        int       `json:"prompts,omitempty"`
	// Repeat is how many times the whole measurement ran (omitted: once).
	Repeat int `json:"repeat,omitempty"`
	// Resamples and Confidence set the bootstrap intervals.
	Resamples  int     `json:"resamples"`
	Confidence float64 `json:"confidence"`
	// SLO is the bound goodput is scored against ("" without one).
	SLO string `json:"slo,omitempty"`
	// Burstiness is the shape of gamma arrivals.
	Burstiness float64 `json:"burstiness,omitempty"`
	// Workload says where the requests came from and what shaped them.
	Workload *workload.Spec `json:"workload,omitempty"`
	// TierAt is the step tiers come from when not the single stream
	// ("c=8", "rate=2/s").
	TierAt string `json:"tier_at,omitempty"`
}

func settingsOf(o *Options) Settings {
	s := Settings{Requests: o.Requests, DurationS: o.Duration.Seconds(), RampUpS: o.RampUp.Seconds(), Warmup: o.Warmup, TimeoutS: o.Timeout.Seconds(),
		MaxTokens: o.MaxTokens, Seed: o.Seed, PromptsFile: o.PromptsFile, Prompts: len(o.Prompts),
		Resamples: o.Resamples, Confidence: o.Confidence, Burstiness: o.Burstiness, Workload: workloadSpec(o)}
	if o.Repeat > 1 {
		s.Repeat = o.Repeat
	}
	if o.SLO != nil {
		s.SLO = o.SLO.String()
	}
	if !o.TierAt.Single() {
		s.TierAt = o.TierAt.String()
	}
	if s.Resamples == 0 {
		s.Resamples = 1000
	}
	if s.Confidence == 0 {
		s.Confidence = 0.95
	}
	if len(o.Prompts) == 0 && o.Workload == nil {
		s.PromptTokens = o.PromptTokens
	}
	for _, st := range o.Steps {
		if st.Concurrency > 0 {
			s.Concurrency = append(s.Concurrency, st.Concurrency)
		} else {
			if st.Arrival != Trace { // a trace's step has no rate
				s.Rates = append(s.Rates, st.Rate)
			}
			s.Arrival, s.MaxConcurrency = st.Arrival, st.MaxConcurrency
		}
	}
	return s
}

// Counts counts a step's requests.
type Counts struct {
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// Throughput is what a step delivered per second of wall time (from its
// start to its last request's end), successful requests only.
type Throughput struct {
	RequestsPerS     float64 `json:"requests_per_s"`
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
}

// ErrorCount is one kind of failure.
type ErrorCount struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// Status is the HTTP status, when there was one.
	Status int `json:"status,omitempty"`
	// Message is the first such failure's message.
	Message string `json:"message"`
}

// RunResult is one model at one load step.
type RunResult struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Upstream string `json:"upstream"`
	// Mode is "concurrency" (closed loop) or "rate" (open loop).
	Mode           string    `json:"mode"`
	Concurrency    int       `json:"concurrency,omitempty"`
	Rate           float64   `json:"rate,omitempty"`
	Arrival        Arrival   `json:"arrival,omitempty"`
	MaxConcurrency int       `json:"max_concurrency,omitempty"`
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at"`
	DurationS      float64   `json:"duration_s"`
	Interrupted    bool      `json:"interrupted,omitempty"`
	Requests       Counts    `json:"requests"`
	// Latencies in milliseconds, over successful requests.
	TTFT *Stats `json:"ttft_ms"`
	// TTFTNonReasoning is the time to the first non-reasoning token, for
	// requests whose answer began with reasoning.
	TTFTNonReasoning *Stats `json:"ttft_non_reasoning_ms,omitempty"`
	ITL              *Stats `json:"itl_ms"`
	TPOT             *Stats `json:"tpot_ms"`
	E2E              *Stats `json:"e2e_ms"`
	// OutputTokensPerS is per request: (tokens - 1) / (E2E - TTFT).
	OutputTokensPerS *Stats     `json:"output_tokens_per_s"`
	OutputTokens     *Stats     `json:"output_tokens"`
	PromptTokens     *Stats     `json:"prompt_tokens,omitempty"`
	Throughput       Throughput `json:"throughput"`
	// TokenCountMethod is "usage", "tokenizer" or "chunks" when every
	// successful request used it, "mixed" otherwise (see
	// TokenCountMethods), "" with no success.
	TokenCountMethod  string         `json:"token_count_method"`
	TokenCountMethods map[string]int `json:"token_count_methods,omitempty"`
	// Tokenizer names the vocabulary used by the "tokenizer" method.
	Tokenizer string `json:"tokenizer,omitempty"`
	// Upstream holds the server's own timings in milliseconds (Ollama's
	// load_duration, prompt_eval_duration, eval_duration, total_duration).
	UpstreamMs map[string]*Stats `json:"upstream_ms,omitempty"`
	// UpstreamOutputTokensPerS is the server's own decode rate per
	// request (Ollama: eval_count / eval_duration).
	UpstreamOutputTokensPerS *Stats       `json:"upstream_output_tokens_per_s,omitempty"`
	Errors                   []ErrorCount `json:"errors"`
	// TTFTP50CI and OutputTokensPerSP50CI are bootstrap confidence
	// intervals of the TTFT and per-request tokens/s medians (at
	// Settings.Confidence, over the repeats, at least the bench's
	// Resolution wide).
	TTFTP50CI             *tiers.Interval `json:"ttft_p50_ci_ms,omitempty"`
	OutputTokensPerSP50CI *tiers.Interval `json:"output_tokens_per_s_p50_ci,omitempty"`
	// Repeats gives each repeat's own figures when the step ran more
	// than once; Spread their range.
	Repeats []RepeatStats `json:"repeats,omitempty"`
	Spread  *Spread       `json:"repeat_spread,omitempty"`
	// Series is the step second by second (each repeat in turn):
	// requests completed and failed, tokens/s and TTFT.
	Series []Second `json:"series,omitempty"`
	// Goodput is the step against Options.SLO, nil without one.
	Goodput *Goodput `json:"goodput,omitempty"`
	// ClientLag is the bench's own lag in the step, and whether the
	// bench rather than the backend was the bottleneck.
	ClientLag *ClientLag `json:"client_lag,omitempty"`

	// Records are the step's requests, for per-request outputs.
	Records []Record `json:"-"`
}

// Load describes the step's load level in words ("c=4").
func (r *RunResult) Load() string { return r.Step().Label() }

// Step returns the step the run measured.
func (r *RunResult) Step() Step {
	return Step{Concurrency: r.Concurrency, Rate: r.Rate, Arrival: r.Arrival, MaxConcurrency: r.MaxConcurrency}
}

// RepeatStats are one repeat's figures of a step.
type RepeatStats struct {
	Repeat           int     `json:"repeat"`
	Succeeded        int     `json:"succeeded"`
	Failed           int     `json:"failed"`
	TTFTP50Ms        float64 `json:"ttft_p50_ms,omitempty"`
	OutputTokensPerS float64 `json:"output_tokens_per_s_p50,omitempty"`
}

// Spread is the range of the repeats' medians.
type Spread struct {
	TTFTP50Ms        Range `json:"ttft_p50_ms"`
	OutputTokensPerS Range `json:"output_tokens_per_s_p50"`
}

// Range is a minimum and a maximum.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Warmup reports a target's warm-up requests.
type Warmup struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Requests is how many were asked for; Sent how many went (the
	// warm-up stops at its first failure).
	Requests int          `json:"requests"`
	Sent     int          `json:"sent"`
	Failed   int          `json:"failed"`
	Errors   []ErrorCount `json:"errors,omitempty"`
}

// Untiered is a model that earned no tier, and why.
type Untiered struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
}

// TiersFile returns the tiers file for these results.
func (r *Results) TiersFile() *tiers.File {
	return &tiers.File{Version: tiers.Version, GeneratedAt: r.FinishedAt, Generator: ToolName, Tiers: append([]tiers.Entry{}, r.Tiers...)}
}

// summarize turns a step's segments (one per repeat) into its
// RunResult, pooling their requests.
func (e *engine) summarize(t *Target, s Step, segs []segment) *RunResult {
	started := segs[0].started
	run := &RunResult{Model: t.Model, Provider: t.Provider, Upstream: t.Upstream, StartedAt: started.UTC()}
	if s.Concurrency > 0 {
		run.Mode, run.Concurrency = "concurrency", s.Concurrency
	} else {
		run.Mode, run.Rate, run.Arrival, run.MaxConcurrency = "rate", s.Rate, s.Arrival, s.MaxConcurrency
	}
	var wall time.Duration
	last := started
	ttftBy, tokpsBy := make([][]float64, len(segs)), make([][]float64, len(segs))
	for i, sg := range segs {
		run.Interrupted = run.Interrupted || sg.interrupted
		end := sg.started
		for j := range sg.recs {
			if sg.recs[j].End.After(end) {
				end = sg.recs[j].End
			}
			e.countTokens(t, &sg.recs[j], run)
			if r := &sg.recs[j]; r.OK {
				ttftBy[i] = append(ttftBy[i], msOf(r.TTFT))
				if v, ok := r.TokensPerSecond(); ok {
					tokpsBy[i] = append(tokpsBy[i], v)
				}
			}
		}
		wall += end.Sub(sg.started)
		if end.After(last) {
			last = end
		}
	}
	// Tokens are counted (in place) before the records are pooled.
	recs := segs[0].recs
	if len(segs) > 1 {
		recs = nil
		for _, sg := range segs {
			recs = append(recs, sg.recs...)
		}
	}
	run.Records = recs
	run.Errors = countErrors(recs)
	var ttft, ttfnrt, itl, tpot, e2e, tokps, outTok, promptTok, upTokps []float64
	up := map[string][]float64{}
	methods := map[string]int{}
	totalTokens := 0
	for i := range recs {
		r := &recs[i]
		run.Requests.Total++
		if !r.OK {
			run.Requests.Failed++
			continue
		}
		run.Requests.Succeeded++
		methods[r.TokenMethod]++
		totalTokens += r.OutputTokens
		ttft = append(ttft, msOf(r.TTFT))
		if r.TTFNRT > 0 {
			ttfnrt = append(ttfnrt, msOf(r.TTFNRT))
		}
		for _, g := range r.ITL {
			itl = append(itl, msOf(g))
		}
		if d, ok := r.TPOT(); ok {
			tpot = append(tpot, msOf(d))
		}
		if v, ok := r.TokensPerSecond(); ok {
			tokps = append(tokps, v)
		}
		if v, ok := r.UpstreamTokensPerSecond(); ok {
			upTokps = append(upTokps, v)
		}
		e2e = append(e2e, msOf(r.E2E))
		outTok = append(outTok, float64(r.OutputTokens))
		if r.PromptTokens > 0 {
			promptTok = append(promptTok, float64(r.PromptTokens))
		}
		for k, d := range r.Upstream {
			up[k] = append(up[k], msOf(d))
		}
	}
	e.repeatStats(run, segs, ttftBy, tokpsBy)
	for _, sg := range segs {
		run.Series = append(run.Series, series(sg, len(segs) > 1)...)
	}
	run.FinishedAt = last.UTC()
	run.DurationS = round(wall.Seconds())
	if e.o.SLO != nil {
		run.Goodput = e.o.SLO.goodput(recs, wall)
	}
	if wall > 0 {
		run.Throughput = Throughput{RequestsPerS: round(float64(run.Requests.Succeeded) / wall.Seconds()),
			OutputTokensPerS: round(float64(totalTokens) / wall.Seconds())}
	}
	run.TTFT, run.TTFTNonReasoning, run.ITL, run.TPOT, run.E2E = Summarize(ttft), Summarize(ttfnrt), Summarize(itl), Summarize(tpot), Summarize(e2e)
	run.OutputTokensPerS, run.OutputTokens, run.PromptTokens = Summarize(tokps), Summarize(outTok), Summarize(promptTok)
	run.UpstreamOutputTokensPerS = Summarize(upTokps)
	if run.TTFT != nil {
		run.TTFTP50CI = e.medianCI(ttftBy, run.TTFT.P50, msOf(TTFTResolution))
	}
	warm := 0
	for _, sg := range segs {
		warm = max(warm, sg.warm)
	}
	var itlP50, ttftP50 float64
	if run.ITL != nil {
		itlP50 = run.ITL.P50
	}
	if run.TTFT != nil {
		ttftP50 = run.TTFT.P50
	}
	run.ClientLag = clientLag(recs, warm, s, itlP50, ttftP50)
	if run.OutputTokensPerS != nil {
		run.OutputTokensPerSP50CI = e.medianCI(tokpsBy, run.OutputTokensPerS.P50, 0)
	}
	if len(up) > 0 {
		run.UpstreamMs = map[string]*Stats{}
		for k, v := range up {
			run.UpstreamMs[k] = Summarize(v)
		}
	}
	switch len(methods) {
	case 0:
	case 1:
		for m := range methods {
			run.TokenCountMethod = m
		}
	default:
		run.TokenCountMethod = "mixed"
	}
	if len(methods) > 0 {
		run.TokenCountMethods = methods
	}
	return run
}

// repeatStats fills each repeat's medians and their spread, for a step
// that ran more than once.
func (e *engine) repeatStats(run *RunResult, segs []segment, ttftBy, tokpsBy [][]float64) {
	if len(segs) < 2 {
		return
	}
	sp := &Spread{TTFTP50Ms: Range{math.Inf(1), math.Inf(-1)}, OutputTokensPerS: Range{math.Inf(1), math.Inf(-1)}}
	widen := func(r *Range, v float64) {
		r.Min, r.Max = math.Min(r.Min, v), math.Max(r.Max, v)
	}
	for i, sg := range segs {
		rs := RepeatStats{Repeat: sg.repeat}
		for j := range sg.recs {
			if sg.recs[j].OK {
				rs.Succeeded++
			} else {
				rs.Failed++
			}
		}
		if st := Summarize(ttftBy[i]); st != nil {
			rs.TTFTP50Ms = st.P50
			widen(&sp.TTFTP50Ms, st.P50)
		}
		if st := Summarize(tokpsBy[i]); st != nil {
			rs.OutputTokensPerS = st.P50
			widen(&sp.OutputTokensPerS, st.P50)
		}
		run.Repeats = append(run.Repeats, rs)
	}
	for _, r := range []*Range{&sp.TTFTP50Ms, &sp.OutputTokensPerS} {
		if math.IsInf(r.Min, 0) {
			*r = Range{}
		}
	}
	run.Spread = sp
}

// countTokens fills r.OutputTokens when the server gave no usage: with
// the tokenizer over the generated text, else one per content chunk. A
// record already counted is left alone.
func (e *engine) countTokens(t *Target, r *Record, run *RunResult) {
	defer func() { r.text = nil }()
	switch r.TokenMethod {
	case MethodUsage, MethodChunks:
		return
	case MethodTokenizer:
		run.Tokenizer = r.tokenizer
		return
	}
	if !r.OK {
		return
	}
	if len(r.text) > 0 {
		tk, err := e.tokenizer(t.Upstream)
		if err == nil {
			if n := tk.Count(string(r.text)); n > 0 {
				r.OutputTokens, r.TokenMethod, r.tokenizer = n, MethodTokenizer, tk.Name()
				run.Tokenizer = tk.Name()
				return
			}
		} else {
			e.log.Warn("no tokenizer: counting one token per chunk", "err", err)
		}
	}
	r.OutputTokens, r.TokenMethod = r.Chunks, MethodChunks
}

// countErrors groups failures by kind (and status), most frequent first.
func countErrors(recs []Record) []ErrorCount {
	idx := map[string]int{}
	out := []ErrorCount{}
	for i := range recs {
		f := recs[i].Err
		if recs[i].OK || f == nil {
			continue
		}
		k := fmt.Sprintf("%s/%d", f.Kind, f.Status)
		if j, ok := idx[k]; ok {
			out[j].Count++
			continue
		}
		idx[k] = len(out)
		out = append(out, ErrorCount{Kind: f.Kind, Status: f.Status, Count: 1, Message: f.Message})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return strings.Compare(out[i].Kind, out[j].Kind) < 0
	})
	return out
}
