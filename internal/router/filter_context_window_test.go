package router

import (
	"fmt"
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

// TestContextWindowBindsOverASet: over a static set, the rule runs only
// for a request bigger than the set's smallest window, and then excludes
// exactly the backends it does not fit.
func TestContextWindowBindsOverASet(t *testing.T) {
	st := &staticSet{}
	for i, w := range []int{0, 8192, 4096, 32768} {
		st.backends = append(st.backends, ruleBackend(ruleModel(fmt.Sprint("m", i), func(m *catalog.Model) { m.ContextWindow = w }), nil))
	}
	st.minWindow = 4096 // as buildStatic finds it
	for _, tc := range []struct {
		prompt int
		binds  bool
		out    string
	}{{0, false, "[false false false false]"}, {4000, false, "[false false false false]"}, {5000, true, "[false false true false]"},
		{9000, true, "[false true true false]"}} {
		pl := rulePlan(nil, &Query{Task: catalog.Chat, PromptTokens: tc.prompt, MaxTokens: 96})
		pl.st = st
		if got := (contextWindow{}).binds(pl); got != tc.binds {
			t.Errorf("prompt %d: binds %v, want %v", tc.prompt, got, tc.binds)
		}
		out := make([]bool, len(st.backends))
		if (contextWindow{}).binds(pl) {
			(contextWindow{}).mark(pl, st, nil, out)
		}
		if fmt.Sprint(out) != tc.out {
			t.Errorf("prompt %d: marked %v, want %s", tc.prompt, out, tc.out)
		}
	}
}
