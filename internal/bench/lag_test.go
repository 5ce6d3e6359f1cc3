package bench

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// TestClientBound: a bench whose reader or sender is slowed (a hook
// delays it: the injected slowness of a client that cannot keep up) marks
// the step client-bound, says which lag, and warns; the same step
// without the delay is not marked.
func TestClientBound(t *testing.T) {
	tgt, _ := emuTarget(t, openaiemu.Options{TTFT: 20 * time.Millisecond, ChunkGap: 10 * time.Millisecond, Reply: "a b c d"})
	sleep := func(d time.Duration) func() { return func() { time.Sleep(d) } }
	for _, tc := range []struct {
		name  string
		hooks *testHooks
		why   string // "" for a step that is not client-bound
	}{
		{"normal", nil, ""},
		{"slow reader", &testHooks{onChunk: sleep(4 * MaxReadLagP99)}, "read lag p99"},
		{"slow sender", &testHooks{beforeSend: sleep(4 * MaxSendLagP99)}, "send lag p99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A loaded machine can make the bench really client-bound
			// for a moment; a normal step is allowed three attempts.
			for attempt := 1; ; attempt++ {
				var logs syncbuf.Buffer
				o := baseOptions()
				o.Steps, o.Requests, o.hooks = []Step{{Rate: 20, Arrival: Constant}}, 6, tc.hooks
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				res, err := Run(context.Background(), []Target{tgt}, o)
				if err != nil {
					t.Fatal(err)
				}
				l := res.Runs[0].ClientLag
				if l == nil || l.SendMs == nil || l.ReadMs == nil || l.SendMs.Count != 6 || l.ReadMs.Count < 6*4 {
					t.Fatalf("lag %+v: want a send lag per request and a read lag per chunk", l)
				}
				t.Logf("attempt %d: send lag p50 %.3f p99 %.3f ms, read lag p50 %.3f p99 %.3f ms, %d warm connections; %s",
					attempt, l.SendMs.P50, l.SendMs.P99, l.ReadMs.P50, l.ReadMs.P99, l.WarmConnections, l.Why)
				warned := strings.Contains(logs.String(), "the bench itself was the bottleneck")
				if tc.why == "" {
					if (l.ClientBound || warned) && attempt < 3 {
						continue
					}
					if l.ClientBound || l.Why != "" || warned {
						t.Errorf("a normal step is marked client-bound (%s); logs:\n%s", l.Why, logs.String())
					}
					return
				}
				if !l.ClientBound || !strings.Contains(l.Why, tc.why) || !warned || !strings.Contains(logs.String(), "rate=20/s constant") {
					t.Errorf("a %s: lag %+v, want client-bound by %q and a warning naming the step; logs:\n%s", tc.name, l, tc.why, logs.String())
				}
				return
			}
		})
	}
}

// TestPrewarm: before a step's clock starts, the bench opens the step's
// concurrency worth of keep-alive connections with cheap requests
// (GET /v1/models), which are not counted.
func TestPrewarm(t *testing.T) {
	tgt, emu := emuTarget(t, openaiemu.Options{Reply: "a b", TTFT: 10 * time.Millisecond})
	o := baseOptions()
	o.Steps, o.Requests = []Step{{Concurrency: 4}}, 8
	res, err := Run(context.Background(), []Target{tgt}, o)
	if err != nil {
		t.Fatal(err)
	}
	run := res.Runs[0]
	if run.Requests.Total != 8 || len(chats(emu)) != 8 {
		t.Fatalf("requests %+v, emulator saw %d chats", run.Requests, len(chats(emu)))
	}
	if run.ClientLag.WarmConnections != 4 {
		t.Errorf("%d warm connections, want 4", run.ClientLag.WarmConnections)
	}
	reqs := emu.Requests()
	if len(reqs) < 4 || reqs[0].Method != "GET" || reqs[0].Path != "/v1/models" || reqs[len(reqs)-1].Path != "/v1/chat/completions" {
		t.Errorf("the step was not warmed first: %s %s first", reqs[0].Method, reqs[0].Path)
	}
}

// TestClientLagLimits: the limits are the larger of a floor and a tenth
// of the figure a lag bends, so a few milliseconds against a slow
// backend's 275 ms gaps are not a bottleneck, and the reason says which
// limit was passed.
func TestClientLagLimits(t *testing.T) {
	recs := func(send, read time.Duration) []Record {
		return []Record{{Start: time.Now(), sendLag: send, readLag: []time.Duration{read}}}
	}
	for _, tc := range []struct {
		name       string
		send, read time.Duration
		step       Step
		itl, ttft  float64
		why        string
	}{
		{"slow backend, a few ms", time.Millisecond, 6 * time.Millisecond, Step{Concurrency: 4}, 275, 700, ""},
		{"slow backend, 30 ms", time.Millisecond, 30 * time.Millisecond, Step{Concurrency: 4}, 275, 700, "read lag p99 30 ms > 27.5 ms, 10% of the ITL median"},
		{"fast backend, 6 ms", time.Millisecond, 6 * time.Millisecond, Step{Concurrency: 4}, 5, 50, "read lag p99 6 ms > 5 ms"},
		{"rate 1/s, 50 ms late", 50 * time.Millisecond, 0, Step{Rate: 1}, 20, 100, ""},
		{"rate 50/s, 15 ms late", 15 * time.Millisecond, 0, Step{Rate: 50}, 20, 100, "send lag p99 15 ms > 10 ms"},
		{"closed loop, 80 ms late", 80 * time.Millisecond, 0, Step{Concurrency: 1}, 20, 600, "send lag p99 80 ms > 60 ms, 10% of the TTFT median"},
	} {
		l := clientLag(recs(tc.send, tc.read), 1, tc.step, tc.itl, tc.ttft)
		if l.ClientBound != (tc.why != "") || l.Why != tc.why {
			t.Errorf("%s: client-bound %v %q, want %q", tc.name, l.ClientBound, l.Why, tc.why)
		}
	}
}
