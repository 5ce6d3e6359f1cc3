//go:build unix

package ollamatest

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes the server lead its own process group, so that
// killGroup also reaches the model runners it spawns.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(cmd *exec.Cmd) error {
	return cmd.Process.Signal(syscall.SIGTERM)
}

// killGroup sends SIGKILL to the server's process group (the server and its
// runners). It is called when the server ignored SIGTERM, so the group
// still exists and its id is still the server's pid.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
