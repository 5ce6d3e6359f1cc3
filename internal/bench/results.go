package bench

import (
	"fmt"
	"sort"
	"strings"
	"time"

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
	// Tiers are the tiers earned, with the figures and rules that
	// decided them; Untiered the models that got none, and why.
	Tiers     []tiers.Entry `json:"tiers"`
	Untiered  []Untiered    `json:"untiered,omitempty"`
	TierRules []tiers.Rule  `json:"tier_rules"`
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
}

func settingsOf(o *Options) Settings {
	s := Settings{Requests: o.Requests, DurationS: o.Duration.Seconds(), RampUpS: o.RampUp.Seconds(), Warmup: o.Warmup, TimeoutS: o.Timeout.Seconds(),
		MaxTokens: o.MaxTokens, Seed: o.Seed, PromptsFile: o.PromptsFile, Prompts: len(o.Prompts)}
	if len(o.Prompts) == 0 {
		s.PromptTokens = o.PromptTokens
	}
	for _, st := range o.Steps {
		if st.Concurrency > 0 {
			s.Concurrency = append(s.Concurrency, st.Concurrency)
		} else {
			s.Rates = append(s.Rates, st.Rate)
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

	// Records are the step's requests, for per-request outputs.
	Records []Record `json:"-"`
}

// Load describes the step's load level in words ("c=4").
func (r *RunResult) Load() string { return r.Step().Label() }

// Step returns the step the run measured.
func (r *RunResult) Step() Step {
	return Step{Concurrency: r.Concurrency, Rate: r.Rate, Arrival: r.Arrival, MaxConcurrency: r.MaxConcurrency}
}

// Warmup reports a target's warm-up requests.
type Warmup struct {
	Model    string       `json:"model"`
	Provider string       `json:"provider"`
	Requests int          `json:"requests"`
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

// summarize turns a step's records into its RunResult.
func (e *engine) summarize(t *Target, s Step, started time.Time, recs []Record, interrupted bool) *RunResult {
	run := &RunResult{Model: t.Model, Provider: t.Provider, Upstream: t.Upstream, StartedAt: started.UTC(),
		Interrupted: interrupted, Records: recs, Errors: countErrors(recs)}
	if s.Concurrency > 0 {
		run.Mode, run.Concurrency = "concurrency", s.Concurrency
	} else {
		run.Mode, run.Rate, run.Arrival, run.MaxConcurrency = "rate", s.Rate, s.Arrival, s.MaxConcurrency
	}
	last := started
	var ttft, ttfnrt, itl, tpot, e2e, tokps, outTok, promptTok, upTokps []float64
	up := map[string][]float64{}
	methods := map[string]int{}
	totalTokens := 0
	for i := range recs {
		r := &recs[i]
		run.Requests.Total++
		if r.End.After(last) {
			last = r.End
		}
		if !r.OK {
			run.Requests.Failed++
			continue
		}
		run.Requests.Succeeded++
		e.countTokens(t, r, run)
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
	run.FinishedAt = last.UTC()
	wall := last.Sub(started)
	run.DurationS = round(wall.Seconds())
	if wall > 0 {
		run.Throughput = Throughput{RequestsPerS: round(float64(run.Requests.Succeeded) / wall.Seconds()),
			OutputTokensPerS: round(float64(totalTokens) / wall.Seconds())}
	}
	run.TTFT, run.TTFTNonReasoning, run.ITL, run.TPOT, run.E2E = Summarize(ttft), Summarize(ttfnrt), Summarize(itl), Summarize(tpot), Summarize(e2e)
	run.OutputTokensPerS, run.OutputTokens, run.PromptTokens = Summarize(tokps), Summarize(outTok), Summarize(promptTok)
	run.UpstreamOutputTokensPerS = Summarize(upTokps)
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

// countTokens fills r.OutputTokens when the server gave no usage: with
// the tokenizer over the generated text, else one per content chunk.
func (e *engine) countTokens(t *Target, r *Record, run *RunResult) {
	defer func() { r.text = nil }()
	if r.TokenMethod == MethodUsage {
		return
	}
	if len(r.text) > 0 {
		tk, err := e.tokenizer(t.Upstream)
		if err == nil {
			if n := tk.Count(string(r.text)); n > 0 {
				r.OutputTokens, r.TokenMethod = n, MethodTokenizer
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
