package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.uber.org/goleak"
	yaml "go.yaml.in/yaml/v3"

	"github.com/tiergate/tiergate/internal/observe/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite deploy/grafana/dashboards/tiergate.json from the generator")

const committed = "../../../deploy/grafana/dashboards/tiergate.json"

// TestCommittedDashboard fails when the committed dashboard is not what
// the generator produces (run `go generate ./internal/observe/dashboard` or this
// test with -update).
func TestCommittedDashboard(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(committed, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v: run `go generate ./internal/observe/dashboard`", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generated dashboard: run `go generate ./internal/observe/dashboard` (or go test -run TestCommittedDashboard -update) and commit it", committed)
	}
}

// TestStrictUnmarshalAndValidate reads the committed file back with the
// SDK's strict decoder (unknown or mistyped fields fail) and validates it.
func TestStrictUnmarshalAndValidate(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	var d sdk.Dashboard
	// In v0.0.22 a successful strict unmarshal returns an empty, non-nil
	// cog.BuildErrors: only a non-empty one is a failure.
	if err := d.UnmarshalJSONStrict(raw); err != nil {
		var be cog.BuildErrors
		if !errors.As(err, &be) || len(be) > 0 {
			t.Fatalf("strict unmarshal: %v", err)
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if d.Uid == nil || *d.Uid != UID {
		t.Errorf("uid %v, want %q", d.Uid, UID)
	}
	// The strict decoder must reject what Grafana would not understand.
	var bad sdk.Dashboard
	err = bad.UnmarshalJSONStrict(bytes.Replace(raw, []byte(`"schemaVersion"`), []byte(`"schemaVersionTypo"`), 1))
	var be cog.BuildErrors
	if err == nil || (errors.As(err, &be) && len(be) == 0) {
		t.Error("strict unmarshal accepted an unknown field")
	}
}

func TestVariables(t *testing.T) {
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]sdk.VariableModel{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	dsv, ok := vars["datasource"]
	if !ok || dsv.Type != sdk.VariableTypeDatasource || dsv.Query == nil || dsv.Query.String == nil || *dsv.Query.String != "prometheus" {
		t.Errorf("no Prometheus data-source variable: %+v", dsv)
	}
	bv, ok := vars["backend"]
	if !ok || bv.Type != sdk.VariableTypeQuery || bv.Query == nil || bv.Query.String == nil ||
		!strings.Contains(*bv.Query.String, metrics.NameBackendTier) || bv.AllValue == nil || *bv.AllValue != ".*" {
		t.Errorf("no backend variable over %s with All = .*: %+v", metrics.NameBackendTier, bv)
	}
	if bv.Datasource == nil || bv.Datasource.Uid == nil || *bv.Datasource.Uid != "${datasource}" {
		t.Errorf("backend variable does not query the chosen data source: %+v", bv.Datasource)
	}
}

func TestPanelsAndQueries(t *testing.T) {
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]string{}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		var id uint32
		var title string
		switch {
		case p.Panel != nil:
			id, title = *p.Panel.Id, *p.Panel.Title
			titles[title] = true
			if p.Panel.Datasource == nil || p.Panel.Datasource.Uid == nil || *p.Panel.Datasource.Uid != "${datasource}" {
				t.Errorf("panel %q does not use the data-source variable", title)
			}
			if len(p.Panel.Targets) == 0 {
				t.Errorf("panel %q has no query", title)
			}
		case p.RowPanel != nil:
			id, title = p.RowPanel.Id, *p.RowPanel.Title
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("panels %q and %q share id %d", prev, title, id)
		}
		ids[id] = title
	}
	// What the issue asks the dashboard to show.
	for _, want := range []string{"Tier per backend", "Time to first chunk p50 / p95", "Output tokens/s", "Request rate",
		"Error ratio", "Fallbacks", "Circuit breaker", "Tokens/s by type", "Cost rate", "Gateway overhead p50 / p99",
		"Spend rate per key", "Requests refused by limit", "Spend per key in range", "Spend per backend in range", "Tokens per key in range", "Budget used", "Tokens per key"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}

	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	perPanel := map[string]int{}
	known := regexp.MustCompile(`\b(gen_ai_[a-z_]+|tiergate_[a-z_]+|backend:[a-z_:0-9]+|operation:[a-z_:0-9]+)`)
	for _, q := range qs {
		perPanel[q.Panel]++
		if !known.MatchString(q.Expr) {
			t.Errorf("%s/%s reads no tiergate metric: %s", q.Panel, q.RefID, q.Expr)
		}
		if _, err := Expand(q.Expr, ".*", "1m", "1h"); err != nil {
			t.Errorf("%s/%s: %v", q.Panel, q.RefID, err)
		}
	}
	for title := range titles {
		if perPanel[title] == 0 {
			t.Errorf("Queries() lists nothing for panel %q", title)
		}
	}
}

// TestRecordedSeriesAreDefined checks that every recorded series the
// dashboard reads is a recording rule in deploy/prometheus/rules.
func TestRecordedSeriesAreDefined(t *testing.T) {
	files, err := filepath.Glob("../../../deploy/prometheus/rules/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	defined := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					defined[r.Record] = true
				}
			}
		}
	}
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	rec := regexp.MustCompile(`\b[a-z_]+:[a-z_0-9]+:[a-z_0-9]+\b`)
	used := 0
	for _, q := range qs {
		for _, name := range rec.FindAllString(q.Expr, -1) {
			used++
			if !defined[name] {
				t.Errorf("%s/%s reads %s, which no rule in deploy/prometheus/rules records", q.Panel, q.RefID, name)
			}
		}
	}
	if used == 0 {
		t.Error("the dashboard reads no recorded series")
	}
}

func TestExpand(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{`x{model=~"$backend"}`, `x{model=~"gpt-4o|llama3-8b"}`, false},
		{`x{model=~"${backend}"}[$__rate_interval]`, `x{model=~"gpt-4o|llama3-8b"}[30s]`, false},
		{`increase(x[$__range])`, `increase(x[5m])`, false},
		{`rate(x[$__interval])`, `rate(x[30s])`, false},
		{`x{a="$nope"}`, "", true},
		{`no variables`, `no variables`, false},
	}
	for _, c := range cases {
		got, err := Expand(c.in, "gpt-4o|llama3-8b", "30s", "5m")
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Expand(%q) = %q, %v; want %q (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

// TestJSONIsStable guards the generator against map-order or other
// nondeterminism, which would make the committed-file test flaky.
func TestJSONIsStable(t *testing.T) {
	a, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := JSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("two generations differ")
		}
	}
	if !json.Valid(a) {
		t.Fatal("generated JSON is not valid")
	}
}

// FuzzExpand: Expand never panics, and when it succeeds no dashboard
// variable is left in its output.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{`x{model=~"$backend"}[$__rate_interval]`, `${backend}`, `$`, `$$backend`, `${}`, `$__range]`, `$nope`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		out, err := Expand(expr, "B", "R", "G")
		if err != nil {
			return
		}
		for _, v := range []string{"$backend", "${backend}", "$__rate_interval", "$__interval", "$__range"} {
			if strings.Contains(out, v) && !strings.Contains(expr, "$"+v) {
				t.Fatalf("Expand(%q) = %q still holds %s", expr, out, v)
			}
		}
	})
}
