package bench

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// BenchmarkStreams256 checks that bench sustains 256 concurrent streams
// on this machine: 256 closed-loop workers, two rounds each, against an
// emulator with a 500 ms TTFT and 50 ms between 20 chunks (about 3,500
// chunks/s in all). It reports how far the measured TTFT and ITL medians
// are from the truth, and the CPU the process used (bench and emulator
// together). It is a benchmark, not a test: run it on a quiet machine,
// without -race:
//
//	go test -run '^$' -bench Streams256 -benchtime 1x ./internal/bench/
func BenchmarkStreams256(b *testing.B) {
	const (
		ttft = 500 * time.Millisecond
		gap  = 50 * time.Millisecond
		c    = 256
	)
	reply := strings.TrimSpace(strings.Repeat("word ", 20))
	for _, ramp := range []time.Duration{0, ttft + 19*gap} {
		b.Run("ramp="+ramp.String(), func(b *testing.B) {
			tgt, _ := emuTarget(b, openaiemu.Options{TTFT: ttft, ChunkGap: gap, Reply: reply})
			for range b.N {
				var before, after syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				began := time.Now()
				res, err := Run(context.Background(), []Target{tgt}, Options{Steps: []Step{{Concurrency: c}}, Requests: 2 * c,
					Timeout: time.Minute, MaxTokens: 64, PromptTokens: 64, Seed: 1, Warmup: 1, RampUp: ramp})
				if err != nil {
					b.Fatal(err)
				}
				wall := time.Since(began)
				syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
				run := res.Runs[0]
				if run.Requests.Failed > 0 {
					b.Errorf("%d of %d failed: %+v", run.Requests.Failed, run.Requests.Total, run.Errors)
				}
				b.ReportMetric(float64(run.Requests.Succeeded), "ok")
				b.ReportMetric(run.TTFT.P50-msOf(ttft), "ttft_p50_err_ms")
				b.ReportMetric(run.TTFT.P99-msOf(ttft), "ttft_p99_err_ms")
				b.ReportMetric(run.ITL.P50-msOf(gap), "itl_p50_err_ms")
				b.ReportMetric(run.ITL.P99-msOf(gap), "itl_p99_err_ms")
				b.ReportMetric(run.Throughput.OutputTokensPerS, "chunks/s")
				b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu_cores")
			}
		})
	}
}
