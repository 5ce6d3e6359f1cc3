package promtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConfigYAMLIsValid renders a configuration and has promtool check it.
func TestConfigYAMLIsValid(t *testing.T) {
	_, promtool := Binaries(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "r.yml")
	if err := os.WriteFile(rules, []byte("groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{Targets: []string{"127.0.0.1:1234", "127.0.0.1:5678"}, Interval: 2 * time.Second, RuleFiles: []string{rules}}
	y := c.YAML()
	for _, want := range []string{`job_name: "tiergate"`, `"127.0.0.1:5678"`, "scrape_interval: 2s", "evaluation_interval: 2s", `"/metrics"`} {
		if !strings.Contains(y, want) {
			t.Errorf("config lacks %s:\n%s", want, y)
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, y)
	}
}
