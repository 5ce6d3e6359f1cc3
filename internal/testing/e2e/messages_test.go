package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/ollamatest"
)

// messagesClient runs node/messages.mjs (the official @anthropic-ai/sdk)
// against the gateway at base (its /v1 URL, as gatewayFor gives it) and
// fails for each of the comma-separated checks it did not report.
func messagesClient(t *testing.T, base, checks string, env map[string]string) map[string]any {
	t.Helper()
	env["ANTHROPIC_BASE_URL"], env["CHECKS"] = strings.TrimSuffix(base, "/v1"), checks
	seen := runScript(t, "messages.mjs", base, env)
	for _, k := range strings.Split(checks, ",") {
		if seen[k] == nil {
			t.Errorf("messages.mjs did not report %s: %v", k, seen)
		}
	}
	return seen
}

// TestMessagesNodeClient: Anthropic's official client, with the model
// names Claude Code sends, through /v1/messages to each kind of backend:
// passed through to Anthropic, translated for OpenAI, Gemini and Ollama.
func TestMessagesNodeClient(t *testing.T) {
	const (
		openaiKey    = "sk-test-upstream-key-1234"
		anthropicKey = "sk-ant-test-key-0123456789"
		geminiKey    = "AIzaSy-test-key-0123456789"
	)
	all := "create,stream,tools,thinking,count,errors"
	t.Run("anthropic", func(t *testing.T) {
		emu := anthropicemu.New(anthropicemu.Options{APIKey: anthropicKey, ChunkGap: time.Millisecond})
		defer emu.Close()
		base := gatewayFor(t, map[string]string{"ANTHROPIC_API_KEY": anthropicKey, "ANTHROPIC_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama})
		messagesClient(t, base, all, map[string]string{"MODEL": "claude-haiku-4-5-20251001",
			"EXPECT_CONTENT": anthropicemu.DefaultReply, "EXPECT_TOOL_ARGS": anthropicemu.DefaultToolArgs, "EXPECT_THINKING": anthropicemu.Thinking})
		for _, r := range emu.Requests() {
			var b struct{ Model string }
			json.Unmarshal(r.Body, &b)
			if r.Header.Get("anthropic-version") == "" || b.Model != "claude-haiku-4-5" {
				t.Errorf("%s reached Anthropic with model %q, anthropic-version %q", r.Path, b.Model, r.Header.Get("anthropic-version"))
			}
		}
	})
	// The translated backends. A Claude name no backend serves goes
	// where router.aliases sends it: auto.
	for _, tc := range []struct {
		name, model string
		start       func() (env map[string]string, stop func())
	}{
		{"openai", "claude-sonnet-4-5-20250929", func() (map[string]string, func()) {
			emu := openaiemu.New(openaiemu.Options{APIKey: openaiKey, ChunkGap: time.Millisecond})
			return map[string]string{"OPENAI_API_KEY": openaiKey, "OPENAI_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama}, emu.Close
		}},
		{"gemini", "gemini-2.5-flash", func() (map[string]string, func()) {
			emu := geminiemu.New(geminiemu.Options{APIKey: geminiKey, ChunkGap: time.Millisecond})
			return map[string]string{"GEMINI_API_KEY": geminiKey, "GEMINI_BASE_URL": emu.URL, "OLLAMA_HOST": noOllama}, emu.Close
		}},
		{"ollama", "mistral-7b", func() (map[string]string, func()) {
			emu := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b", "mistral:7b"}, ChunkGap: time.Millisecond})
			return map[string]string{"OLLAMA_HOST": emu.URL}, emu.Close
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, stop := tc.start()
			defer stop()
			messagesClient(t, gatewayFor(t, env), all, map[string]string{"MODEL": tc.model,
				"EXPECT_CONTENT": emu.DefaultReply, "EXPECT_TOOL_ARGS": emu.DefaultToolArgs})
		})
	}
}

// TestMessagesRealOllama: the official client through /v1/messages to a
// real Ollama serving the tiny generated model (real inference).
func TestMessagesRealOllama(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	base := gatewayFor(t, map[string]string{"OLLAMA_HOST": srv.URL})
	seen := messagesClient(t, base, "create,stream,errors", map[string]string{
		"MODEL": "ollama/" + srv.Model, "MAX_TOKENS": "8", "EXPECT_STOP": "max_tokens"})
	c, _ := seen["create"].(map[string]any)
	if u, _ := c["usage"].(map[string]any); u["output_tokens"] != 8.0 {
		t.Errorf("output_tokens = %v, want Ollama's eval_count of 8", u["output_tokens"])
	}
}
