package deploy

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.uber.org/goleak"
	yaml "go.yaml.in/yaml/v3"

	"github.com/tiergate/tiergate/internal/testing/promtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("tiergate", true)
		o.ResolvePaths = true
	})
	if err != nil {
		t.Fatalf("compose-go cannot load docker-compose.yml: %v", err)
	}
	return p
}

// TestComposeMountsExist loads the compose file with compose-go and checks
// that every file or directory it mounts or builds from exists.
func TestComposeMountsExist(t *testing.T) {
	p := loadCompose(t)
	for _, want := range []string{"gateway", "ollama", "prometheus", "grafana"} {
		if _, err := p.GetService(want); err != nil {
			t.Errorf("no %s service: %v", want, err)
		}
	}
	binds := 0
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts volume %q, which is not declared", name, v.Source)
				}
				continue
			}
			binds++
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s at %s: %v", name, v.Source, v.Target, err)
			}
		}
		if s.Build != nil {
			if st, err := os.Stat(s.Build.Context); err != nil || !st.IsDir() {
				t.Errorf("%s builds from %s: %v", name, s.Build.Context, err)
			}
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s builds with %s: %v", name, df, err)
			}
		} else if s.Image == "" {
			t.Errorf("%s has neither build nor image", name)
		}
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: publish on 127.0.0.1 only", name, port.Published, port.HostIP)
			}
		}
	}
	if binds < 4 {
		t.Errorf("only %d bind mounts: the Prometheus config and rules and the Grafana provisioning and dashboards must be mounted", binds)
	}
	gw, _ := p.GetService("gateway")
	if gw.Build == nil {
		t.Error("the gateway is not built from the repository's Dockerfile")
	}
}

// target returns where the service mounts host path rel (relative to
// deploy/), or "".
func target(t *testing.T, p *types.Project, service, rel string) string {
	t.Helper()
	s, err := p.GetService(service)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(rel)
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == abs {
			return v.Target
		}
	}
	return ""
}

// TestComposeWiring checks that the pieces point at each other: Prometheus
// scrapes the gateway's address, Grafana's data source is the Prometheus
// service, and the dashboard provider reads where the dashboards are
// mounted.
func TestComposeWiring(t *testing.T) {
	p := loadCompose(t)

	if got := target(t, p, "prometheus", "prometheus/prometheus.yml"); got != "/etc/prometheus/prometheus.yml" {
		t.Errorf("prometheus.yml mounted at %q", got)
	}
	if got := target(t, p, "prometheus", "prometheus/rules"); got != "/etc/prometheus/rules" {
		t.Errorf("rules mounted at %q (prometheus.yml loads rules/*.yml beside itself)", got)
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &prom)
	gw, _ := p.GetService("gateway")
	addr := gw.Environment["TIERGATE_ADDR"]
	if addr == nil {
		t.Fatal("the gateway has no TIERGATE_ADDR")
	}
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				if sc.JobName == "tiergate" && tg == "gateway:"+port {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("prometheus.yml has no job tiergate scraping gateway:%s", port)
	}

	prov := target(t, p, "grafana", "grafana/provisioning")
	if prov != "/etc/grafana/provisioning" {
		t.Fatalf("grafana provisioning mounted at %q", prov)
	}
	var dsf struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &dsf)
	if len(dsf.Datasources) != 1 || dsf.Datasources[0].Type != "prometheus" || dsf.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("data source %+v is not the prometheus service", dsf.Datasources)
	}
	var dbf struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/tiergate.yml", &dbf)
	dashDir := target(t, p, "grafana", "grafana/dashboards")
	if len(dbf.Providers) != 1 || dbf.Providers[0].Type != "file" || dbf.Providers[0].Options.Path != dashDir || dashDir == "" {
		t.Errorf("dashboard provider %+v does not read %q, where the dashboards are mounted", dbf.Providers, dashDir)
	}
	if _, err := os.Stat("grafana/dashboards/tiergate.json"); err != nil {
		t.Errorf("no dashboard to provision: %v", err)
	}
	gf, _ := p.GetService("grafana")
	if home := gf.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home == nil || *home != dashDir+"/tiergate.json" {
		t.Errorf("Grafana's home dashboard is %v", home)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDockerfile checks the image recipe: multi-stage, a static build
// (CGO off), a minimal final base and a non-root user.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatalf("no Dockerfile at the repository root: %v", err)
	}
	defer f.Close()
	var froms []string
	var lastUser, entry string
	cgoOff := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms = append(froms, fields[1])
			lastUser = ""
		case "USER":
			lastUser = fields[1]
		case "ENTRYPOINT":
			entry = line
		case "ENV", "ARG", "RUN":
			if strings.Contains(line, "CGO_ENABLED=0") {
				cgoOff = true
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d stages: want a build stage and a final stage", len(froms))
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final stage is %s: want distroless/static or scratch", final)
	}
	if lastUser == "" || lastUser == "root" || lastUser == "0" || strings.HasPrefix(lastUser, "0:") || strings.HasPrefix(lastUser, "root:") {
		t.Errorf("final stage runs as %q: want a non-root USER", lastUser)
	}
	if !cgoOff {
		t.Error("the build does not set CGO_ENABLED=0: the binary would not be static")
	}
	if !strings.Contains(entry, "/gateway") {
		t.Errorf("entrypoint %q does not run the gateway", entry)
	}
	for _, cmd := range []string{"./cmd/gateway"} {
		if _, err := os.Stat(filepath.Join("..", cmd)); err != nil {
			t.Errorf("the Dockerfile builds %s: %v", cmd, err)
		}
	}
}

// TestPromtool runs promtool on the configuration, the rules and the rule
// unit tests (installing Debian's prometheus package when it is missing).
func TestPromtool(t *testing.T) {
	_, promtool := promtest.Binaries(t)
	rules, _ := filepath.Glob("prometheus/rules/*.yml")
	tests, _ := filepath.Glob("prometheus/tests/*.yml")
	if len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("rules %v, rule tests %v", rules, tests)
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus/prometheus.yml"},
		append([]string{"check", "rules"}, rules...),
		append([]string{"test", "rules"}, tests...),
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
