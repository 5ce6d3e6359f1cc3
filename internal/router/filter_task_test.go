package router

import (
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
)

func TestTask(t *testing.T) {
	chat := ruleBackend(ruleModel("chat", nil), nil)
	vision := ruleBackend(ruleModel("vision", func(m *catalog.Model) { m.Tasks = []catalog.Task{catalog.Chat, catalog.Vision, catalog.Tools} }), nil)
	embed := ruleBackend(ruleModel("embed", func(m *catalog.Model) { m.Tasks = []catalog.Task{catalog.Embeddings} }), nil)
	q := func(task catalog.Task, vision, tools bool) *Query {
		return &Query{Task: task, Vision: vision, Tools: tools}
	}
	runFilter(t, task{}, []filterCase{
		{"chat", rulePlan(nil, q(catalog.Chat, false, false)), chat, false, ""},
		{"images need vision", rulePlan(nil, q(catalog.Chat, true, false)), chat, true, "cannot do vision"},
		{"tools need tools", rulePlan(nil, q(catalog.Chat, false, true)), chat, true, "cannot do tools"},
		{"vision and tools", rulePlan(nil, q(catalog.Chat, true, true)), vision, false, ""},
		{"embeddings", rulePlan(nil, q(catalog.Embeddings, false, false)), chat, true, "cannot do embeddings"},
		{"an embedding model does not chat", rulePlan(nil, q(catalog.Chat, false, false)), embed, true, "cannot do chat"},
		{"the profile's requirements", rulePlan(&config.Profile{Require: []catalog.Task{catalog.Vision}}, q(catalog.Chat, false, false)),
			chat, true, "cannot do vision"},
	})
}
