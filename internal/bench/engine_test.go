package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/providers/ollama"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// fake is a scripted provider: each call runs script with the call's
// number.
type fake struct {
	script   func(ctx context.Context, n int, sink providers.Sink) (*providers.Result, error)
	calls    atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
}

func (f *fake) Name() string { return "fake" }

func (f *fake) Chat(ctx context.Context, r *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	n := int(f.calls.Add(1) - 1)
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		p := f.peak.Load()
		if cur <= p || f.peak.CompareAndSwap(p, cur) {
			break
		}
	}
	return f.script(ctx, n, sink)
}

func (f *fake) Embed(context.Context, *providers.EmbedRequest) (*providers.Result, error) {
	return nil, errors.New("no")
}
func (f *fake) Models(context.Context) ([]string, error) { return nil, nil }
func (f *fake) Health(context.Context) error             { return nil }

func fakeTarget(f *fake) Target {
	return Target{Model: "fake-model", Provider: "fake", Upstream: "fake-up", Client: f}
}

func chunk(delta string) []byte {
	return []byte(`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}`)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// words streams n content chunks "w " d apart after a role chunk, and
// reports usage when usage is true.
func words(n int, d time.Duration, usage bool) func(context.Context, int, providers.Sink) (*providers.Result, error) {
	return func(ctx context.Context, _ int, sink providers.Sink) (*providers.Result, error) {
		res := &providers.Result{}
		res.Timing.Start = time.Now()
		sink.Chunk(chunk(`{"role":"assistant","content":""}`))
		for i := 0; i < n; i++ {
			if err := sleepCtx(ctx, d); err != nil {
				return res, err
			}
			sink.Chunk(chunk(`{"content":"hello "}`))
		}
		if usage {
			res.Usage = &providers.Usage{PromptTokens: 10, CompletionTokens: n, TotalTokens: 10 + n}
		}
		res.FinishReason = "stop"
		res.Timing.End = time.Now()
		return res, nil
	}
}

func baseOptions() Options {
	return Options{Steps: []Step{{Concurrency: 1}}, Requests: 3, Timeout: 10 * time.Second, MaxTokens: 16, PromptTokens: 20, Seed: 1}
}

func runOne(t *testing.T, tgt Target, o Options) *RunResult {
	t.Helper()
	res, err := Run(context.Background(), []Target{tgt}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	return res.Runs[0]
}

func TestParseChunk(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		data                 string
		content, answer, bad bool
		text                 string
		reasoning            bool
	}{
		{"role only", `{"choices":[{"delta":{"role":"assistant"}}]}`, false, false, false, "", false},
		{"role with empty content", `{"choices":[{"delta":{"role":"assistant","content":""}}]}`, false, false, false, "", false},
		{"null content", `{"choices":[{"delta":{"content":null}}]}`, false, false, false, "", false},
		{"text", `{"choices":[{"delta":{"content":"Hi"}}]}`, true, true, false, "Hi", false},
		{"reasoning_content", `{"choices":[{"delta":{"reasoning_content":"hmm"}}]}`, true, false, false, "hmm", true},
		{"reasoning (OpenRouter, Ollama /v1)", `{"choices":[{"delta":{"reasoning":"hmm"}}]}`, true, false, false, "hmm", true},
		{"tool call piece", `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}`, true, true, false, `{"a"`, false},
		{"tool call with name", `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"get","arguments":""}}]}}]}`, true, true, false, "get", false},
		{"null tool calls", `{"choices":[{"delta":{"tool_calls":null}}]}`, false, false, false, "", false},
		{"finish chunk", `{"choices":[{"delta":{},"finish_reason":"stop"}]}`, false, false, false, "", false},
		{"usage chunk", `{"choices":[],"usage":{"completion_tokens":3}}`, false, false, false, "", false},
		{"not json", `{"choices":`, false, false, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var text []byte
			reasoning := false
			content, answer, bad := parseChunk([]byte(tc.data), &text, true, &reasoning)
			if content != tc.content || answer != tc.answer || bad != tc.bad || string(text) != tc.text || reasoning != tc.reasoning {
				t.Errorf("parseChunk = content %v answer %v bad %v text %q reasoning %v; want %v %v %v %q %v",
					content, answer, bad, text, reasoning, tc.content, tc.answer, tc.bad, tc.text, tc.reasoning)
			}
		})
	}
}

// FuzzParseChunk checks that any chunk is handled without a panic and
// that generated text implies content.
func FuzzParseChunk(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"delta":{"content":"Hi","reasoning_content":"x"}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}`,
		`{"choices":[],"usage":{"completion_tokens":3}}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var text []byte
		reasoning := false
		content, answer, bad := parseChunk(data, &text, true, &reasoning)
		if len(text) > 0 && !content {
			t.Errorf("text %q without content", text)
		}
		if answer && !content || bad && (content || answer) {
			t.Errorf("content %v answer %v bad %v", content, answer, bad)
		}
	})
}

// TestTTFTIsFirstContent checks that a role-only or empty first chunk
// does not stop the TTFT clock.
func TestTTFTIsFirstContent(t *testing.T) {
	f := &fake{script: func(ctx context.Context, _ int, sink providers.Sink) (*providers.Result, error) {
		sink.Chunk(chunk(`{"role":"assistant","content":""}`))
		sleepCtx(ctx, 60*time.Millisecond)
		sink.Chunk(chunk(`{"content":""}`))
		sleepCtx(ctx, 60*time.Millisecond)
		sink.Chunk(chunk(`{"content":"a"}`))
		sink.Chunk(chunk(`{"content":"b"}`))
		return &providers.Result{Usage: &providers.Usage{CompletionTokens: 2}}, nil
	}}
	run := runOne(t, fakeTarget(f), baseOptions())
	if run.TTFT.Min < 120 {
		t.Errorf("TTFT min %.1f ms: the clock stopped at a chunk without content (want >= 120 ms)", run.TTFT.Min)
	}
	if run.ITL.Count != 3 || run.OutputTokens.P50 != 2 {
		t.Errorf("ITL samples %d (want 3: one gap per request), tokens %v", run.ITL.Count, run.OutputTokens)
	}
	if run.TTFTNonReasoning != nil {
		t.Errorf("time to first non-reasoning token %+v without reasoning", run.TTFTNonReasoning)
	}
}

func TestReasoningTimeToAnswer(t *testing.T) {
	f := &fake{script: func(ctx context.Context, _ int, sink providers.Sink) (*providers.Result, error) {
		sink.Chunk(chunk(`{"role":"assistant"}`))
		sink.Chunk(chunk(`{"reasoning_content":"let me think"}`))
		sleepCtx(ctx, 80*time.Millisecond)
		sink.Chunk(chunk(`{"content":"42"}`))
		return &providers.Result{Usage: &providers.Usage{CompletionTokens: 5, ReasoningTokens: 4}}, nil
	}}
	run := runOne(t, fakeTarget(f), baseOptions())
	if run.TTFTNonReasoning == nil {
		t.Fatal("no time to first non-reasoning token")
	}
	if d := run.TTFTNonReasoning.P50 - run.TTFT.P50; d < 80 {
		t.Errorf("first answer %.1f ms after first reasoning, want >= 80", d)
	}
}

func TestTokenCountMethods(t *testing.T) {
	tk, err := NewTokenizer(EncodingCL100K)
	if err != nil {
		t.Fatal(err)
	}
	text := "hello hello hello hello " // 4 chunks of "hello "
	want := float64(tk.Count(text))
	for _, tc := range []struct {
		name      string
		usage     bool
		tokenizer Tokenizer
		method    string
		tokens    float64
	}{
		{"server usage wins", true, nil, MethodUsage, 4},
		{"tokenizer without usage", false, nil, MethodTokenizer, want},
		{"chunks when the tokenizer counts nothing", false, zeroTokenizer{}, MethodChunks, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{script: words(4, 0, tc.usage)}
			o := baseOptions()
			o.Tokenizer = tc.tokenizer
			run := runOne(t, fakeTarget(f), o)
			if run.TokenCountMethod != tc.method || run.OutputTokens.P50 != tc.tokens || run.TokenCountMethods[tc.method] != 3 {
				t.Errorf("method %q (%v), tokens %v; want %q, %v", run.TokenCountMethod, run.TokenCountMethods, run.OutputTokens.P50, tc.method, tc.tokens)
			}
			if tc.method == MethodTokenizer && run.Tokenizer != EncodingCL100K {
				t.Errorf("tokenizer %q, want %s", run.Tokenizer, EncodingCL100K)
			}
		})
	}
	t.Run("mixed", func(t *testing.T) {
		withUsage, without := words(4, 0, true), words(4, 0, false)
		f := &fake{script: func(ctx context.Context, n int, sink providers.Sink) (*providers.Result, error) {
			if n%2 == 0 {
				return withUsage(ctx, n, sink)
			}
			return without(ctx, n, sink)
		}}
		run := runOne(t, fakeTarget(f), baseOptions())
		if run.TokenCountMethod != "mixed" || run.TokenCountMethods[MethodUsage] != 2 || run.TokenCountMethods[MethodTokenizer] != 1 {
			t.Errorf("method %q %v, want mixed: usage 2, tokenizer 1", run.TokenCountMethod, run.TokenCountMethods)
		}
	})
}

type zeroTokenizer struct{}

func (zeroTokenizer) Name() string     { return "zero" }
func (zeroTokenizer) Count(string) int { return 0 }

// TestFailuresByKind checks failure classification against an emulator
// speaking OpenAI's wire format, and that failures never reach latency
// figures.
func TestFailuresByKind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      openaiemu.Options
		model  string
		kind   string
		status int
	}{
		{"rate limited", openaiemu.Options{Fault: openaiemu.Fault{Status: 429, RetryAfter: "1"}}, "m", KindRateLimited, 429},
		{"bad key", openaiemu.Options{APIKey: "sk-right"}, "m", KindAuth, 401},
		{"unknown model", openaiemu.Options{Models: []string{"other"}}, "m", KindNotFound, 404},
		{"bad request", openaiemu.Options{Fault: openaiemu.Fault{Status: 400}}, "m", KindInvalidRequest, 400},
		{"server error", openaiemu.Options{Fault: openaiemu.Fault{Status: 500}}, "m", KindServer, 500},
		{"overloaded", openaiemu.Options{Fault: openaiemu.Fault{Status: 503}}, "m", KindUnavailable, 503},
		// The adapters answer 502 for a transport failure; no server
		// sent a status, so the bench reports none, and the cause.
		{"connection reset", openaiemu.Options{Fault: openaiemu.Fault{Reset: true}}, "m", KindReset, 0},
		{"hang", openaiemu.Options{Fault: openaiemu.Fault{Hang: true}}, "m", KindTimeout, 0},
		{"cut stream", openaiemu.Options{Fault: openaiemu.Fault{CutAfter: 2}}, "m", KindStreamBroken, 502},
		{"error chunk", openaiemu.Options{Fault: openaiemu.Fault{ErrorAfter: 2}}, "m", KindStreamBroken, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, _ := emuTarget(t, tc.o)
			tgt.Upstream = tc.model
			o := baseOptions()
			o.Requests = 2
			o.Timeout = 300 * time.Millisecond
			run := runOne(t, tgt, o)
			if run.Requests != (Counts{Total: 2, Failed: 2}) {
				t.Errorf("requests %+v, want 2 failed", run.Requests)
			}
			if len(run.Errors) != 1 || run.Errors[0].Kind != tc.kind || run.Errors[0].Count != 2 || run.Errors[0].Status != tc.status {
				t.Fatalf("errors %+v, want 2 x %s (status %d)", run.Errors, tc.kind, tc.status)
			}
			if run.Errors[0].Message == "" || strings.Contains(run.Errors[0].Message, "sk-right") {
				t.Errorf("message %q", run.Errors[0].Message)
			}
			if run.TTFT != nil || run.ITL != nil || run.E2E != nil || run.TPOT != nil || run.OutputTokensPerS != nil || run.Throughput.OutputTokensPerS != 0 {
				t.Errorf("failed requests entered latency figures: ttft %v itl %v e2e %v", run.TTFT, run.ITL, run.E2E)
			}
		})
	}
}

func TestFailuresLeaveStatsAlone(t *testing.T) {
	ok := words(3, time.Millisecond, true)
	f := &fake{script: func(ctx context.Context, n int, sink providers.Sink) (*providers.Result, error) {
		switch n % 3 {
		case 1:
			return nil, &providers.Error{Status: 429, Type: providers.TypeRateLimit, Message: "slow down"}
		case 2:
			sink.Chunk(chunk(`{"role":"assistant"}`))
			return &providers.Result{}, nil // no content at all
		}
		return ok(ctx, n, sink)
	}}
	o := baseOptions()
	o.Requests = 9
	run := runOne(t, fakeTarget(f), o)
	if run.Requests != (Counts{Total: 9, Succeeded: 3, Failed: 6}) {
		t.Fatalf("requests %+v", run.Requests)
	}
	for name, s := range map[string]*Stats{"ttft": run.TTFT, "e2e": run.E2E, "tpot": run.TPOT, "tok/s": run.OutputTokensPerS} {
		if s == nil || s.Count != 3 {
			t.Errorf("%s stats %+v, want 3 samples", name, s)
		}
	}
	kinds := map[string]int{}
	for _, e := range run.Errors {
		kinds[e.Kind] = e.Count
	}
	if kinds[KindRateLimited] != 3 || kinds[KindNoContent] != 3 {
		t.Errorf("errors %+v", run.Errors)
	}
}

func TestClosedLoop(t *testing.T) {
	t.Run("holds the concurrency", func(t *testing.T) {
		f := &fake{script: words(2, 20*time.Millisecond, true)}
		o := baseOptions()
		o.Steps = []Step{{Concurrency: 4}}
		o.Requests = 12
		run := runOne(t, fakeTarget(f), o)
		if run.Requests.Total != 12 || f.calls.Load() != 12 {
			t.Errorf("%d recorded, %d sent, want 12", run.Requests.Total, f.calls.Load())
		}
		if p := f.peak.Load(); p != 4 {
			t.Errorf("peak in flight %d, want 4", p)
		}
		for i, r := range run.Records {
			if r.Index != i {
				t.Fatalf("records out of order: %d at %d", r.Index, i)
			}
		}
	})
	t.Run("duration bounds the step", func(t *testing.T) {
		f := &fake{script: words(2, 20*time.Millisecond, true)}
		o := baseOptions()
		o.Steps = []Step{{Concurrency: 2}}
		o.Requests = 0
		o.Duration = 300 * time.Millisecond
		began := time.Now()
		run := runOne(t, fakeTarget(f), o)
		if run.Requests.Total < 2 {
			t.Fatalf("%d requests in 300ms", run.Requests.Total)
		}
		for _, r := range run.Records {
			if r.Start.Sub(began) > o.Duration+250*time.Millisecond {
				t.Errorf("request %d started %v after the step began, past -duration", r.Index, r.Start.Sub(began))
			}
		}
	})
	t.Run("ramp-up staggers workers", func(t *testing.T) {
		// Each request outlasts the ramp, so each worker sends one.
		f := &fake{script: words(1, 400*time.Millisecond, true)}
		o := baseOptions()
		o.Steps = []Step{{Concurrency: 4}}
		o.Requests = 4
		o.RampUp = 300 * time.Millisecond
		run := runOne(t, fakeTarget(f), o)
		first, last := run.Records[0].Start, run.Records[0].Start
		for _, r := range run.Records {
			if r.Start.Before(first) {
				first = r.Start
			}
			if r.Start.After(last) {
				last = r.Start
			}
		}
		// Worker w starts at w*300ms/4: the last at 225ms after the
		// first. Without a ramp all four start within a few ms; allow
		// scheduling slack below the exact 225ms.
		if spread := last.Sub(first); spread < 200*time.Millisecond {
			t.Errorf("starts spread over %v, want about 225ms (3/4 of the 300ms ramp)", spread)
		}
	})
}

func TestOpenLoop(t *testing.T) {
	t.Run("constant arrivals", func(t *testing.T) {
		f := &fake{script: words(1, 0, true)}
		o := baseOptions()
		o.Steps = []Step{{Rate: 50, Arrival: Constant}}
		o.Requests = 6
		run := runOne(t, fakeTarget(f), o)
		if run.Mode != "rate" || run.Rate != 50 || run.Requests.Total != 6 {
			t.Fatalf("run %+v", run)
		}
		t0 := run.Records[0].Start
		for i, r := range run.Records {
			// Timers never fire early: request i starts no sooner than i/rate
			// (measured from the first request, which may itself start a
			// little late: hence the slack; unpaced requests would all
			// start within it).
			if min := time.Duration(i) * 20 * time.Millisecond; r.Start.Sub(t0) < min-10*time.Millisecond {
				t.Errorf("request %d sent %v after the first, want >= %v", i, r.Start.Sub(t0), min)
			}
		}
	})
	t.Run("does not wait for answers", func(t *testing.T) {
		f := &fake{script: words(1, 200*time.Millisecond, true)}
		o := baseOptions()
		o.Steps = []Step{{Rate: 100, Arrival: Poisson}}
		o.Requests = 8
		run := runOne(t, fakeTarget(f), o)
		if p := f.peak.Load(); p < 4 {
			t.Errorf("peak in flight %d: an open loop must keep sending while answers are pending", p)
		}
		if run.Requests.Succeeded != 8 {
			t.Errorf("requests %+v", run.Requests)
		}
	})
	t.Run("max concurrency caps in-flight requests", func(t *testing.T) {
		f := &fake{script: words(1, 30*time.Millisecond, true)}
		o := baseOptions()
		o.Steps = []Step{{Rate: 1000, Arrival: Constant, MaxConcurrency: 3}}
		o.Requests = 12
		run := runOne(t, fakeTarget(f), o)
		if p := f.peak.Load(); p > 3 {
			t.Errorf("peak in flight %d, cap 3", p)
		}
		if run.Requests.Succeeded != 12 {
			t.Errorf("requests %+v", run.Requests)
		}
	})
}

func TestSchedule(t *testing.T) {
	draw := func(seed uint64, s Step, n int) []time.Duration {
		sc := newSchedule(seed, s)
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = sc.next()
		}
		return out
	}
	p := Step{Rate: 4, Arrival: Poisson}
	a, b := draw(7, p, 20000), draw(7, p, 20000)
	if fmt.Sprint(a[:50]) != fmt.Sprint(b[:50]) {
		t.Error("the same seed gave different arrivals")
	}
	if c := draw(8, p, 50); fmt.Sprint(c) == fmt.Sprint(a[:50]) {
		t.Error("another seed gave the same arrivals")
	}
	var sum time.Duration
	for _, g := range a {
		sum += g
	}
	if mean := sum.Seconds() / float64(len(a)); math.Abs(mean-0.25) > 0.0125 {
		t.Errorf("Poisson mean gap %.4fs, want 0.25s within 5%%", mean)
	}
	for _, g := range draw(1, Step{Rate: 4, Arrival: Constant}, 10) {
		if g != 250*time.Millisecond {
			t.Fatalf("constant gap %v, want 250ms", g)
		}
	}
}

func TestWarmupExcluded(t *testing.T) {
	tgt, emu := emuTarget(t, openaiemu.Options{Reply: "a b c"})
	o := baseOptions()
	o.Warmup = 2
	res, err := Run(context.Background(), []Target{tgt}, o)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(chats(emu)); n != 5 {
		t.Errorf("emulator saw %d requests, want 2 warm-up + 3", n)
	}
	if res.Runs[0].Requests.Total != 3 || len(res.Warmups) != 1 || res.Warmups[0].Requests != 2 || res.Warmups[0].Failed != 0 {
		t.Errorf("runs %+v warmups %+v", res.Runs[0].Requests, res.Warmups)
	}
	// What bench sends: a stream asking for usage, with max_tokens.
	var body struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		MaxTokens     int    `json:"max_tokens"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct{ Role, Content string } `json:"messages"`
	}
	if err := json.Unmarshal(chats(emu)[4].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "emu-model" || !body.Stream || !body.StreamOptions.IncludeUsage || body.MaxTokens != 16 ||
		len(body.Messages) != 1 || body.Messages[0].Role != "user" || !strings.HasPrefix(body.Messages[0].Content, syntheticInstruction) {
		t.Errorf("request body %+v", body)
	}
}

func TestCancel(t *testing.T) {
	tgt, _ := emuTarget(t, openaiemu.Options{TTFT: 5 * time.Second, Reply: "a b"})
	ctx, cancel := context.WithCancel(context.Background())
	o := baseOptions()
	o.Steps = []Step{{Concurrency: 2}, {Concurrency: 4}}
	o.Requests = 4
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	res, err := Run(ctx, []Target{tgt, {Model: "second", Provider: "emu", Upstream: "x", Client: tgt.Client}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Run took %v after cancel", d)
	}
	if !res.Interrupted || len(res.Runs) != 1 || !res.Runs[0].Interrupted {
		t.Fatalf("interrupted %v, %d runs", res.Interrupted, len(res.Runs))
	}
	run := res.Runs[0]
	if run.Requests.Failed != 2 || len(run.Errors) != 1 || run.Errors[0].Kind != KindCancelled {
		t.Errorf("requests %+v errors %+v, want the 2 in flight cancelled", run.Requests, run.Errors)
	}
	if len(res.Tiers) != 0 || len(res.Untiered) != 2 {
		t.Errorf("tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
}

func TestTiers(t *testing.T) {
	rules := []config.TierRule{
		{Tier: catalog.UltraFast, MaxTTFT: 10 * time.Millisecond, MinTokensPerSecond: 1000},
		{Tier: catalog.Fast, MaxTTFT: 5 * time.Second, MinTokensPerSecond: 5},
	}
	t.Run("from the single-stream step", func(t *testing.T) {
		f := &fake{script: words(5, 10*time.Millisecond, true)} // ~100 tok/s
		o := baseOptions()
		o.Rules = rules
		o.Steps = []Step{{Concurrency: 2}, {Concurrency: 1}}
		res, err := Run(context.Background(), []Target{fakeTarget(f)}, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tiers) != 1 {
			t.Fatalf("tiers %+v untiered %+v", res.Tiers, res.Untiered)
		}
		e := res.Tiers[0]
		single := res.Runs[1]
		if e.Tier != catalog.Fast || e.Rule == nil || e.Rule.MaxTTFTMs != 5000 || e.Missed == nil || e.Missed.Tier != catalog.UltraFast {
			t.Errorf("entry %+v", e)
		}
		if e.Model != "fake-model" || e.Provider != "fake" || e.Upstream != "fake-up" || e.Requests != 3 ||
			e.OutputTokensPerSecP50 != Round(single.OutputTokensPerS.P50) || e.TTFTP50Ms != Round(single.TTFT.P50) {
			t.Errorf("entry %+v does not carry the c=1 medians (%v, %v)", e, single.TTFT.P50, single.OutputTokensPerS.P50)
		}
		tf := res.TiersFile()
		if len(tf.Tiers) != 1 || tf.Generator != ToolName || tf.GeneratedAt.IsZero() {
			t.Errorf("tiers file %+v", tf)
		}
	})
	for _, tc := range []struct {
		name   string
		script func(context.Context, int, providers.Sink) (*providers.Result, error)
		steps  []Step
		why    string
	}{
		{"no single-stream step", words(3, 0, true), []Step{{Concurrency: 2}}, "no single-stream step"},
		{"every request failed", func(context.Context, int, providers.Sink) (*providers.Result, error) {
			return nil, &providers.Error{Status: 401, Type: providers.TypeAuthentication, Message: "no"}
		}, []Step{{Concurrency: 1}}, "no successful single-stream request (3 failed)"},
		{"one-token answers", words(1, 0, true), []Step{{Concurrency: 1}}, "tokens/s is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions()
			o.Rules, o.Steps = rules, tc.steps
			res, err := Run(context.Background(), []Target{fakeTarget(&fake{script: tc.script})}, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tiers) != 0 || len(res.Untiered) != 1 || !strings.Contains(res.Untiered[0].Reason, tc.why) {
				t.Errorf("tiers %+v untiered %+v, want none because %q", res.Tiers, res.Untiered, tc.why)
			}
		})
	}
}

// TestOllamaServerTimings runs through the Ollama adapter against its
// emulator: tokens come from eval_count, and Ollama's own durations are
// reported beside the client's figures.
func TestOllamaServerTimings(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{Reply: "one two three four", ChunkGap: 5 * time.Millisecond, LoadDuration: 3 * time.Millisecond})
	t.Cleanup(emu.Close)
	p, err := ollama.New(providers.Options{Name: "ollama", BaseURL: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	run := runOne(t, Target{Model: "llama3-8b", Provider: "ollama", Upstream: "llama3:8b", Client: p}, baseOptions())
	if run.Requests.Succeeded != 3 || run.TokenCountMethod != MethodUsage || run.OutputTokens.P50 != 4 {
		t.Fatalf("requests %+v errors %+v, tokens %v by %q", run.Requests, run.Errors, run.OutputTokens, run.TokenCountMethod)
	}
	for _, k := range []string{"load_duration", "prompt_eval_duration", "eval_duration", "total_duration"} {
		if run.UpstreamMs[k] == nil {
			t.Errorf("no %s in %v", k, run.UpstreamMs)
		}
	}
	if run.UpstreamMs["load_duration"].P50 != 3 {
		t.Errorf("load_duration p50 %v ms, want 3", run.UpstreamMs["load_duration"].P50)
	}
	if run.UpstreamOutputTokensPerS == nil || run.UpstreamOutputTokensPerS.P50 <= 0 {
		t.Errorf("server tok/s %+v", run.UpstreamOutputTokensPerS)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no steps", func(o *Options) { o.Steps = nil }, "no load steps"},
		{"both", func(o *Options) { o.Steps = []Step{{Concurrency: 1, Rate: 1}} }, "both"},
		{"bad rate", func(o *Options) { o.Steps = []Step{{Rate: -1, Arrival: Poisson}} }, "rate"},
		{"bad arrival", func(o *Options) { o.Steps = []Step{{Rate: 1, Arrival: "bursty"}} }, "arrival"},
		{"unbounded", func(o *Options) { o.Requests = 0 }, "requests or a duration"},
		{"no timeout", func(o *Options) { o.Timeout = 0 }, "timeout"},
		{"no max tokens", func(o *Options) { o.MaxTokens = 0 }, "bounded"},
		{"no prompt", func(o *Options) { o.PromptTokens = 0 }, "prompt tokens"},
		{"negative ramp", func(o *Options) { o.RampUp = -time.Second }, "ramp-up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions()
			tc.mod(&o)
			_, err := Run(context.Background(), []Target{fakeTarget(&fake{})}, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Run(context.Background(), nil, baseOptions()); err == nil {
		t.Error("no error without targets")
	}
}

func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    func(w *syncbuf.Buffer) Progress
		want []string
	}{
		{"lines", func(w *syncbuf.Buffer) Progress { return NewLineProgress(w, 20*time.Millisecond) },
			[]string{"bench: fake-model warm-up: started", "bench: [1/1] fake-model c=2: started", "done, 0 failed", "tok/s total", "ETA ",
				"bench: [1/1] fake-model c=2: done: 4 ok, 0 failed", "output tok/s total", "tok/s per request (p50)"}},
		{"bar", func(w *syncbuf.Buffer) Progress { return NewBarProgress(w) },
			[]string{"[1/1] fake-model c=2", "0 failed", "4/4", "tok/s total", "ETA ", "tok/s per request (p50)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			o := baseOptions()
			o.Steps = []Step{{Concurrency: 2}}
			o.Requests, o.Warmup = 4, 1
			o.Progress = tc.p(&out)
			runOne(t, fakeTarget(&fake{script: words(6, 50*time.Millisecond, true)}), o)
			got := out.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("progress output lacks %q:\n%s", w, got)
				}
			}
			if tc.name == "lines" && strings.Contains(got, "\r") {
				t.Error("plain lines contain a carriage return")
			}
		})
	}
}

func TestETA(t *testing.T) {
	for _, tc := range []struct {
		p    Phase
		s    Snapshot
		want string
	}{
		{Phase{Total: 10}, Snapshot{Elapsed: 4 * time.Second, Succeeded: 3, Failed: 1}, ", ETA 6s"},
		{Phase{Total: 10}, Snapshot{Elapsed: 4 * time.Second}, ""},
		{Phase{Duration: time.Minute}, Snapshot{Elapsed: 15 * time.Second, Succeeded: 2}, ", ETA 45s"},
		{Phase{Total: 100, Duration: time.Minute}, Snapshot{Elapsed: 10 * time.Second, Succeeded: 50}, ", ETA 10s"},
		{Phase{Duration: time.Second}, Snapshot{Elapsed: 2 * time.Second}, ", ETA 0s"},
	} {
		if got := eta(tc.p, tc.s, ", "); got != tc.want {
			t.Errorf("eta(%+v, %+v) = %q, want %q", tc.p, tc.s, got, tc.want)
		}
	}
	if got := rates(120, Snapshot{InFlight: 4}); got != "120.0 tok/s total (~30.0 per stream)" {
		t.Errorf("rates: %q", got)
	}
}
