//go:build linux

package ollamatest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestStopKillsStubbornServerAndChildren checks that cleanup cannot hang on
// a server that ignores SIGTERM, and that the runner processes it started
// die with it.
func TestStopKillsStubbornServerAndChildren(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-ollama")
	childPID := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\ntrap '' TERM\nsleep 300 &\necho $! > " + childPID + "\nwait\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(bin, dir, filepath.Join(dir, "serve.log"), os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(childPID); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			p.stop(0)
			t.Fatal("fake server never started its child")
		}
	}
	err = p.stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("stop = %v, want a report that SIGTERM was ignored and the server was killed", err)
	}
	select {
	case <-p.exited:
	default:
		t.Fatal("stop returned before the server exited")
	}
	for deadline := time.Now().Add(5 * time.Second); alive(child); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the server survived", child)
		}
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{"exits on SIGTERM", "#!/bin/sh\nexec sleep 300\n"},
		{"already exited", "#!/bin/sh\nexit 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "fake-ollama")
			if err := os.WriteFile(bin, []byte(tc.script), 0o755); err != nil {
				t.Fatal(err)
			}
			p, err := startProcess(bin, dir, filepath.Join(dir, "serve.log"), os.Environ())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.stop(time.Minute); err != nil {
				t.Errorf("stop = %v, want nil", err)
			}
			select {
			case <-p.exited:
			default:
				t.Fatal("stop returned before the process exited")
			}
		})
	}
}
