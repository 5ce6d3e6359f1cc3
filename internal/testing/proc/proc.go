// Package proc stops the server processes tests start (the gateway,
// Prometheus): ask with a signal, wait a grace period, then kill. It is
// the one copy of that helper the tests share; it is test infrastructure
// and imports only the standard library.
package proc

import (
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
