package memtrim

import (
	"testing"
	"time"
)

type fakeTimer struct {
	f       func()
	stopped bool
}

func (f *fakeTimer) Stop() bool { f.stopped = true; return true }

// TestTrimmer drives a Trimmer through bursts with a fake clock: it must
// free memory once after a burst has ended, never while one goes on, and
// not after traffic too light to matter.
func TestTrimmer(t *testing.T) {
	tests := []struct {
		name  string
		steps string // '+' a request begins, '-' one ends, 'f' the pending timer fires
		frees int
	}{
		{"burst then quiet", "++++----f", 1},
		{"light traffic never trims", "+-+-+-", 0},
		{"burst that resumes before the timer", "++++----++++f----f", 1},
		{"a fall to an eighth counts as over", "++++++++++++++++-------------- f", 1},
		{"two bursts, two trims", "++++----f++++----f", 2},
		{"fired timer after new burst began does nothing", "++++----+++++f", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var timers []*fakeTimer
			frees := 0
			tr := &Trimmer{MinPeak: 4, Free: func() { frees++ },
				AfterFunc: func(d time.Duration, f func()) interface{ Stop() bool } {
					ft := &fakeTimer{f: f}
					timers = append(timers, ft)
					return ft
				}}
			for _, c := range tt.steps {
				switch c {
				case '+':
					tr.Begin()
				case '-':
					tr.End()
				case 'f':
					if len(timers) > 0 {
						ft := timers[len(timers)-1]
						if !ft.stopped {
							ft.f()
						}
					}
				}
			}
			if frees != tt.frees {
				t.Fatalf("frees = %d, want %d", frees, tt.frees)
			}
		})
	}
}
