// Package proc waits for the server processes tests start (the gateway,
// Prometheus, Ollama) to answer, and stops them: ask with a signal, wait
// a grace period, then kill. It is the one copy of those helpers the
// tests share; it is test infrastructure and imports only the standard
// library.
package proc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// Wait runs cmd.Wait in a goroutine; the channel receives its result
// once, when the process has exited. cmd must have been started.
func Wait(cmd *exec.Cmd) <-chan error {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited
}

// Stop sends sig to cmd's process and waits for exited (from Wait, not
// yet received from) for up to grace; then kills the process and waits
// for it to exit.
func Stop(cmd *exec.Cmd, exited <-chan error, sig os.Signal, grace time.Duration) {
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// ErrExited is Ready's error when the process ended before it answered.
var ErrExited = errors.New("exited before answering")

// Ready polls GET url every 50 ms until it answers 200 OK. It fails with
// ErrExited (wrapping the exit error, when exited carries one) when
// exited delivers first: the process ended, and a result from Wait is
// then consumed, so do not Stop it. A nil exited never delivers. It
// fails with the last failure when timeout passes.
func Ready[E any](url string, exited <-chan E, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case v := <-exited:
			if werr, ok := any(v).(error); ok && werr != nil {
				return fmt.Errorf("%w: %v", ErrExited, werr)
			}
			return ErrExited
		case <-deadline.C:
			return fmt.Errorf("no answer within %v (last: %v)", timeout, err)
		case <-tick.C:
		}
	}
}
