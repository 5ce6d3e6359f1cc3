package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestOnlyIgnore(t *testing.T) {
	b := ruleBackend(ruleModel("groq-llama3-8b", func(m *catalog.Model) { m.Provider = "groq" }), nil)
	route := func(rt *Route) *plan { return rulePlan(nil, &Query{Task: catalog.Chat, Route: rt}) }
	runFilter(t, onlyIgnore{}, []filterCase{
		{"no route", rulePlan(nil, nil), b, false, ""},
		{"only its provider", route(&Route{Only: []string{"groq"}}), b, false, ""},
		{"only its id", route(&Route{Only: []string{"openai", "groq-llama3-8b"}}), b, false, ""},
		{"only others", route(&Route{Only: []string{"openai"}}), b, true, "not in route.only"},
		{"ignore its provider", route(&Route{Ignore: []string{"groq"}}), b, true, "in route.ignore"},
		{"ignore its id", route(&Route{Ignore: []string{"groq-llama3-8b"}}), b, true, "in route.ignore"},
		{"ignore others", route(&Route{Ignore: []string{"anthropic"}}), b, false, ""},
	})
}
