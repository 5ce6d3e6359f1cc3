package router

import (
	"slices"

	"github.com/tiergate/tiergate/internal/config"
)

// domainFit scores a model whose catalog domains include the request's
// domain, fine-tuned or RAG-grounded ones highest; it does not weigh in
// on general work.
type domainFit struct{}

func (domainFit) name() string { return "domain" }
func (domainFit) weight(pl *plan) float64 {
	if pl.domain == "" || pl.domain == "general" {
		return 0
	}
	return pl.p.Weights.Domain
}
func (domainFit) score(pl *plan, c *cand) float64 { return domainScore(pl, c.b) }

func (domainFit) rowScore(pl *plan, h *hot) float64 { return domainScore(pl, h.b) }

func (s domainFit) addScore(pl *plan, w float64, hs []hot) {
	for i := range hs {
		hs[i].score += w * s.rowScore(pl, &hs[i])
	}
}

// staticBound is the score of a match: the weight is the profile's when
// the request's domain is not general work, else 0.
func (domainFit) staticBound(p *config.Profile, b *backend) float64 {
	return p.Weights.Domain * b.domainFit
}

func domainScore(pl *plan, b *backend) float64 {
	if pl.domainBit != 0 {
		if b.domains&pl.domainBit == 0 {
			return 0
		}
	} else if !slices.Contains(b.model.Domains, pl.domain) {
		return 0
	}
	return b.domainFit
}
