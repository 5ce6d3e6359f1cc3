package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/configs"
	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/leak"
	"github.com/tiergate/tiergate/internal/testing/ollamatest"
)

func TestMain(m *testing.M) {
	leak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var npmOnce sync.Once
var npmErr error

// nodeClient makes sure the pinned openai package is installed (npm ci
// from the lock file) and returns the script's directory.
func nodeClient(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("node")
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = err
			t.Logf("npm ci: %s", out)
		}
	})
	if npmErr != nil {
		t.Fatalf("cannot install the openai npm package: %v", npmErr)
	}
	return dir
}

// startGateway starts a gateway on the embedded default config with env,
// which edit, when set, changes first.
func startGateway(t *testing.T, env map[string]string, edit func(*config.Config)) *apptest.Gateway {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(configs.DefaultName, configs.Default(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	return apptest.Start(t, cfg, app.Options{Getenv: getenv})
}

// gatewayFor starts a gateway on the embedded default config with env
// and returns its base URL.
func gatewayFor(t *testing.T, env map[string]string) string {
	t.Helper()
	return startGateway(t, env, nil).URL + "/v1"
}

// upstreamKey, anthropicKey and geminiKey are the emulators' keys.
const (
	upstreamKey  = "sk-test-upstream-key-1234"
	anthropicKey = "sk-ant-test-key-0123456789"
	geminiKey    = "AIzaSy-test-key-0123456789"
)

// withOpenAI starts an OpenAI emulator (o with upstreamKey) and returns
// the env that points the default config at it (and Ollama nowhere).
func withOpenAI(t *testing.T, o openaiemu.Options) (*openaiemu.Server, map[string]string) {
	o.APIKey = upstreamKey
	emu := openaiemu.New(o)
	t.Cleanup(emu.Close)
	return emu, map[string]string{"OPENAI_API_KEY": upstreamKey, "OPENAI_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama}
}

// withAnthropic starts an Anthropic emulator and a gateway on the default
// config pointed at it; it returns the gateway's base URL.
func withAnthropic(t *testing.T) (*anthropicemu.Server, string) {
	emu := anthropicemu.New(anthropicemu.Options{APIKey: anthropicKey, ChunkGap: time.Millisecond})
	t.Cleanup(emu.Close)
	return emu, gatewayFor(t, map[string]string{"ANTHROPIC_API_KEY": anthropicKey, "ANTHROPIC_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama})
}

// withGemini is withAnthropic for Gemini.
func withGemini(t *testing.T) (*geminiemu.Server, string) {
	emu := geminiemu.New(geminiemu.Options{APIKey: geminiKey, ChunkGap: time.Millisecond})
	t.Cleanup(emu.Close)
	return emu, gatewayFor(t, map[string]string{"GEMINI_API_KEY": geminiKey, "GEMINI_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama})
}

// runScript runs the node script (in node/) against the gateway at base
// with env and returns the JSON line it printed.
func runScript(t *testing.T, script, base string, env map[string]string) map[string]any {
	t.Helper()
	dir := nodeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+base, "OPENAI_API_KEY=client-side-key-is-ignored")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client failed: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var seen map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &seen); err != nil {
		t.Fatalf("node output: %v: %s", err, stdout.String())
	}
	return seen
}

// runChecks runs the node script's checks (comma-separated, as CHECKS)
// with env, fails for each one it did not report and returns what it
// printed.
func runChecks(t *testing.T, script, base, checks string, env map[string]string) map[string]any {
	t.Helper()
	env["CHECKS"] = checks
	seen := runScript(t, script, base, env)
	for _, k := range strings.Split(checks, ",") {
		if seen[k] == nil {
			t.Errorf("node client did not report %s: %v", k, seen)
		}
	}
	return seen
}

// noOllama points the default Ollama provider at a closed port so tests
// never pick up a server running on the developer's machine.
const noOllama = "127.0.0.1:1"

func TestOpenAINodeClientThroughGateway(t *testing.T) {
	emu, env := withOpenAI(t, openaiemu.Options{ChunkGap: time.Millisecond})
	runChecks(t, "client.mjs", gatewayFor(t, env), "chat,stream,tools,embeddings,errors", map[string]string{
		"CHAT_MODEL": "gpt-4o", "EMBED_MODEL": "text-embedding-3-small",
		"EXPECT_CONTENT":   openaiemu.DefaultReply,
		"EXPECT_TOOL_ARGS": openaiemu.DefaultToolArgs,
	})
	// The upstream saw the catalog's upstream name, the gateway's key (not
	// the client's) and, on streams, a request for usage.
	var sawStream bool
	for _, r := range emu.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+upstreamKey {
			t.Errorf("upstream Authorization = %q", got)
		}
		if r.Path != "/v1/chat/completions" {
			continue
		}
		var b map[string]any
		json.Unmarshal(r.Body, &b)
		if b["model"] != "gpt-4o" {
			t.Errorf("upstream model = %v", b["model"])
		}
		if b["stream"] == true {
			sawStream = true
			so, _ := b["stream_options"].(map[string]any)
			if so["include_usage"] != true {
				t.Errorf("stream without include_usage upstream: %s", r.Body)
			}
		}
	}
	if !sawStream {
		t.Error("no streamed request reached the upstream")
	}
}

func TestOllamaNodeClientThroughGateway(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{
		Models:       []string{"llama3:8b", "nomic-embed-text:latest", "tiny:latest"},
		Capabilities: map[string][]string{"nomic-embed-text:latest": {"embedding"}, "tiny:latest": {"completion"}},
		ChunkGap:     time.Millisecond,
	})
	defer emu.Close()
	base := gatewayFor(t, map[string]string{"OLLAMA_HOST": emu.URL})
	// llama3-8b is in the catalog without the tools task; the discovered
	// "ollama/llama3:8b" spelling maps to the same entry, so use a model
	// whose catalog entry offers tools for the tool check.
	runChecks(t, "client.mjs", base, "chat,stream,embeddings,errors", map[string]string{
		"CHAT_MODEL": "llama3-8b", "EMBED_MODEL": "nomic-embed-text",
		"EXPECT_CONTENT": ollamaemu.DefaultReply,
	})
	// Discovered models join the catalog under provider/name.
	emu.SetOptions(ollamaemu.Options{Models: []string{"llama3:8b", "mistral:7b"}, ChunkGap: time.Millisecond})
	base = gatewayFor(t, map[string]string{"OLLAMA_HOST": emu.URL})
	runChecks(t, "client.mjs", base, "tools", map[string]string{
		"CHAT_MODEL": "mistral-7b", "EXPECT_TOOL_ARGS": ollamaemu.DefaultToolArgs,
	})
}

// TestRealOllamaThroughGateway runs a real Ollama with a tiny generated
// model and drives it through the gateway with the official client: the
// Ollama path end to end, real llama.cpp inference included.
func TestRealOllamaThroughGateway(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	base := gatewayFor(t, map[string]string{"OLLAMA_HOST": srv.URL})
	// Ollama's /api/show gives the tiny model only "completion", so the
	// catalog (rightly) offers it for chat, not embeddings.
	seen := runChecks(t, "client.mjs", base, "chat,stream,errors", map[string]string{
		"CHAT_MODEL": "ollama/" + srv.Model,
		"MAX_TOKENS": "8", "EXPECT_FINISH": "length",
	})
	chat, _ := seen["chat"].(map[string]any)
	usage, _ := chat["usage"].(map[string]any)
	if usage["completion_tokens"] != 8.0 {
		t.Fatalf("completion tokens = %v, want Ollama's eval_count of 8", usage["completion_tokens"])
	}
}

func TestAnthropicNodeClientThroughGateway(t *testing.T) {
	emu, base := withAnthropic(t)
	runChecks(t, "client.mjs", base, "chat,stream,tools,errors", map[string]string{
		"CHAT_MODEL":       "claude-haiku-4-5",
		"EXPECT_CONTENT":   anthropicemu.DefaultReply,
		"EXPECT_TOOL_ARGS": anthropicemu.DefaultToolArgs,
	})
	for _, r := range emu.Requests() {
		if r.Header.Get("anthropic-version") == "" {
			t.Errorf("request without anthropic-version: %v", r.Header)
		}
	}
}

func TestGeminiNodeClientThroughGateway(t *testing.T) {
	emu, base := withGemini(t)
	runChecks(t, "client.mjs", base, "chat,stream,tools,embeddings,errors", map[string]string{
		"CHAT_MODEL":       "gemini-2.5-flash",
		"EMBED_MODEL":      "gemini-embedding-001",
		"EXPECT_CONTENT":   geminiemu.DefaultReply,
		"EXPECT_TOOL_ARGS": geminiemu.DefaultToolArgs,
	})
	for _, r := range emu.Requests() {
		if r.Header.Get("x-goog-api-key") != geminiKey {
			t.Errorf("request without x-goog-api-key: %v", r.Path)
		}
	}
}

// TestGatewayKeysNodeClient: with a gateway key the official client's
// chat and stream work; no key, a wrong key and a revoked key get 401 and
// the client raises AuthenticationError.
func TestGatewayKeysNodeClient(t *testing.T) {
	emu, env := withOpenAI(t, openaiemu.Options{ChunkGap: time.Millisecond})
	gw := startGateway(t, env, nil)
	ctx := context.Background()
	_, good, err := gw.Keys().Create(ctx, "app", keys.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedSecret, err := gw.Keys().Create(ctx, "old-app", keys.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Keys().Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrong, _ := keys.NewSecret()
	bad, _ := json.Marshal([]string{"", wrong, revokedSecret, upstreamKey})
	runChecks(t, "client.mjs", gw.URL+"/v1", "chat,stream,auth", map[string]string{
		"OPENAI_API_KEY": good, "CHAT_MODEL": "gpt-4o", "EXPECT_CONTENT": openaiemu.DefaultReply, "BAD_KEYS": string(bad),
	})
	// Only the authenticated requests reached the upstream: 1 chat, 2 streams.
	if n := len(emu.Requests()); n != 3 {
		t.Errorf("upstream saw %d requests, want 3", n)
	}
}

// TestNodeClientRetryHonoursRetryAfter: a key over its concurrency limit
// gets 429 with Retry-After, and the official client's own retry waits
// that long, then succeeds (the node side asserts the wait).
func TestNodeClientRetryHonoursRetryAfter(t *testing.T) {
	emu, env := withOpenAI(t, openaiemu.Options{TTFT: 1500 * time.Millisecond})
	gw := startGateway(t, env, nil)
	_, secret, err := gw.Keys().Create(context.Background(), "one-at-a-time", keys.Policy{MaxConcurrent: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := runChecks(t, "client.mjs", gw.URL+"/v1", "retry", map[string]string{"OPENAI_API_KEY": secret, "CHAT_MODEL": "gpt-4o"})
	t.Logf("the client saw %v", seen["retry"])
	// Refused attempts never reached the upstream: the two requests did.
	if n := len(emu.Requests()); n != 2 {
		t.Errorf("upstream saw %d requests, want 2 (refusals must not reach it)", n)
	}
}
