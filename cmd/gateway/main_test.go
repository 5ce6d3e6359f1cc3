package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/procmem"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/freeport"
	"github.com/tiergate/tiergate/internal/testing/proc"
)

// build compiles the gateway once per test binary run.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitUp(t *testing.T, addr string) {
	t.Helper()
	if err := proc.Ready("http://"+addr+"/healthz", (<-chan error)(nil), 10*time.Second); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
}

// startGateway writes a config with the given server settings (YAML lines
// under "server:") and one OpenAI model m served by upstream (with the
// key "k", priced 1 and 2 USD per million input and output tokens), and
// starts the binary on a free address. It returns the process (started, perhaps
// not yet listening), its address and its log.
func startGateway(t *testing.T, bin, server, upstream string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("server:\n"+server+"providers:\n  openai:\n    type: openai\n    base_url: "+upstream+"\n    api_key_env: OPENAI_API_KEY\n"+
		"models:\n  - {id: m, provider: openai, upstream: m, openness: proprietary, deployment: saas, tasks: [chat], price: {input: 1, output: 2}}\n"), 0o644)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-config", cfg, "-addr", addr)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=k")
	logs := &strings.Builder{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, addr, logs
}

func TestBadConfigExitsNonZero(t *testing.T) {
	bin := build(t)
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("providers:\n  p:\n    type: openai\n    base_url: http://x\n    colour: red\n"), 0o644)
	out, err := exec.Command(bin, "-config", cfg).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("exit = %v, want non-zero; output %s", err, out)
	}
	for _, want := range []string{cfg, "line 5", `unknown key "colour"`, "valid keys here"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q: %s", want, out)
		}
	}
}

// TestSIGTERMLetsStreamsFinish: after SIGTERM /readyz answers 503 for the
// drain delay while new connections are still accepted (so a load
// balancer sees it), then the gateway stops accepting connections, lets
// the in-flight stream finish, and exits 0; a stream longer than the
// grace period ends with an OpenAI-style error event, not a bare EOF.
func TestSIGTERMLetsStreamsFinish(t *testing.T) {
	bin := build(t)
	emu := openaiemu.New(openaiemu.Options{ChunkGap: 60 * time.Millisecond, Reply: "a b c d e f g h i j k l m n o p q r s t"})
	defer emu.Close()
	const drain = 400 * time.Millisecond
	for _, tc := range []struct {
		name     string
		grace    string
		complete bool
	}{{"within grace", "10s", true}, {"grace runs out", "150ms", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, addr, logs := startGateway(t, bin, "  shutdown_grace: "+tc.grace+"\n  drain_delay: "+drain.String()+"\n", emu.URL)
			waitUp(t, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Scan() // the first event arrived: the stream is in flight
			signalled := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(50 * time.Millisecond)
			// During the drain delay: a new connection is accepted and
			// told the gateway is not ready.
			fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			if r, err := fresh.Get("http://" + addr + "/readyz"); err != nil {
				t.Errorf("during the drain delay a new connection failed: %v", err)
			} else {
				r.Body.Close()
				if r.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("/readyz during the drain delay = %d, want 503", r.StatusCode)
				}
			}
			time.Sleep(time.Until(signalled.Add(drain + 150*time.Millisecond)))
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Error("the gateway still accepts connections after the drain delay")
			}
			done, last := false, ""
			for sc.Scan() {
				if sc.Text() == "data: [DONE]" {
					done = true
				}
				if strings.HasPrefix(sc.Text(), "data: ") {
					last = sc.Text()
				}
			}
			if done != tc.complete {
				t.Errorf("stream completed = %v, want %v", done, tc.complete)
			}
			if !tc.complete && (!strings.Contains(last, `"error"`) || !strings.Contains(last, "shutting down")) {
				t.Errorf("a stream cut at the end of the grace ended with %q, want an error event", last)
			}
			werr := make(chan error, 1)
			go func() { werr <- cmd.Wait() }()
			select {
			case err := <-werr:
				if err != nil {
					t.Errorf("exit: %v\n%s", err, logs.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatal("gateway did not exit after SIGTERM")
			}
		})
	}
}

// rssBytes is a process's resident set size, from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	m, err := procmem.Read(pid)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if m.RSS == 0 {
		t.Fatal("no VmRSS in /proc/pid/status")
	}
	return m.RSS
}

// TestClientsCannotExhaust runs the built gateway against 100 clients that
// declare a 20 MiB body and send a byte a second, then 2000 idle
// keep-alive connections: the slow bodies are answered 408 once
// server.body_read_timeout has passed, idle connections are closed after
// server.idle_timeout, and the process stays well under 100 MB throughout.
func TestClientsCannotExhaust(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2100 loopback connections")
	}
	bin := build(t)
	emu := openaiemu.New(openaiemu.Options{})
	defer emu.Close()
	const bodyTimeout, idleTimeout = 2 * time.Second, time.Second
	cmd, addr, _ := startGateway(t, bin, "  body_read_timeout: "+bodyTimeout.String()+"\n  idle_timeout: "+idleTimeout.String()+"\n  drain_delay: 1ms\n", emu.URL)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitUp(t, addr)
	pid := cmd.Process.Pid
	var peak atomic.Int64
	sample := func() { peak.Store(max(peak.Load(), rssBytes(t, pid))) }
	sample()
	t.Logf("RSS at start: %.1f MB", float64(peak.Load())/1e6)

	// 100 slow bodies.
	const slow = 100
	type result struct {
		status  int
		elapsed time.Duration
		err     error
	}
	results := make(chan result, slow)
	for range slow {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(bodyTimeout + 10*time.Second))
			start := time.Now()
			fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 20<<20)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					if _, err := c.Write([]byte{' '}); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				results <- result{err: err}
				return
			}
			resp.Body.Close()
			results <- result{status: resp.StatusCode, elapsed: time.Since(start)}
		}()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	for got := 0; got < slow; {
		select {
		case r := <-results:
			got++
			switch {
			case r.err != nil:
				t.Errorf("slow client: %v", r.err)
			case r.status != http.StatusRequestTimeout:
				t.Errorf("slow client: status %d, want 408", r.status)
			case r.elapsed > bodyTimeout+3*time.Second:
				t.Errorf("slow client answered after %v (body_read_timeout %v)", r.elapsed, bodyTimeout)
			}
		case <-tick.C:
			sample()
		}
	}
	tick.Stop()
	t.Logf("RSS peak with %d slow 20 MiB bodies: %.1f MB", slow, float64(peak.Load())/1e6)

	// 2000 idle keep-alive connections.
	const idle = 2000
	conns := make([]net.Conn, idle)
	readers := make([]*bufio.Reader, idle)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < idle; i += 20 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					c.Close()
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				conns[i], readers[i] = c, br
			}
		}()
	}
	wg.Wait()
	opened := time.Now()
	sample()
	t.Logf("RSS peak with %d idle keep-alive connections: %.1f MB (%d failed to open)", idle, float64(peak.Load())/1e6, failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d keep-alive connections failed", failed.Load(), idle)
	}
	// Every idle connection is closed by the gateway once idle_timeout
	// has passed (well before 3x it).
	closed := atomic.Int32{}
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < idle; i += 20 {
				if conns[i] == nil {
					continue
				}
				conns[i].SetReadDeadline(opened.Add(3*idleTimeout + time.Second))
				if _, err := readers[i].ReadByte(); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					closed.Add(1)
				}
				conns[i].Close()
			}
		}()
	}
	wg.Wait()
	if n := int(closed.Load()); n != idle-int(failed.Load()) {
		t.Errorf("%d of %d idle connections were closed by the gateway within 3x idle_timeout", n, idle)
	}
	if p := peak.Load(); p >= 100<<20 {
		t.Errorf("RSS peaked at %.1f MB, want under 100 MB", float64(p)/1e6)
	}
}
