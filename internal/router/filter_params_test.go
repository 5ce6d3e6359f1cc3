package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/providers"
)

func TestParams(t *testing.T) {
	claude := ruleBackend(ruleModel("claude", nil), nil)
	claude.caps = providers.Capabilities{Refused: openaiwire.ParamN | openaiwire.ParamJSONObject | openaiwire.ParamLogprobs, Dropped: openaiwire.SamplingHints}
	gpt := ruleBackend(ruleModel("gpt", nil), nil)
	q := func(ps providers.Params) *Query { return &Query{Task: catalog.Chat, Params: ps} }
	pinned := rulePlan(nil, q(openaiwire.ParamN))
	pinned.pinned = claude.model
	runFilter(t, params{}, []filterCase{
		{"no restricted parameter", rulePlan(nil, q(0)), claude, false, ""},
		{"n refused", rulePlan(nil, q(openaiwire.ParamN)), claude, true, "cannot honour n"},
		{"json_object refused", rulePlan(nil, q(openaiwire.ParamJSONObject|openaiwire.ParamTemperature)), claude, true, "cannot honour response_format json_object"},
		{"a pass-through honours all", rulePlan(nil, q(openaiwire.ParamN|openaiwire.ParamSeed)), gpt, false, ""},
		{"seed would be dropped", rulePlan(nil, q(openaiwire.ParamSeed)), claude, true, "would drop seed"},
		{"both", rulePlan(nil, q(openaiwire.ParamN|openaiwire.ParamPresencePenalty)), claude, true, "cannot honour n; would drop presence_penalty"},
		{"temperature and top_p are dropped in place", rulePlan(nil, q(openaiwire.ParamTemperature|openaiwire.ParamTopP)), claude, false, ""},
		{"the pinned model answers for itself", pinned, claude, false, ""},
	})
}
