package router

import (
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

// deadline is how long an attempt on b waits for its first byte (a
// stream: its first content) before it is given up: TTFTMultiple times
// what b has shown — its successful unary answers' average for a unary
// call, else its live or measured TTFT, else its tier's typical latency —
// at least TTFTFloor (UnaryFloor for a unary call, whose first byte
// comes with the whole answer), never above TTFTTimeout. It reads only b's live
// value, so it may be called with b.mu held. A local model (Ollama)
// gets ttft_timeout: loading it is not a hang.
func (b *backend) deadline(cfg *config.Router, stream bool) time.Duration {
	if b.model.Deployment == catalog.Local {
		// A local server loads a model on its first request after an
		// idle spell, which takes far longer than its TTFT once loaded.
		return cfg.TTFTTimeout
	}
	l := b.live.Load()
	shown := l.ttft
	if !stream && l.unary > 0 {
		shown = l.unary
	}
	if shown <= 0 {
		shown = time.Duration(l.prior)
	}
	floor := cfg.TTFTFloor
	if !stream {
		floor = cfg.UnaryFloor
	}
	d := time.Duration(cfg.TTFTMultiple * float64(shown))
	return min(max(d, floor), cfg.TTFTTimeout)
}

// observeUnary updates the average of successful unary answers, peak
// sensitive as the latency average is: a longer answer raises it at
// once, so a backend that has shown long answers is given long enough.
// b.mu must be held.
func (b *backend) observeUnary(l time.Duration, now time.Time, cfg *config.Router) {
	if l <= 0 {
		return
	}
	if s := float64(l); s > b.unary {
		b.unary = s
	} else {
		b.unary += 0.3 * (s - b.unary)
	}
}

// release hands back a half-open trial (the model's and the provider's)
// whose client went away: the trial decided nothing.
func (b *backend) release() {
	b.mu.Lock()
	if b.state == HalfOpen {
		b.trialOut = false
	}
	b.mu.Unlock()
	b.ph.release()
}

// FirstByteDeadline is how long this attempt waits for its first byte
// (a stream: its first content) before the gateway gives it up and
// fails over: adaptive (see backend.deadline) while other candidates
// are left, the full ttft_timeout for the last one. It also tells the
// attempt whether it is a stream, for what Done learns.
func (a *Attempt) FirstByteDeadline(stream, last bool) time.Duration {
	a.stream = stream
	if a.b == nil || last {
		return a.r.cfg.TTFTTimeout
	}
	return a.b.deadline(&a.r.cfg, stream)
}
