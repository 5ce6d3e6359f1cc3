// Package redistest runs a real redis-server (Debian's; scripts/ensure-redis.sh
// installs it when it is missing) for tests: on a free loopback port, in a
// temporary directory, without persistence (no RDB snapshots, no AOF), and
// stops it when the test ends. Kill and Restart take it down and bring it
// back on the same port, for the tests of what happens while the shared
// store is away.
//
// It is test support only (it imports testing); it must not import the
// gateway, the router or an adapter.
package redistest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/freeport"
	"github.com/tiergate/tiergate/internal/testing/proc"
	"github.com/tiergate/tiergate/internal/testing/promtest"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// Binary returns the path of redis-server, running scripts/ensure-redis.sh
// when it is not on PATH. With TIERGATE_SKIP_REDIS=1 the test is skipped
// instead when it is missing.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	script := filepath.Join(promtest.RepoRoot(t), "scripts", "ensure-redis.sh")
	cmd := exec.Command(script)
	if os.Getenv("TIERGATE_SKIP_REDIS") == "1" {
		cmd.Env = append(os.Environ(), "TIERGATE_REDIS_NO_INSTALL=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("TIERGATE_SKIP_REDIS") == "1" {
			t.Skipf("no redis-server and TIERGATE_SKIP_REDIS=1: %s", strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// Server is a running (or killed) redis-server.
type Server struct {
	// Addr is host:port on loopback; URL is redis://Addr/0.
	Addr, URL string

	t   testing.TB
	bin string
	dir string
	log *syncbuf.Buffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited <-chan error
}

// Start starts a redis-server for t (retrying on another port when the
// one it picked was taken meanwhile) and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), log: &syncbuf.Buffer{}}
	var lastErr error
	for range 5 {
		addr, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = addr
		s.URL = "redis://" + s.Addr + "/0"
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(func() {
				s.Kill()
				if t.Failed() {
					t.Logf("redis-server log:\n%s", s.log.String())
				}
			})
			return s
		}
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin,
		"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes",
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := proc.Wait(cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v\n%s", err, s.log.String())
		default:
		}
		if ping(s.Addr) {
			break
		}
		if time.Now().After(deadline) {
			proc.Stop(cmd, exited, syscall.SIGKILL, 5*time.Second)
			return fmt.Errorf("redis-server at %s did not answer PING in 10s\n%s", s.Addr, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// ping says whether a Redis answers PING at addr.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return string(buf[:n]) == "+PONG\r\n"
}

// Kill kills the server at once (SIGKILL: a crash, nothing flushed); its
// data is gone, since it keeps none on disk. Killing a killed server does
// nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	s.mu.Unlock()
	if cmd != nil {
		proc.Stop(cmd, exited, syscall.SIGKILL, 5*time.Second)
	}
}

// Restart starts a killed server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	for range 20 { // the port may linger a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redis-server did not restart on %s: %v", s.Addr, err)
}
