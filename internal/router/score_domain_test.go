package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestDomainFit(t *testing.T) {
	c := func(ft, rag bool, domains ...string) *cand {
		b := ruleBackend(ruleModel("m", func(m *catalog.Model) { m.Domains, m.FineTuned, m.RAG = domains, ft, rag }), nil)
		if len(domains) > 0 && domains[0] == "legal" {
			b.domains = 1
		}
		return &cand{b: b}
	}
	// legal has bit 1 in these tests; medical has no bit (compared by name).
	in := func(domain string) *plan {
		pl := rulePlan(&config.Profile{Weights: config.Weights{Domain: 2}}, nil)
		pl.domain = domain
		if domain == "legal" {
			pl.domainBit = 1
		}
		return pl
	}
	runScorer(t, domainFit{}, []scoreCase{
		{"matches", in("legal"), c(false, false, "legal"), 0.5},
		{"fine-tuned", in("legal"), c(true, false, "legal"), 0.75},
		{"fine-tuned and grounded", in("legal"), c(true, true, "legal"), 1},
		{"another domain", in("legal"), c(true, true, "medical"), 0},
		{"by name when the domain has no bit", in("medical"), c(false, true, "general", "medical"), 0.75},
		{"general work", in("general"), c(false, false, "general"), 0.5},
	})
	for domain, w := range map[string]float64{"": 0, "general": 0, "legal": 2} {
		if got := (domainFit{}).weight(in(domain)); got != w {
			t.Errorf("weight for %q = %v, want %v", domain, got, w)
		}
	}
}
