package router

import (
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/catalog"
)

func TestMaxTTFT(t *testing.T) {
	at := func(ttft time.Duration) *backend {
		return ruleBackend(ruleModel("m", nil), func(l *live) { l.ttft = ttft })
	}
	bound := func(ms float64) *plan { return rulePlan(nil, &Query{Task: catalog.Chat, Route: &Route{MaxTTFTMs: ms}}) }
	runFilter(t, maxTTFT{}, []filterCase{
		{"no route", rulePlan(nil, nil), at(time.Hour), false, ""},
		{"no bound", bound(0), at(time.Hour), false, ""},
		{"under", bound(500), at(300 * time.Millisecond), false, ""},
		{"at the bound", bound(500), at(500 * time.Millisecond), false, ""},
		{"over", bound(500), at(900 * time.Millisecond), true, "TTFT 900 ms is over route.max_ttft_ms 500"},
		{"no figure yet", bound(1), at(0), false, ""},
	})
}
