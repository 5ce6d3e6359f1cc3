package storebreaker

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := New(3, 2*time.Second)
	steps := []struct {
		name       string
		do         func() bool
		want       bool
		wantClosed bool
	}{
		{"first failure keeps it closed", func() bool { return b.Fail(t0) }, false, true},
		{"a success resets the count", func() bool { return b.Succeed() }, false, true},
		{"failure 1", func() bool { return b.Fail(t0) }, false, true},
		{"failure 2", func() bool { return b.Fail(t0) }, false, true},
		{"failure 3 opens it", func() bool { return b.Fail(t0) }, true, false},
		{"no call during the cool-down", func() bool { return b.Allow(t0.Add(time.Second)) }, false, false},
		{"one trial after it", func() bool { return b.Allow(t0.Add(2 * time.Second)) }, true, false},
		{"only one trial at a time", func() bool { return b.Allow(t0.Add(2 * time.Second)) }, false, false},
		{"an abandoned trial frees the slot", func() bool { b.Abandon(); return b.Allow(t0.Add(2 * time.Second)) }, true, false},
		{"a failed trial opens it again", func() bool { return b.Fail(t0.Add(2 * time.Second)) }, false, false},
		{"for another cool-down", func() bool { return b.Allow(t0.Add(3 * time.Second)) }, false, false},
		{"a passed trial closes it", func() bool { b.Allow(t0.Add(5 * time.Second)); return b.Succeed() }, true, true},
		{"and calls flow", func() bool { return b.Allow(t0.Add(5 * time.Second)) }, true, true},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
		if got := b.Closed(); got != s.wantClosed {
			t.Fatalf("%s: Closed() = %v, want %v", s.name, got, s.wantClosed)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := New(1, 10*time.Second)
	b.Fail(t0)
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{{0, 10 * time.Second}, {3400 * time.Millisecond, 7 * time.Second}, {9900 * time.Millisecond, time.Second}, {time.Minute, time.Second}} {
		if got := b.RetryAfter(t0.Add(c.at)); got != c.want {
			t.Errorf("RetryAfter at +%v = %v, want %v", c.at, got, c.want)
		}
	}
}
