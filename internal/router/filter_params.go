package router

import (
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

// params admits a backend whose adapter honours the restricted parameters
// the request uses (its providers.Capabilities): one that would refuse
// one of them is out, and so is one that would drop a sampling hint
// whose loss a client notices (seed: reproducibility; the penalties:
// repetition). Dropping temperature and top_p, which clients send by
// default, keeps a backend in: it serves and says so in
// X-Tiergate-Dropped. The model a request pins is never excluded here:
// its adapter answers with its own clear 400 (or drops the hint).
type params struct{}

// steered are the dropped hints that take a backend out of the choice.
const steered = openaiwire.ParamSeed | openaiwire.ParamFrequencyPenalty | openaiwire.ParamPresencePenalty

// unfit is what of ps the backend cannot honour, in the filter's terms.
func (b *backend) unfit(ps providers.Params) providers.Params {
	return ps & (b.caps.Refused | b.caps.Dropped&steered)
}

func (params) name() string        { return "params" }
func (params) binds(pl *plan) bool { return pl.q.Params != 0 }
func (params) exclude(pl *plan, c *cand) string {
	bad := c.b.unfit(pl.q.Params)
	if bad == 0 || pl.pinned != nil && c.b.model == pl.pinned {
		return ""
	}
	if !pl.explain {
		return excluded
	}
	why := ""
	if r := bad & c.b.caps.Refused; r != 0 {
		why = "cannot honour " + r.String()
	}
	if d := bad &^ c.b.caps.Refused; d != 0 {
		if why != "" {
			why += "; "
		}
		why += "would drop " + d.String()
	}
	return why
}

func (params) mark(pl *plan, st *staticSet, _ []*live, out []bool) {
	ps := pl.q.Params
	out = out[:len(st.backends)]
	for i, b := range st.backends {
		if b.unfit(ps) != 0 && b.model != pl.pinned {
			out[i] = true
		}
	}
}
