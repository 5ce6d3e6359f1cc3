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
