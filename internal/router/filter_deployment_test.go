package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestDeployment(t *testing.T) {
	local := ruleBackend(ruleModel("local", nil), nil)
	saas := ruleBackend(ruleModel("saas", func(m *catalog.Model) { m.Deployment = catalog.SaaS }), nil)
	unknown := ruleBackend(ruleModel("unknown", func(m *catalog.Model) { m.Deployment = "" }), nil)
	own := &config.Profile{Deployment: []catalog.Deployment{catalog.Local, catalog.SelfHosted}}
	route := func(d ...catalog.Deployment) *Query { return &Query{Task: catalog.Chat, Route: &Route{Deployment: d}} }
	runFilter(t, deployment{}, []filterCase{
		{"no bound", rulePlan(nil, nil), saas, false, ""},
		{"profile admits", rulePlan(own, nil), local, false, ""},
		{"profile refuses", rulePlan(own, nil), saas, true, "deployment saas is not allowed by profile test"},
		{"unknown says so", rulePlan(own, nil), unknown, true, "deployment unknown"},
		{"route refuses", rulePlan(nil, route(catalog.Local)), saas, true, "not in route.deployment"},
		{"route narrows", rulePlan(own, route(catalog.SelfHosted)), local, true, "not in route.deployment"},
		{"route admits", rulePlan(nil, route(catalog.SaaS)), saas, false, ""},
	})
}
