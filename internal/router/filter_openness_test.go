package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestOpenness(t *testing.T) {
	open := ruleBackend(ruleModel("open", nil), nil)
	prop := ruleBackend(ruleModel("prop", func(m *catalog.Model) { m.Openness = catalog.Proprietary }), nil)
	private := &config.Profile{Openness: []catalog.Openness{catalog.OpenSource, catalog.OpenWeight}}
	route := func(o ...catalog.Openness) *Query { return &Query{Task: catalog.Chat, Route: &Route{Openness: o}} }
	runFilter(t, openness{}, []filterCase{
		{"no bound", rulePlan(nil, nil), prop, false, ""},
		{"profile admits", rulePlan(private, nil), open, false, ""},
		{"profile refuses", rulePlan(private, nil), prop, true, "openness proprietary is not allowed by profile test"},
		{"route refuses", rulePlan(nil, route(catalog.OpenWeight)), prop, true, "not in route.openness"},
		{"route admits", rulePlan(nil, route(catalog.Proprietary)), prop, false, ""},
		{"route narrows, never widens", rulePlan(private, route(catalog.Proprietary)), prop, true, "by profile"},
		{"both admit", rulePlan(private, route(catalog.OpenWeight)), open, false, ""},
	})
}
