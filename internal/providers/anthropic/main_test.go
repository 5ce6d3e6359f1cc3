package anthropic

import (
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/anthropicemu"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "sk-ant-test-0123456789abcdef"

// fixedNow makes `created` deterministic in golden output.
func fixedNow() time.Time { return time.Unix(1767225600, 0) }

// newTestProvider builds a provider against base with its own transport,
// whose idle connections are closed when the test ends.
func newTestProvider(t testing.TB, base string, mod func(*providers.Options)) *Provider {
	t.Helper()
	o := providers.Options{Name: "anthropic", BaseURL: base, APIKey: testKey, KeyEnv: "ANTHROPIC_API_KEY",
		HTTPClient: conformance.Client(t)}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	p.now = fixedNow
	return p
}

// newEmu starts an emulator that expects testKey.
func newEmu(t testing.TB, o anthropicemu.Options) *anthropicemu.Server {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = testKey
	}
	return conformance.Serve(t, anthropicemu.New(o))
}

// chunk is the part of a chat.completion.chunk the tests inspect.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role             *string `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			ToolCalls        []struct {
				Index    *int    `json:"index"`
				ID       *string `json:"id"`
				Type     *string `json:"type"`
				Function struct {
					Name      *string `json:"name"`
					Arguments *string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func parseChunks(t *testing.T, raw [][]byte) []chunk {
	t.Helper()
	out := make([]chunk, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("chunk %d: %v: %s", i, err, b)
		}
	}
	return out
}
