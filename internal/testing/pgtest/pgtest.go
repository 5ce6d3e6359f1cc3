// Package pgtest runs a real PostgreSQL server (Debian's, under
// /usr/lib/postgresql/*/bin; scripts/ensure-postgres.sh installs it when
// it is missing) for a test: initdb into a fresh temporary directory, the
// server on a free loopback port with its socket in that directory, trust
// authentication for the loopback only, stopped and removed when the test
// ends. Restart stops it and starts it again on the same data and port,
// for the tests of what happens while the store is away.
//
// Postgres refuses to run as root: as root the server runs as the
// unprivileged user nobody (its process credentials set at exec, as
// runuser would), in a directory that user owns. A missing Postgres fails
// the test: nothing here skips.
//
// It is test support only (it imports testing); it must not import the
// gateway, the keys or app.
package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
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

// RunAs is the user the server runs as when the tests run as root.
const RunAs = "nobody"

// BinDir returns the directory of initdb, postgres and pg_isready: the
// newest /usr/lib/postgresql/<version>/bin, after running
// scripts/ensure-postgres.sh when there is none.
func BinDir(t testing.TB) string {
	t.Helper()
	if d := newestBin(); d != "" {
		return d
	}
	script := filepath.Join(promtest.RepoRoot(t), "scripts", "ensure-postgres.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("no PostgreSQL server, and %s failed: %v\n%s", script, err, stderr.String())
	}
	d := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
		t.Fatalf("%s printed %q, which has no postgres: %v", script, d, err)
	}
	return d
}

func newestBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Server is a running (or stopped) PostgreSQL.
type Server struct {
	// Port is its loopback TCP port; URL reaches its postgres database
	// as the superuser postgres (no password: trust on loopback).
	Port int
	URL  string

	t    testing.TB
	bin  string
	dir  string // owned by the server's user: data/, the socket
	cred *syscall.Credential
	log  *syncbuf.Buffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited <-chan error
	dbs    int // databases NewDatabase made
}

// Start runs initdb and starts a server for t (retrying on another port
// when the one it picked was taken meanwhile); it is stopped and its
// directory removed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: BinDir(t), log: &syncbuf.Buffer{}}
	// Not t.TempDir: its parent is the test's own 0700 directory, which
	// the unprivileged user could not enter.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup(RunAs)
		if err != nil {
			t.Fatalf("postgres refuses to run as root, and there is no user %s to run it as: %v", RunAs, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	initdb := s.command(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions")
	var out bytes.Buffer
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := initdb.Run(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out.String())
	}
	var lastErr error
	for range 5 {
		addr, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		_, ps, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(ps)
		s.Port = port
		s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(func() {
				s.Stop()
				if t.Failed() {
					t.Logf("postgres log:\n%s", s.log.String())
				}
			})
			return s
		}
	}
	t.Fatalf("postgres did not start: %v", lastErr)
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// command runs name as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) start() error {
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", s.data(),
		"-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := proc.Wait(cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("postgres exited: %v\n%s", err, s.log.String())
		default:
		}
		ready := s.command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", "postgres", "-t", "1")
		if ready.Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			proc.Stop(cmd, exited, syscall.SIGKILL, 5*time.Second)
			return fmt.Errorf("postgres on port %d was not ready in 30s\n%s", s.Port, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// Stop shuts the server down as an operator's restart does (SIGINT,
// Postgres's fast shutdown: open transactions are rolled back, clients
// disconnected, what was committed kept), killing it after 15s. Stopping
// a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	s.mu.Unlock()
	if cmd != nil {
		proc.Stop(cmd, exited, syscall.SIGINT, 15*time.Second)
	}
}

// Restart stops the server (if it runs) and starts it again on the same
// data directory and port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Start starts a stopped server again on the same data and port.
func (s *Server) Start() {
	s.t.Helper()
	var err error
	for range 20 { // the port may linger a moment after the stop
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("postgres did not start again on port %d: %v", s.Port, err)
}

// NewDatabase creates an empty database on the server (createdb) and
// returns its URL: one server, a database per case.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("db%d", s.dbs)
	s.mu.Unlock()
	cmd := s.command(filepath.Join(s.bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres", name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createdb %s: %v\n%s", name, err, out)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}
