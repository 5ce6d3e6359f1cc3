package bench

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

func TestParseSLO(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SLO
		err  string
	}{
		{"ttft=800ms,itl=60ms,e2e=20s", SLO{TTFT: 800 * time.Millisecond, ITL: 60 * time.Millisecond, E2E: 20 * time.Second}, ""},
		{" e2e=2s , tpot=50ms", SLO{ITL: 50 * time.Millisecond, E2E: 2 * time.Second}, ""},
		{"ttft=fast", SLO{}, "write name=duration"},
		{"ttft=-1s", SLO{}, "write name=duration"},
		{"p99=1s", SLO{}, "the bounds are ttft"},
		{"", SLO{}, "at least one bound"},
	} {
		got, err := ParseSLO(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSLO(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if back, _ := ParseSLO(got.String()); back == nil || *back != *got {
			t.Errorf("String %q does not read back", got.String())
		}
	}
}

func TestSLOMet(t *testing.T) {
	o := SLO{TTFT: 100 * time.Millisecond, ITL: 10 * time.Millisecond, E2E: time.Second}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		r    Record
		want bool
	}{
		{"within every bound", Record{OK: true, TTFT: 90 * ms, E2E: 180 * ms, Chunks: 10}, true},
		{"first token late", Record{OK: true, TTFT: 101 * ms, E2E: 200 * ms, Chunks: 10}, false},
		{"tokens too far apart on average", Record{OK: true, TTFT: 50 * ms, E2E: 200 * ms, Chunks: 10}, false},
		{"too long overall", Record{OK: true, TTFT: 50 * ms, E2E: 1001 * ms, Chunks: 1000}, false},
		{"one chunk: no gap to bound", Record{OK: true, TTFT: 50 * ms, E2E: 60 * ms, Chunks: 1}, true},
		{"failed", Record{OK: false, TTFT: 10 * ms, E2E: 20 * ms, Chunks: 2}, false},
	} {
		if got := o.Met(&tc.r); got != tc.want {
			t.Errorf("%s: Met = %v", tc.name, got)
		}
	}
	recs := []Record{{OK: true, TTFT: ms, E2E: 2 * ms, Chunks: 2, OutputTokens: 3}, {OK: true, TTFT: 2 * time.Second, E2E: 3 * time.Second}, {OK: false}, {OK: true, TTFT: ms, E2E: 2 * ms, Chunks: 2, OutputTokens: 5}}
	g := o.goodput(recs, 2*time.Second)
	if g.Met != 2 || g.Attainment != 0.5 || g.RequestsPerS != 1 || g.TokensPerS != 4 {
		t.Errorf("goodput %+v", g)
	}
}

// queueServer is a backend with a fixed number of slots, each serving
// one request for a fixed time; a request waits for a free slot. Its
// capacity is slots/service requests per second: under that rate no
// request waits, over it the queue grows without end, so the highest
// rate that meets an SLO a little above the service time is the
// capacity (a knee known in advance).
type queueServer struct {
	slots   chan struct{}
	service time.Duration
}

func (q *queueServer) Name() string { return "queue" }

func (q *queueServer) Chat(ctx context.Context, req *providers.ChatRequest, sink providers.Sink) (*providers.Result, error) {
	start := time.Now() // the request is sent: waiting for a slot is the server's
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-q.slots }()
	req.FirstByte()
	select {
	case <-time.After(q.service):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, c := range []string{`{"choices":[{"index":0,"delta":{"content":"a "}}]}`, `{"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}`} {
		if err := sink.Chunk([]byte(c)); err != nil {
			return nil, err
		}
	}
	if req.IncludeUsage {
		sink.Chunk([]byte(`{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`))
	}
	return &providers.Result{Usage: &providers.Usage{PromptTokens: 4, CompletionTokens: 2, TotalTokens: 6}, FinishReason: "stop",
		Timing: providers.Timing{Start: start, End: time.Now()}}, nil
}

func (q *queueServer) Embed(context.Context, *providers.EmbedRequest) (*providers.Result, error) {
	return nil, errors.New("no embeddings")
}
func (q *queueServer) Models(context.Context) ([]string, error) { return []string{"queue"}, nil }
func (q *queueServer) Health(context.Context) error             { return nil }

// TestFindMaxRate: against a backend of 8 slots serving 200 ms each
// (40 requests/s), the search for the highest rate keeping e2e within
// 260 ms for 90% of requests finds the knee within 10%, and every step
// it tried is reported with its goodput.
func TestFindMaxRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a dozen open-loop steps")
	}
	const slots, service = 8, 200 * time.Millisecond
	knee := float64(slots) / service.Seconds()
	tgt := Target{Model: "queue", Provider: "queue", Upstream: "queue", Client: &queueServer{slots: make(chan struct{}, slots), service: service}}
	o := baseOptions()
	o.Steps, o.Requests, o.Duration, o.Warmup = nil, 48, 3*time.Second, 0
	o.SLO = &SLO{E2E: 260 * time.Millisecond}
	o.FindMaxRate = &MaxRateSearch{Start: 5, Precision: 0.04}
	res, err := Run(context.Background(), []Target{tgt}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.MaxRates) != 1 {
		t.Fatalf("max rates: %+v", res.MaxRates)
	}
	m := res.MaxRates[0]
	t.Logf("knee %.1f/s, found %.1f/s (first failing %.1f/s), tried %+v", knee, m.Rate, m.Failed, m.Tried)
	if math.Abs(m.Rate-knee)/knee > 0.10 {
		t.Errorf("found %.1f/s, want within 10%% of the knee %.1f/s; tried %+v", m.Rate, knee, m.Tried)
	}
	if m.Failed <= m.Rate || m.Goal != 0.9 {
		t.Errorf("search answer %+v", m)
	}
	if len(res.Runs) != len(m.Tried) {
		t.Fatalf("%d runs for %d tries", len(res.Runs), len(m.Tried))
	}
	for i, run := range res.Runs {
		if run.Goodput == nil || run.Rate != m.Tried[i].Rate || run.Goodput.Attainment != m.Tried[i].Attainment {
			t.Errorf("run %d (%s): goodput %+v, tried %+v", i, run.Load(), run.Goodput, m.Tried[i])
		}
	}
	if res.Settings.SLO != "e2e=260ms" {
		t.Errorf("settings echo SLO %q", res.Settings.SLO)
	}
}

func TestFindMaxRateNeedsSLO(t *testing.T) {
	o := baseOptions()
	o.FindMaxRate = &MaxRateSearch{}
	if _, err := Run(context.Background(), []Target{{Model: "m"}}, o); err == nil || !strings.Contains(err.Error(), "needs an SLO") {
		t.Errorf("a search without an SLO: %v", err)
	}
}
