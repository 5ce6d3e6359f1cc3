// Package memtrim gives the memory a burst of requests used back to the
// operating system once the burst is over. Go frees it only after the next
// garbage collection, which an idle process may not run for two minutes,
// and then returns it gradually: a gateway that served 1,000 streams held
// its peak RSS long after they ended. A Trimmer counts the requests in
// flight; when they have fallen to an eighth of the peak and stayed there
// for a while, it trims once (Trim: debug.FreeOSMemory, and the
// executable's pages the burst touched are unmapped again). Trim is also
// what the gateway runs once start-up is done. SetLimit gives the Go
// runtime a soft memory limit under a container's. It imports only the
// standard library.
package memtrim

import (
	"net/http"
	"sync"
	"time"
)

// Trimmer watches requests in flight (see Wrap).
type Trimmer struct {
	// Idle is how long in-flight requests must stay low before a trim
	// (default one second); MinPeak is the smallest peak worth a trim
	// (default 64 requests in flight).
	Idle    time.Duration
	MinPeak int
	// Free returns memory to the OS (default Trim);
	// AfterFunc schedules (default time.AfterFunc). Tests replace them.
	Free      func()
	AfterFunc func(time.Duration, func()) interface{ Stop() bool }

	mu       sync.Mutex
	inFlight int
	peak     int // highest in flight since the last trim
	timer    interface{ Stop() bool }
}

// Wrap counts h's requests in flight.
func (t *Trimmer) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Begin()
		defer t.End()
		h.ServeHTTP(w, r)
	})
}

// Begin notes a request starting.
func (t *Trimmer) Begin() {
	t.mu.Lock()
	t.inFlight++
	t.peak = max(t.peak, t.inFlight)
	if t.timer != nil && !t.low() {
		t.timer.Stop()
		t.timer = nil
	}
	t.mu.Unlock()
}

// End notes a request ending.
func (t *Trimmer) End() {
	t.mu.Lock()
	t.inFlight--
	if t.timer == nil && t.peak >= t.minPeak() && t.low() {
		t.timer = t.after(t.idle(), t.fire)
	}
	t.mu.Unlock()
}

func (t *Trimmer) fire() {
	t.mu.Lock()
	if t.timer == nil { // stopped after it had fired
		t.mu.Unlock()
		return
	}
	t.timer = nil
	if !t.low() {
		t.mu.Unlock()
		return
	}
	t.peak = t.inFlight
	t.mu.Unlock()
	if t.Free != nil {
		t.Free()
	} else {
		Trim()
	}
}

func (t *Trimmer) low() bool { return t.inFlight*8 <= t.peak }

func (t *Trimmer) idle() time.Duration {
	if t.Idle > 0 {
		return t.Idle
	}
	return time.Second
}

func (t *Trimmer) minPeak() int {
	if t.MinPeak > 0 {
		return t.MinPeak
	}
	return 64
}

func (t *Trimmer) after(d time.Duration, f func()) interface{ Stop() bool } {
	if t.AfterFunc != nil {
		return t.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}
