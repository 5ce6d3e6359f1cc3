package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitUp(t *testing.T, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get("http://" + addr + "/healthz"); err == nil {
			r.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("gateway did not start")
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
			cfg := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(cfg, []byte("server:\n  shutdown_grace: "+tc.grace+"\n  drain_delay: "+drain.String()+"\nproviders:\n  openai:\n    type: openai\n    base_url: "+emu.URL+"\n    api_key_env: OPENAI_API_KEY\nmodels:\n  - {id: m, provider: openai, upstream: m, openness: proprietary, deployment: saas, tasks: [chat]}\n"), 0o644)
			addr := freeAddr(t)
			cmd := exec.Command(bin, "-config", cfg, "-addr", addr)
			cmd.Env = append(os.Environ(), "OPENAI_API_KEY=k")
			var logs strings.Builder
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
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
