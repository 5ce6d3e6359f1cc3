package dashboard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/freeport"
	"github.com/tiergate/tiergate/internal/testing/proc"
	"github.com/tiergate/tiergate/internal/testing/promtest"
)

// realGateway builds and starts cmd/gateway on loopback in front of
// provider emulators (OpenAI, Anthropic, Ollama and a failing
// OpenAI-compatible one whose model falls back to gpt-4o), loads a tiers
// file, and drives a mix of traffic at it until the test ends: streamed
// and unary chat, embeddings, policy-routed requests, failures that fall
// back and open a breaker, under two gateway keys (one with a budget,
// one whose rpm refuses most of its requests). It returns the gateway's
// host:port.
func realGateway(t *testing.T) string {
	t.Helper()
	root := promtest.RepoRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gateway")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, out)
	}
	oai := openaiemu.New(openaiemu.Options{APIKey: "sk-oai", ChunkGap: 2 * time.Millisecond})
	flaky := openaiemu.New(openaiemu.Options{APIKey: "sk-flaky", Fault: openaiemu.Fault{Status: 500, Message: "upstream exploded"}})
	anth := anthropicemu.New(anthropicemu.Options{APIKey: "sk-ant", ChunkGap: 2 * time.Millisecond})
	oll := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b"}, ChunkGap: 2 * time.Millisecond})
	team, err := keys.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tight, err := keys.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	cfg := `server: {shutdown_grace: 2s, data_dir: "` + filepath.Join(dir, "data") + `"}
auth:
  keys:
    - {name: team, key: "${TEAM_KEY}", policy: {budget: {usd: 50, period: month}}}
    - {name: tight, key: "${TIGHT_KEY}", policy: {rpm: 1}}
router:
  breaker: {window: 10s, min_requests: 3, error_ratio: 0.5, open_for: 3s}
profiles:
  auto: {weights: {quality: 1, speed: 1, price: 0.5}}
tiers:
  rules:
    - {tier: ultra-fast, max_ttft: 400ms, min_tokens_per_s: 250}
    - {tier: fast, max_ttft: 1s, min_tokens_per_s: 50}
    - {tier: moderate, max_ttft: 3s, min_tokens_per_s: 15}
providers:
  openai: {type: openai, base_url: "` + oai.URL + `", api_key_env: OPENAI_API_KEY}
  flaky: {type: openai, base_url: "` + flaky.URL + `", api_key_env: FLAKY_API_KEY}
  anthropic: {type: anthropic, base_url: "` + anth.URL + `", api_key_env: ANTHROPIC_API_KEY}
  ollama: {type: ollama, base_url: "` + oll.URL + `", discover: true, probe: {interval: 1s, max_tokens: 4}}
models:
  - {id: gpt-4o, provider: openai, upstream: gpt-4o, openness: proprietary, deployment: saas, tasks: [chat, vision, tools], context_window: 128000, quality: 85, tier_prior: fast,
     price: {input: 2.5, output: 10, source: test, as_of: "2026-11-28"}}
  - {id: text-embedding-3-small, provider: openai, upstream: text-embedding-3-small, openness: proprietary, deployment: saas, tasks: [embeddings],
     price: {input: 0.02, output: 0, source: test, as_of: "2026-11-28"}}
  - {id: claude-haiku-4-5, provider: anthropic, upstream: claude-haiku-4-5, openness: proprietary, deployment: saas, tasks: [chat], quality: 85, tier_prior: fast,
     price: {input: 1, output: 5, source: test, as_of: "2026-11-28"}}
  - {id: llama3-8b, provider: ollama, upstream: "llama3:8b", openness: open-weight, deployment: local, tasks: [chat], quality: 55, tier_prior: fast}
  - {id: flaky-model, provider: flaky, upstream: flaky, openness: proprietary, deployment: saas, tasks: [chat], quality: 50, fallbacks: [gpt-4o]}
`
	cfgPath := filepath.Join(dir, "tiergate.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	tiersPath := filepath.Join(dir, "tiers.json")
	os.WriteFile(tiersPath, []byte(`{"version":1,"generated_at":"2026-11-28T12:00:00Z","generator":"test","tiers":[
		{"model":"gpt-4o","provider":"openai","upstream":"gpt-4o","tier":"fast","ttft_p50_ms":420,"output_tokens_per_s_p50":85,"requests":10,"measured_at":"2026-11-28T11:59:00Z"}]}`), 0o644)
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgPath, "-addr", addr, "-tiers", tiersPath, "-log-level", "error")
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-oai", "FLAKY_API_KEY=sk-flaky", "ANTHROPIC_API_KEY=sk-ant", "TEAM_KEY="+team, "TIGHT_KEY="+tight)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := proc.Wait(cmd)
	if err := proc.Ready("http://"+addr+"/readyz", exited, 20*time.Second); err != nil {
		if !errors.Is(err, proc.ErrExited) {
			proc.Stop(cmd, exited, os.Kill, time.Second)
		}
		t.Fatalf("gateway not ready: %v\n%s", err, logs.String())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	post := func(path, body string, key ...string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		secret := team
		if len(key) > 0 {
			secret = key[0]
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			post("/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there"}]}`)
			post("/v1/chat/completions", `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hello"}]}`)
			post("/v1/chat/completions", `{"model":"llama3-8b","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
			post("/v1/chat/completions", `{"model":"auto","stream":true,"messages":[{"role":"user","content":"a question"}]}`)
			post("/v1/embeddings", `{"model":"text-embedding-3-small","input":["a","b"]}`)
			if i%3 == 0 {
				post("/v1/chat/completions", `{"model":"flaky-model","messages":[{"role":"user","content":"hello"}]}`)
			}
			// One a minute admitted: the rest count as refused by rpm.
			post("/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`, tight)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		client.CloseIdleConnections()
		proc.Stop(cmd, exited, os.Interrupt, 10*time.Second)
		oai.Close()
		flaky.Close()
		anth.Close()
		oll.Close()
	})
	return addr
}
