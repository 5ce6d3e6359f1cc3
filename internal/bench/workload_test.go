package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/providers"
)

// scribe is a provider that records each request's body and send time
// and answers "answer N" for the N-th call (0-based).
type scribe struct {
	mu    sync.Mutex
	calls []scribeCall
	fail  func(body sentBody) bool
	// id, when set, is reported as the prompt's token count, so a test
	// can tell from a Record which request it was.
	id func(body sentBody) int
}

type scribeCall struct {
	at     time.Time
	body   sentBody
	answer string
}

type sentBody struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens int   `json:"max_tokens"`
	MinTokens *int  `json:"min_tokens"`
	IgnoreEOS *bool `json:"ignore_eos"`
}

func (s *scribe) Name() string { return "scribe" }

func (s *scribe) Chat(ctx context.Context, r *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	at := time.Now()
	var b sentBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, err
	}
	s.mu.Lock()
	n := len(s.calls)
	answer := fmt.Sprintf("answer %d", n)
	s.calls = append(s.calls, scribeCall{at: at, body: b, answer: answer})
	s.mu.Unlock()
	if s.fail != nil && s.fail(b) {
		return nil, &providers.Error{Status: 500, Message: "scribe answered 500: no"}
	}
	res := &providers.Result{}
	res.Timing.Start = at
	sink.Chunk(chunk(`{"role":"assistant","content":""}`))
	sink.Chunk(chunk(`{"reasoning_content":"thinking"}`)) // not part of the answer
	for _, w := range strings.SplitAfter(answer, " ") {
		sink.Chunk(chunk(fmt.Sprintf(`{"content":%q}`, w)))
	}
	res.Usage = &providers.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8}
	if s.id != nil {
		res.Usage.PromptTokens = s.id(b)
	}
	res.FinishReason = "stop"
	res.Timing.End = time.Now()
	return res, nil
}

func (s *scribe) Embed(context.Context, *providers.EmbedRequest) (*providers.Result, error) {
	return nil, errors.New("no")
}
func (s *scribe) Models(context.Context) ([]string, error) { return nil, nil }
func (s *scribe) Health(context.Context) error             { return nil }

func scribeTarget(s *scribe) Target {
	return Target{Model: "m", Provider: "scribe", Upstream: "m", Client: s}
}

func mustSource(t *testing.T, c workload.Config) workload.Source {
	t.Helper()
	s, err := workload.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTraceReplay: a trace step numbers its requests in the trace's time
// order and sends each at its recorded time (scaled by the speed) from
// the step's start, never early. The send times are the recorded ones
// (no upper bound on lateness is asserted; goroutines started close
// together may reach the server in another order under load, so the
// order checked is the engine's numbering).
func TestTraceReplay(t *testing.T) {
	tr, err := workload.ReadTrace("t.jsonl", strings.NewReader(strings.Join([]string{
		`{"offset": 0, "prompt": "first"}`,
		`{"offset": 0.16, "prompt": "fourth", "max_tokens": 9}`,
		`{"offset": 0.04, "prompt": "second"}`,
		`{"offset": 0.1, "prompt": "third"}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4}
	s := &scribe{id: func(b sentBody) int { return ids[b.Messages[0].Content] }}
	o := baseOptions()
	o.Steps, o.Requests = []Step{{Arrival: Trace}}, 10 // the trace ends first
	o.Workload = mustSource(t, workload.Config{MaxTokens: 16, Trace: tr, TraceSpeed: 2})
	run := runOne(t, scribeTarget(s), o)
	if run.Load() != "trace" || run.Arrival != Trace || run.Requests.Succeeded != 4 || len(s.calls) != 4 || len(run.Records) != 4 {
		t.Fatalf("%s: %+v, %d calls", run.Load(), run.Requests, len(s.calls))
	}
	offsets := []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 80 * time.Millisecond}
	for i, r := range run.Records {
		if r.Index != i || r.PromptTokens != i+1 {
			t.Errorf("request %d was line %d of the trace's time order, want %d", r.Index, r.PromptTokens, i+1)
		}
		if d := r.Start.Sub(run.StartedAt); d < offsets[i] {
			t.Errorf("request %d sent at +%v, before its time +%v", i, d, offsets[i])
		}
	}
	for _, c := range s.calls {
		want := 16
		if c.body.Messages[0].Content == "fourth" {
			want = 9
		}
		if c.body.MaxTokens != want {
			t.Errorf("%q: max_tokens %d, want %d (the line's, else the run's)", c.body.Messages[0].Content, c.body.MaxTokens, want)
		}
	}
}

// TestMultiTurnHistory: at concurrency 2, every turn after the first
// carries its own conversation's history: the earlier turns and the
// answers the server actually gave them (their text, not the reasoning).
func TestMultiTurnHistory(t *testing.T) {
	s := &scribe{}
	o := baseOptions()
	o.Steps, o.Requests = []Step{{Concurrency: 2}}, 12
	o.Workload = mustSource(t, workload.Config{Seed: 4, MaxTokens: 16, Turns: 3, InputLen: workload.Fixed(20)})
	run := runOne(t, scribeTarget(s), o)
	if run.Requests.Succeeded != 12 {
		t.Fatalf("%+v %+v", run.Requests, run.Errors)
	}
	key := func(b sentBody, n int) string {
		var parts []string
		for _, m := range b.Messages[:n] {
			parts = append(parts, m.Role+":"+m.Content)
		}
		return strings.Join(parts, "|")
	}
	answers := map[string]string{} // request messages -> the answer it got
	byLen := map[int]int{}
	for _, c := range s.calls {
		answers[key(c.body, len(c.body.Messages))] = c.answer
		byLen[len(c.body.Messages)]++
	}
	// Two workers share the 12 requests: each may leave its last
	// conversation unfinished, so at least 3 of 3 turns complete.
	if len(byLen) != 3 || byLen[1] < byLen[3] || byLen[3] < byLen[5] || byLen[5] < 3 {
		t.Fatalf("requests by history length %v, want conversations of 3 turns (1, 3 and 5 messages)", byLen)
	}
	for _, c := range s.calls {
		ms := c.body.Messages
		for k := 1; k < len(ms); k += 2 {
			if ms[k].Role != "assistant" || ms[k+1].Role != "user" {
				t.Fatalf("history %s", key(c.body, len(ms)))
			}
			if got, want := ms[k].Content, answers[key(c.body, k)]; got != want {
				t.Errorf("turn %d carries %q, but the server answered %q to the turn before", k/2+2, got, want)
			}
		}
	}
}

// TestMultiTurnFailedTurn: a failed turn ends its conversation; the
// worker's next request opens a new one.
func TestMultiTurnFailedTurn(t *testing.T) {
	s := &scribe{fail: func(b sentBody) bool { return len(b.Messages) == 3 }}
	o := baseOptions()
	o.Requests = 4
	o.Workload = mustSource(t, workload.Config{Seed: 4, MaxTokens: 16, Turns: 3, InputLen: workload.Fixed(20)})
	run := runOne(t, scribeTarget(s), o)
	var lens []int
	for _, c := range s.calls {
		lens = append(lens, len(c.body.Messages))
	}
	if fmt.Sprint(lens) != "[1 3 1 3]" || run.Requests.Failed != 2 {
		t.Errorf("history lengths %v, failed %d; want [1 3 1 3], 2", lens, run.Requests.Failed)
	}
	if s.calls[0].body.Messages[0].Content == s.calls[2].body.Messages[0].Content {
		t.Error("the conversation after a failed turn is the same one")
	}
}

// TestFixedOutputBody: -ignore-eos asks for exactly max_tokens; without
// it the body has neither field.
func TestFixedOutputBody(t *testing.T) {
	for _, ignore := range []bool{true, false} {
		s := &scribe{}
		o := baseOptions()
		o.Requests = 2
		o.Workload = mustSource(t, workload.Config{MaxTokens: 16, InputLen: workload.Fixed(20), OutputLen: workload.Fixed(7), IgnoreEOS: ignore})
		runOne(t, scribeTarget(s), o)
		for _, c := range s.calls {
			b := c.body
			switch {
			case b.MaxTokens != 7:
				t.Errorf("max_tokens %d, want 7", b.MaxTokens)
			case ignore && (b.MinTokens == nil || *b.MinTokens != 7 || b.IgnoreEOS == nil || !*b.IgnoreEOS):
				t.Errorf("ignore-eos: min_tokens %v ignore_eos %v", b.MinTokens, b.IgnoreEOS)
			case !ignore && (b.MinTokens != nil || b.IgnoreEOS != nil):
				t.Errorf("without ignore-eos: min_tokens %v ignore_eos %v", b.MinTokens, b.IgnoreEOS)
			}
		}
	}
}

// TestWorkloadPrompts: a single-turn source's request i is the same at
// any concurrency and in an open loop; synthetic text is Synthetic's.
func TestWorkloadPrompts(t *testing.T) {
	src := mustSource(t, workload.Config{Seed: 1, MaxTokens: 16, InputLen: workload.Fixed(20)})
	e := &engine{o: Options{Workload: src}}
	text := func(p Prompt) string {
		var m []struct{ Role, Content string }
		if err := json.Unmarshal(p.Messages, &m); err != nil || len(m) != 1 || m[0].Role != "user" {
			t.Fatalf("messages %s", p.Messages)
		}
		return m[0].Content
	}
	if got, want := text(e.prompt(3)), text(Synthetic(1, 3, 20)); got != want {
		t.Errorf("request 3: %q, want Synthetic's %q", got, want)
	}
	s := &scribe{}
	o := baseOptions()
	o.Steps, o.Requests, o.Burstiness = []Step{{Rate: 500, Arrival: Gamma}}, 6, 0.5
	o.Workload = src
	res, err := Run(context.Background(), []Target{scribeTarget(s)}, o)
	if err != nil {
		t.Fatal(err)
	}
	run := res.Runs[0]
	if run.Arrival != Gamma || run.Load() != "rate=500/s gamma" || run.Requests.Succeeded != 6 {
		t.Errorf("%s %+v", run.Load(), run.Requests)
	}
	if w := res.Settings.Workload; w == nil || w.Source != "synthetic" || w.InputLen != "fixed:20" || res.Settings.Burstiness != 0.5 {
		t.Errorf("settings %+v workload %+v", res.Settings, w)
	}
	seen := map[string]bool{}
	for _, c := range s.calls {
		seen[c.body.Messages[0].Content] = true
	}
	for i := range 6 {
		if !seen[text(Synthetic(1, i, 20))] {
			t.Errorf("request %d's prompt was not sent", i)
		}
	}
}

func TestWorkloadValidate(t *testing.T) {
	multi := mustSource(t, workload.Config{MaxTokens: 16, Turns: 2})
	for _, tc := range []struct {
		mod func(*Options)
		err string
	}{
		{func(o *Options) { o.Steps = []Step{{Arrival: Trace}} }, "needs a trace"},
		{func(o *Options) { o.Steps = []Step{{Rate: 1, Arrival: Gamma}} }, "need a burstiness"},
		{func(o *Options) { o.Steps = []Step{{Rate: 1, Arrival: "bursty"}} }, `arrival "bursty"`},
		{func(o *Options) { o.Burstiness = -1 }, "burstiness must be positive"},
		{func(o *Options) { o.Workload, o.Steps = multi, []Step{{Rate: 1, Arrival: Poisson}} }, "multi-turn conversations run in closed-loop steps"},
		{func(o *Options) { o.Workload, o.Prompts = multi, []Prompt{{}} }, "not both"},
	} {
		o := baseOptions()
		tc.mod(&o)
		if _, err := Run(context.Background(), []Target{scribeTarget(&scribe{})}, o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v, want %q", err, tc.err)
		}
	}
	// The default workload is recorded too.
	o := baseOptions()
	if s := settingsOf(&o); s.Workload == nil || *s.Workload != (workload.Spec{Source: "synthetic", Seed: 1, InputLen: "fixed:20"}) {
		t.Errorf("default workload %+v", s.Workload)
	}
	o.Prompts, o.PromptsFile = []Prompt{{}, {}}, "p.jsonl"
	if s := settingsOf(&o); s.Workload == nil || *s.Workload != (workload.Spec{Source: "prompts", Seed: 1, File: "p.jsonl", Conversations: 2}) {
		t.Errorf("prompts workload %+v", s.Workload)
	}
}
