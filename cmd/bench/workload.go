package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/config"
)

// workloadFlags are the flags that choose what bench sends.
type workloadFlags struct {
	dataset, datasetFormat string
	datasetLimit           int
	inputLen, outputLen    string
	sharedPrefix           string
	turns                  int
	ignoreEOS              bool
	burstiness             float64
	trace                  string
	traceSpeed             float64
}

func addWorkloadFlags(fs *flag.FlagSet) *workloadFlags {
	w := &workloadFlags{}
	fs.StringVar(&w.dataset, "dataset", "", "send the conversations of a dataset `file`: ShareGPT JSON ({\"conversations\": [{\"from\": \"human\", \"value\": ...}]}) or OpenAI chat JSONL ({\"messages\": [...]}); each request is an entry's first user turn (with -turns, its first K), used in turn")
	fs.StringVar(&w.datasetFormat, "dataset-format", "", "the dataset's `format`: sharegpt or jsonl (default: told from its first entry)")
	fs.IntVar(&w.datasetLimit, "dataset-limit", 10000, "read at most `N` conversations from the start of the dataset (0: all); the rest of the file is not read")
	fs.StringVar(&w.inputLen, "input-len", "", "synthetic prompt lengths in tokens, a `distribution`: "+workload.DistSyntax+" (default: -prompt-tokens)")
	fs.StringVar(&w.outputLen, "output-len", "", "each request's max_tokens, a `distribution` as for -input-len, or \"dataset\" for the length of the dataset's own answer to each turn, in cl100k tokens (default: -max-tokens)")
	fs.StringVar(&w.sharedPrefix, "shared-prefix", "", "`N:LEN`: open each conversation's first user message with one of N prefixes LEN tokens long, shared across requests (conversation i gets prefix i mod N), for prefix caching")
	fs.IntVar(&w.turns, "turns", 1, "turns per conversation: `K` requests sent in order, each with the history, the model's own answers included (closed-loop steps only)")
	fs.BoolVar(&w.ignoreEOS, "ignore-eos", false, "ask for answers of exactly max_tokens: sends min_tokens = max_tokens and ignore_eos: true, which vLLM and SGLang honour (OpenAI-compatible providers and -target only; Ollama has no such option, its max_tokens is a bound)")
	fs.Float64Var(&w.burstiness, "burstiness", 0, "gamma arrivals for -rate with this shape `g`: 1 is Poisson, below 1 burstier (gaps' CV = 1/sqrt(g)), above 1 more even; seeded by -seed")
	fs.StringVar(&w.trace, "trace", "", "replay a JSONL `file` of requests at their recorded times, one per line: "+workload.TraceSyntax+"; a \"trace\" step replaces the concurrency sweep unless -concurrency is given")
	fs.Float64Var(&w.traceSpeed, "trace-speed", 1, "replay the trace this many `times` as fast (2: gaps halved)")
	return w
}

// any says whether a source must be built.
func (w *workloadFlags) any() bool {
	return w.dataset != "" || w.trace != "" || w.inputLen != "" || w.outputLen != "" || w.sharedPrefix != "" || w.turns != 1 || w.ignoreEOS
}

func openFile(name string) (io.ReadCloser, error) { return os.Open(name) }

// applyWorkload validates the workload flags and sets o's Workload,
// Burstiness and steps; it runs before any request is sent.
func applyWorkload(w *workloadFlags, o *bench.Options, set map[string]bool, promptsFile string) error {
	switch {
	case w.dataset != "" && w.trace != "":
		return errors.New("-dataset and -trace: give one")
	case promptsFile != "" && (w.dataset != "" || w.trace != ""):
		return errors.New("-prompts and -dataset or -trace: give one")
	case promptsFile != "" && w.any():
		return errors.New("-prompts sends its file's requests as they are: -input-len, -output-len, -shared-prefix, -turns and -ignore-eos need a dataset, a trace or synthetic prompts")
	case set["dataset-format"] && w.dataset == "":
		return errors.New("-dataset-format needs -dataset")
	case w.datasetLimit < 0:
		return errors.New("-dataset-limit must not be negative")
	case set["trace-speed"] && w.trace == "":
		return errors.New("-trace-speed needs -trace")
	case !(w.traceSpeed > 0) || w.traceSpeed > 1e6:
		return errors.New("-trace-speed: give a positive factor (2 replays twice as fast)")
	case w.turns < 1 || w.turns > 1000:
		return errors.New("-turns: give 1 to 1000 turns per conversation")
	case w.inputLen != "" && set["prompt-tokens"]:
		return errors.New("-input-len and -prompt-tokens: give one")
	case set["burstiness"] && !(w.burstiness > 0 && w.burstiness <= 1e3):
		return errors.New("-burstiness: give a positive shape (1 is Poisson; 0.5 burstier)")
	}
	if set["burstiness"] {
		if set["arrival"] && o.FindMaxRate == nil && !hasArrival(o.Steps, bench.Gamma) {
			return errors.New("-burstiness sets gamma arrivals: leave out -arrival (or give -arrival gamma)")
		}
		n := 0
		for i := range o.Steps {
			if o.Steps[i].Rate > 0 {
				o.Steps[i].Arrival = bench.Gamma
				n++
			}
		}
		if o.FindMaxRate != nil {
			o.FindMaxRate.Arrival = bench.Gamma
			n++
		}
		if n == 0 {
			return errors.New("-burstiness shapes open-loop arrivals: give -rate (or -find-max-rate)")
		}
		o.Burstiness = w.burstiness
	} else if hasArrival(o.Steps, bench.Gamma) || (o.FindMaxRate != nil && o.FindMaxRate.Arrival == bench.Gamma) {
		return errors.New("-arrival gamma needs -burstiness (1 is Poisson; 0.5 burstier)")
	}
	if w.turns > 1 {
		for _, s := range o.Steps {
			if s.Rate > 0 {
				return fmt.Errorf("-turns %d: multi-turn conversations run in closed-loop steps (-concurrency): each turn waits for the answer before it; leave out -rate", w.turns)
			}
		}
		if o.FindMaxRate != nil {
			return errors.New("-turns: the rate search runs open-loop steps; multi-turn conversations need -concurrency")
		}
	}
	if !w.any() {
		return nil
	}
	c := workload.Config{Seed: o.Seed, MaxTokens: o.MaxTokens, Turns: w.turns, IgnoreEOS: w.ignoreEOS, TraceSpeed: w.traceSpeed}
	var err error
	if w.sharedPrefix != "" {
		if c.SharedPrefixes, c.SharedPrefixLen, err = parseSharedPrefix(w.sharedPrefix); err != nil {
			return err
		}
	}
	switch {
	case w.outputLen == "dataset":
		if w.dataset == "" {
			return errors.New("-output-len dataset needs -dataset: the lengths of its answers")
		}
		tk, err := bench.NewTokenizer(bench.EncodingCL100K)
		if err != nil {
			return err
		}
		c.OutputFromDataset, c.Count = true, tk.Count
	case w.outputLen != "":
		if c.OutputLen, err = workload.ParseDist(w.outputLen, openFile); err != nil {
			return fmt.Errorf("-output-len %w", err)
		}
	}
	switch {
	case w.dataset != "":
		if w.inputLen != "" {
			return errors.New("-input-len is for synthetic prompts: a dataset's entries have their own lengths")
		}
		f, err := os.Open(w.dataset)
		if err != nil {
			return fmt.Errorf("-dataset: %w", err)
		}
		c.Dataset, err = workload.ReadDataset(w.dataset, f, w.datasetFormat, w.datasetLimit)
		f.Close()
		if err != nil {
			return fmt.Errorf("-dataset: %w", err)
		}
	case w.trace != "":
		if w.inputLen != "" {
			return errors.New("-input-len is for synthetic prompts: a trace's lines have their own")
		}
		if w.turns > 1 {
			return errors.New("-turns: a trace's lines are whole requests; turns cannot be added")
		}
		f, err := os.Open(w.trace)
		if err != nil {
			return fmt.Errorf("-trace: %w", err)
		}
		c.Trace, err = workload.ReadTrace(w.trace, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("-trace: %w", err)
		}
	case w.inputLen != "":
		if c.InputLen, err = workload.ParseDist(w.inputLen, openFile); err != nil {
			return fmt.Errorf("-input-len %w", err)
		}
	default:
		if o.PromptTokens <= 0 {
			return errors.New("-prompt-tokens must be positive")
		}
		c.InputLen = workload.Fixed(o.PromptTokens)
	}
	if o.Workload, err = workload.New(c); err != nil {
		return err
	}
	if tm, ok := o.Workload.(workload.Timed); ok {
		if !set["concurrency"] {
			o.Steps = slices.DeleteFunc(o.Steps, func(s bench.Step) bool { return s.Concurrency > 0 })
		}
		o.Steps = append(o.Steps, bench.Step{Arrival: bench.Trace, MaxConcurrency: maxConcOf(o.Steps)})
		if !set["requests"] && !set["duration"] {
			o.Requests = tm.Len() // the whole trace (and as many for other steps)
		}
	}
	return nil
}

func maxConcOf(steps []bench.Step) int {
	for _, s := range steps {
		if s.MaxConcurrency > 0 {
			return s.MaxConcurrency
		}
	}
	return 0
}

func hasArrival(steps []bench.Step, a bench.Arrival) bool {
	for _, s := range steps {
		if s.Rate > 0 && s.Arrival == a {
			return true
		}
	}
	return false
}

// parseSharedPrefix reads -shared-prefix N:LEN.
func parseSharedPrefix(v string) (n, l int, err error) {
	a, b, ok := strings.Cut(v, ":")
	n, err1 := strconv.Atoi(strings.TrimSpace(a))
	l, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || l < 1 || l > workload.MaxLen {
		return 0, 0, fmt.Errorf("-shared-prefix %q: give N:LEN, the number of prefixes and their length in tokens (e.g. 4:512)", v)
	}
	return n, l, nil
}

// checkIgnoreEOS: min_tokens and ignore_eos reach only OpenAI-compatible
// servers (the openai adapter sends the body as it is); the Ollama,
// Anthropic and Gemini adapters translate the request and have no such
// option, so a fixed length cannot be asked of them.
func checkIgnoreEOS(cfg *config.Config, targets []bench.Target) error {
	for _, t := range targets {
		if p, ok := cfg.Providers[t.Provider]; ok && p.Type != "" && p.Type != "openai" {
			return fmt.Errorf("-ignore-eos: %s is served by %s (type %s), which has no option for a fixed answer length (only max_tokens, a bound); use it with an OpenAI-compatible server that takes min_tokens and ignore_eos (vLLM, SGLang)", t.Model, t.Provider, p.Type)
		}
	}
	return nil
}
