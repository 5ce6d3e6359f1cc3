package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/ollamaemu"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/ollamatest"
)

// TestResponsesNodeClientOpenAI: the official client's responses.create,
// its streams and a function-call round trip through an OpenAI backend,
// both ways: passed through to the upstream's own Responses API
// (responses_api, as for api.openai.com), and translated into chat
// completions (an OpenAI-compatible server without it).
func TestResponsesNodeClientOpenAI(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(map[bool]string{true: "pass-through", false: "translated"}[native], func(t *testing.T) {
			emu, env := withOpenAI(t, openaiemu.Options{ChunkGap: time.Millisecond})
			gw := startGateway(t, env, func(cfg *config.Config) {
				if *cfg.Providers["openai"].ResponsesAPI {
					t.Fatal("a loopback OpenAI-compatible server got responses_api by default")
				}
				cfg.Providers["openai"].ResponsesAPI = &native
			})
			runChecks(t, "responses.mjs", gw.URL+"/v1", "create,stream,tools,errors", map[string]string{
				"CHAT_MODEL": "gpt-4o", "EXPECT_CONTENT": openaiemu.DefaultReply, "EXPECT_TOOL_ARGS": openaiemu.DefaultToolArgs,
			})
			want := "/v1/chat/completions"
			if native {
				want = "/v1/responses"
			}
			n := 0
			for _, r := range emu.Requests() {
				if r.Path == "/v1/models" {
					continue
				}
				n++
				if r.Path != want {
					t.Errorf("upstream saw %s, want %s", r.Path, want)
				}
				var b map[string]any
				json.Unmarshal(r.Body, &b)
				if b["model"] != "gpt-4o" {
					t.Errorf("upstream model = %v", b["model"])
				}
				if _, ok := b["input"]; ok != native {
					t.Errorf("upstream body (native %v): %s", native, r.Body)
				}
			}
			if n == 0 {
				t.Error("no request reached the upstream")
			}
		})
	}
}

func TestResponsesNodeClientAnthropic(t *testing.T) {
	emu, base := withAnthropic(t)
	runChecks(t, "responses.mjs", base, "create,stream,tools,errors", map[string]string{
		"CHAT_MODEL": "claude-haiku-4-5", "EXPECT_CONTENT": anthropicemu.DefaultReply, "EXPECT_TOOL_ARGS": anthropicemu.DefaultToolArgs,
	})
	// The round trip's second turn reached Anthropic as tool_use and
	// tool_result blocks.
	sawResult := false
	for _, r := range emu.Requests() {
		sawResult = sawResult || strings.Contains(string(r.Body), `"tool_result"`)
	}
	if !sawResult {
		t.Error("no tool_result reached Anthropic")
	}
}

func TestResponsesNodeClientGemini(t *testing.T) {
	_, base := withGemini(t)
	runChecks(t, "responses.mjs", base, "create,stream,tools,errors", map[string]string{
		"CHAT_MODEL": "gemini-2.5-flash", "EXPECT_CONTENT": geminiemu.DefaultReply, "EXPECT_TOOL_ARGS": geminiemu.DefaultToolArgs,
	})
}

func TestResponsesNodeClientOllama(t *testing.T) {
	emu := ollamaemu.New(ollamaemu.Options{Models: []string{"llama3:8b", "mistral:7b"}, ChunkGap: time.Millisecond})
	defer emu.Close()
	base := gatewayFor(t, map[string]string{"OLLAMA_HOST": emu.URL})
	// mistral-7b's catalog entry offers tools (see TestOllamaNodeClientThroughGateway).
	runChecks(t, "responses.mjs", base, "create,stream,tools,errors", map[string]string{
		"CHAT_MODEL": "mistral-7b", "EXPECT_CONTENT": ollamaemu.DefaultReply, "EXPECT_TOOL_ARGS": ollamaemu.DefaultToolArgs,
	})
}

// TestResponsesRealOllama: responses.create and its stream on a real
// Ollama with the tiny generated model; max_output_tokens cuts the
// answer, which the client sees as an incomplete response.
func TestResponsesRealOllama(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	base := gatewayFor(t, map[string]string{"OLLAMA_HOST": srv.URL})
	seen := runChecks(t, "responses.mjs", base, "create,stream,errors", map[string]string{
		"CHAT_MODEL": "ollama/" + srv.Model, "MAX_OUTPUT_TOKENS": "8", "EXPECT_STATUS": "incomplete",
	})
	create, _ := seen["create"].(map[string]any)
	usage, _ := create["usage"].(map[string]any)
	if usage["output_tokens"] != 8.0 {
		t.Fatalf("output tokens = %v, want Ollama's eval_count of 8", usage["output_tokens"])
	}
}
