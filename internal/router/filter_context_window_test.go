package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestContextWindow(t *testing.T) {
	small := ruleBackend(ruleModel("small", func(m *catalog.Model) { m.ContextWindow = 8192 }), nil)
	unknown := ruleBackend(ruleModel("unknown", func(m *catalog.Model) { m.ContextWindow = 0 }), nil)
	q := func(prompt, max int) *Query { return &Query{Task: catalog.Chat, PromptTokens: prompt, MaxTokens: max} }
	runFilter(t, contextWindow{}, []filterCase{
		{"size unknown", rulePlan(nil, q(0, 0)), small, false, ""},
		{"fits", rulePlan(nil, q(4000, 1000)), small, false, ""},
		{"fits exactly", rulePlan(nil, q(8000, 192)), small, false, ""},
		{"prompt and output too big", rulePlan(nil, q(8000, 193)), small, true, "needs ~8193 tokens (prompt ~8000 + output 193), window is 8192"},
		{"window unknown admits", rulePlan(nil, q(1e6, 0)), unknown, false, ""},
	})
}
