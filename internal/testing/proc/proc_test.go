package proc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestReady: Ready waits through refusals for a 200, reports a process
// that exits first as ErrExited (with its exit error), and gives up at
// the timeout.
func TestReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := Ready(srv.URL, (<-chan error)(nil), 10*time.Second); err != nil || calls.Load() != 3 {
		t.Fatalf("Ready = %v after %d calls, want nil after 3", err, calls.Load())
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	exited := make(chan error, 1)
	exited <- errors.New("exit status 3")
	if err := Ready(down.URL, exited, 10*time.Second); !errors.Is(err, ErrExited) || err.Error() != "exited before answering: exit status 3" {
		t.Errorf("Ready with an exited process = %v", err)
	}
	closed := make(chan struct{})
	close(closed)
	if err := Ready(down.URL, closed, 10*time.Second); err != ErrExited {
		t.Errorf("Ready with a closed exited = %v, want ErrExited", err)
	}
	if err := Ready(down.URL, (<-chan error)(nil), 200*time.Millisecond); err == nil || errors.Is(err, ErrExited) {
		t.Errorf("Ready against a server that never says 200 = %v, want a timeout", err)
	}
}
