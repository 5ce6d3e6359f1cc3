package router

import (
	"testing"
	"time"
)

func TestAvailability(t *testing.T) {
	now := t0.UnixNano()
	at := func(edit func(l *live)) *backend { return ruleBackend(ruleModel("m", nil), edit) }
	runFilter(t, availability{}, []filterCase{
		{"closed", rulePlan(nil, nil), at(nil), false, ""},
		{"open", rulePlan(nil, nil), at(func(l *live) { l.state, l.open, l.openedAtNs = Open, true, now-int64(time.Second) }), true, "circuit open"},
		{"open past open_for is half-open: its trial may go", rulePlan(nil, nil),
			at(func(l *live) { l.state, l.open, l.openedAtNs = Open, true, now-int64(testOpenFor) }), false, ""},
		{"cooling down", rulePlan(nil, nil), at(func(l *live) { l.cooldownNs = now + int64(7*time.Second) }), true, "cooling down for 7s"},
		{"cool-down over", rulePlan(nil, nil), at(func(l *live) { l.cooldownNs = now }), false, ""},
	})
}
