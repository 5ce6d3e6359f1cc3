package bench

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// rateWindow is how far back the live tokens/s looks.
const rateWindow = 3 * time.Second

// rater turns chunk counts into a recent rate.
type rater struct {
	samples []sample
}

type sample struct {
	at     time.Duration
	chunks int64
}

func (r *rater) add(s Snapshot) float64 {
	r.samples = append(r.samples, sample{s.Elapsed, s.Chunks})
	for len(r.samples) > 2 && s.Elapsed-r.samples[1].at >= rateWindow {
		r.samples = r.samples[1:]
	}
	first := r.samples[0]
	dt := (s.Elapsed - first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(s.Chunks-first.chunks) / dt
}

// ticker runs fn every interval from its own goroutine until stop.
type ticker struct {
	stopc chan struct{}
	wg    sync.WaitGroup
}

func startTicker(every time.Duration, fn func()) *ticker {
	t := &ticker{stopc: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-t.stopc:
				return
			case <-tk.C:
				fn()
			}
		}
	}()
	return t
}

func (t *ticker) stop() {
	close(t.stopc)
	t.wg.Wait()
}

func phaseName(p Phase) string {
	if p.Warmup {
		return fmt.Sprintf("%s warm-up", p.Model)
	}
	return fmt.Sprintf("[%d/%d] %s %s", p.N, p.Of, p.Model, p.Step.Label())
}

// LineProgress prints a plain line per phase every interval and when the
// phase ends: for logs and pipes, where a redrawn bar would be noise.
// Each line has the counts, the output tokens/s (total, and per stream
// in flight), the time elapsed and the time left (ETA).
type LineProgress struct {
	w     io.Writer
	every time.Duration
	mu    sync.Mutex
	tk    *ticker
	rate  rater
}

// NewLineProgress writes to w every interval (default 5 s).
func NewLineProgress(w io.Writer, every time.Duration) *LineProgress {
	if every <= 0 {
		every = 5 * time.Second
	}
	return &LineProgress{w: w, every: every}
}

// Begin starts periodic lines for p.
func (l *LineProgress) Begin(p Phase, live *Live) {
	l.rate = rater{samples: []sample{{}}}
	fmt.Fprintf(l.w, "bench: %s: started\n", phaseName(p))
	l.tk = startTicker(l.every, func() {
		s := live.Snapshot()
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Fprintf(l.w, "bench: %s: %s, %s, %s%s\n", phaseName(p), counts(p, s), rates(l.rate.add(s), s), s.Elapsed.Round(100*time.Millisecond), eta(p, s, ", "))
	})
}

// End prints the phase's outcome.
func (l *LineProgress) End(p Phase, run *RunResult) {
	l.tk.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	if run == nil {
		fmt.Fprintf(l.w, "bench: %s: done\n", phaseName(p))
		return
	}
	fmt.Fprintf(l.w, "bench: %s: done: %d ok, %d failed in %.1fs, %s\n", phaseName(p),
		run.Requests.Succeeded, run.Requests.Failed, run.DurationS, doneRates(run))
}

// rates labels the live output rate: the step's total over every
// stream, and what that makes per stream in flight (the per-request
// figure of the results is exact; this one is an estimate).
func rates(total float64, s Snapshot) string {
	if s.InFlight <= 0 {
		return fmt.Sprintf("%.1f tok/s total", total)
	}
	return fmt.Sprintf("%.1f tok/s total (~%.1f per stream)", total, total/float64(s.InFlight))
}

// doneRates labels a finished step's rates: the step's total output
// per second of wall time, and the median request's tokens/s.
func doneRates(run *RunResult) string {
	out := fmt.Sprintf("%.1f output tok/s total", run.Throughput.OutputTokensPerS)
	if run.OutputTokensPerS != nil {
		out += fmt.Sprintf(", %.1f tok/s per request (p50)", run.OutputTokensPerS.P50)
	}
	if l := run.ClientLag; l != nil && l.ClientBound {
		out += "; CLIENT-BOUND: " + l.Why
	}
	return out
}

// remaining estimates the time left in a phase: by the requests done so
// far against those expected, and by the step's duration; the sooner of
// the two. False when there is nothing to go on yet.
func remaining(p Phase, s Snapshot) (time.Duration, bool) {
	left, ok := time.Duration(0), false
	if done := s.Succeeded + s.Failed; p.Total > 0 && done > 0 {
		left, ok = time.Duration(float64(s.Elapsed)*float64(int64(p.Total)-done)/float64(done)), true
	}
	if p.Duration > 0 {
		// In-flight requests finish after the duration: a floor of zero.
		d := max(p.Duration-s.Elapsed, 0)
		if !ok || d < left {
			left, ok = d, true
		}
	}
	return left, ok
}

// eta formats the time left in the phase ("" when unknown), after sep.
func eta(p Phase, s Snapshot, sep string) string {
	left, ok := remaining(p, s)
	if !ok {
		return ""
	}
	return sep + "ETA " + left.Round(time.Second).String()
}

func counts(p Phase, s Snapshot) string {
	done := s.Succeeded + s.Failed
	if p.Total > 0 {
		return fmt.Sprintf("%d/%d done, %d failed, %d in flight", done, p.Total, s.Failed, s.InFlight)
	}
	return fmt.Sprintf("%d done, %d failed, %d in flight", done, s.Failed, s.InFlight)
}

// BarProgress draws a progress bar on a terminal: requests done, errors,
// the current output tokens/s (the step's total, and per stream in
// flight) and the time left in the step (ETA).
type BarProgress struct {
	w    io.Writer
	tk   *ticker
	bar  *progressbar.ProgressBar
	rate rater
	mu   sync.Mutex
}

// NewBarProgress draws on w, which should be a terminal.
func NewBarProgress(w io.Writer) *BarProgress { return &BarProgress{w: w} }

// Begin draws a new bar for p.
func (b *BarProgress) Begin(p Phase, live *Live) {
	b.rate = rater{samples: []sample{{}}}
	max := int64(p.Total)
	if max <= 0 {
		max = -1
	}
	b.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(phaseName(p)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetSpinnerChangeInterval(0), // we redraw ourselves; no goroutine of its own
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
	)
	_ = b.bar.RenderBlank()
	redraw := func() {
		s := live.Snapshot()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.bar.Describe(fmt.Sprintf("%s  %d failed  %s%s", phaseName(p), s.Failed, rates(b.rate.add(s), s), eta(p, s, "  ")))
		_ = b.bar.Set64(s.Succeeded + s.Failed)
	}
	b.tk = startTicker(200*time.Millisecond, redraw)
}

// End draws the phase's final state and leaves it on screen.
func (b *BarProgress) End(p Phase, run *RunResult) {
	b.tk.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if run != nil {
		b.bar.Describe(fmt.Sprintf("%s  %d failed  %s", phaseName(p), run.Requests.Failed, doneRates(run)))
		_ = b.bar.Set64(int64(run.Requests.Total))
	} else if p.Total > 0 {
		_ = b.bar.Set64(int64(p.Total))
	}
	_ = b.bar.Exit()
	fmt.Fprintln(b.w)
}
