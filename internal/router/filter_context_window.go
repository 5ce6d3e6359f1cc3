package router

import "fmt"

// contextWindow admits a model whose window holds the prompt and the
// requested output (a model with no window known admits any).
type contextWindow struct{}

func (contextWindow) name() string { return "context_window" }
func (contextWindow) binds(pl *plan) bool {
	need := pl.q.PromptTokens + pl.q.MaxTokens
	if st := pl.st; st != nil && st.minWindow > 0 && !pl.explain {
		// A scan over a static set: a request within its smallest window
		// fits every backend of it (most requests are small).
		return need > st.minWindow
	}
	return need > 0
}
func (contextWindow) exclude(pl *plan, c *cand) string {
	w := c.b.ctxWindow
	if w <= 0 {
		return ""
	}
	need := pl.q.PromptTokens + pl.q.MaxTokens
	if need > w {
		if !pl.explain {
			return excluded
		}
		return fmt.Sprintf("needs ~%d tokens (prompt ~%d + output %d), window is %d", need, pl.q.PromptTokens, pl.q.MaxTokens, w)
	}
	return ""
}

func (contextWindow) mark(pl *plan, st *staticSet, _ []*live, out []bool) {
	need := pl.q.PromptTokens + pl.q.MaxTokens
	out = out[:len(st.backends)]
	for i, b := range st.backends {
		if w := b.ctxWindow; w > 0 && need > w {
			out[i] = true
		}
	}
}
