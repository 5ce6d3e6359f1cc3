// Package promtest runs a real Prometheus server on loopback for tests: it
// finds (or has scripts/ensure-prometheus.sh install) the prometheus and
// promtool binaries, writes a configuration that scrapes the given targets
// every second, starts Prometheus with a temporary data directory and
// answers instant queries through its HTTP API.
//
// It is test support only (it imports testing); it must not import the
// gateway, the router or an adapter.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/freeport"
	"github.com/tiergate/tiergate/internal/testing/proc"
	"github.com/tiergate/tiergate/internal/testing/syncbuf"
)

// RepoRoot returns the repository's root: the nearest directory above the
// working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binaries returns the paths of prometheus and promtool, running
// scripts/ensure-prometheus.sh (which installs Debian's prometheus package
// when they are missing). With TIERGATE_SKIP_PROMETHEUS=1 the test is
// skipped instead when they are not on PATH.
func Binaries(t testing.TB) (prometheus, promtool string) {
	t.Helper()
	prometheus = Tool(t, "prometheus", "Prometheus")
	promtool = filepath.Join(filepath.Dir(prometheus), "promtool")
	if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("no promtool beside %s: %v", prometheus, err)
	}
	return prometheus, promtool
}

// Tool returns the path of a tool the tests run, which
// scripts/ensure-<name>.sh finds or installs (the Debian package) and
// prints. With TIERGATE_SKIP_<NAME>=1 it installs nothing, and the test
// is skipped when the tool is missing; shown names the tool then.
// Prometheus, Chromium and espeak-ng are found this way.
func Tool(t testing.TB, name, shown string) string {
	t.Helper()
	env := strings.ToUpper(name)
	script := filepath.Join(RepoRoot(t), "scripts", "ensure-"+name+".sh")
	cmd := exec.Command(script)
	skip := os.Getenv("TIERGATE_SKIP_"+env) == "1"
	if skip {
		cmd.Env = append(os.Environ(), "TIERGATE_"+env+"_NO_INSTALL=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if skip {
			t.Skipf("no %s and TIERGATE_SKIP_%s=1: %s", shown, env, strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// Config is what the started Prometheus scrapes and evaluates.
type Config struct {
	// Job is the scrape job's name (default "tiergate").
	Job string
	// Targets are host:port pairs serving /metrics, on loopback.
	Targets []string
	// MetricsPath defaults to /metrics.
	MetricsPath string
	// Interval is the scrape and rule evaluation interval (default 1s).
	Interval time.Duration
	// RuleFiles are rule files (absolute paths) to load.
	RuleFiles []string
}

// YAML renders c as a Prometheus configuration file.
func (c Config) YAML() string {
	job := c.Job
	if job == "" {
		job = "tiergate"
	}
	iv := c.Interval
	if iv <= 0 {
		iv = time.Second
	}
	path := c.MetricsPath
	if path == "" {
		path = "/metrics"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", iv, iv, iv)
	if len(c.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range c.RuleFiles {
			fmt.Fprintf(&b, "  - %s\n", strconv.Quote(f))
		}
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %s\n    metrics_path: %s\n    static_configs:\n      - targets:\n", strconv.Quote(job), strconv.Quote(path))
	for _, tg := range c.Targets {
		fmt.Fprintf(&b, "          - %s\n", strconv.Quote(tg))
	}
	return b.String()
}

// Server is a running Prometheus.
type Server struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Dir holds its configuration and data.
	Dir    string
	client *http.Client
	log    *syncbuf.Buffer
}

// Start writes c to a temporary directory, starts Prometheus on a free
// loopback port and waits until it is ready. Prometheus is stopped when
// the test ends; its log is printed if the test failed.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	bin, _ := Binaries(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(c.YAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 3 { // a free port can be taken between the probe and the start
		s, err := start(t, bin, dir, cfg)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("prometheus did not start: %v", lastErr)
	return nil
}

func start(t testing.TB, bin, dir, cfg string) (*Server, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp(dir, "data-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn",
	)
	s := &Server{URL: "http://" + addr, Dir: dir, client: &http.Client{Timeout: 10 * time.Second}, log: &syncbuf.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := proc.Wait(cmd)
	stop := func() { proc.Stop(cmd, exited, syscall.SIGTERM, 10*time.Second) }
	if err := proc.Ready(s.URL+"/-/ready", exited, 30*time.Second); err != nil {
		if !errors.Is(err, proc.ErrExited) {
			stop()
		}
		return nil, fmt.Errorf("prometheus at %s: %v\n%s", addr, err, s.log.String())
	}
	t.Cleanup(func() {
		stop()
		s.client.CloseIdleConnections()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", s.log.String())
		}
	})
	return s, nil
}

// Series is one element of an instant query's result.
type Series struct {
	Metric map[string]string
	// Value is the sample value; NaN when Prometheus answered NaN.
	Value float64
}

// Query runs an instant query at the current time and returns its series
// (a scalar result is one series without labels).
func (s *Server) Query(ctx context.Context, expr string) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &v); err != nil {
			return nil, err
		}
		out := make([]Series, 0, len(v))
		for _, e := range v {
			out = append(out, Series{Metric: e.Metric, Value: parseValue(e.Value[1])})
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(body.Data.Result, &v); err != nil {
			return nil, err
		}
		return []Series{{Metric: map[string]string{}, Value: parseValue(v[1])}}, nil
	}
	return nil, fmt.Errorf("query %q: result type %q is not an instant vector or scalar", expr, body.Data.ResultType)
}

func parseValue(v any) float64 {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// WaitTargetsUp waits until every scrape target reports up == 1.
func (s *Server) WaitTargetsUp(ctx context.Context, job string, n int) error {
	for {
		res, err := s.Query(ctx, fmt.Sprintf(`up{job=%q} == 1`, job))
		if err == nil && len(res) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d of %d targets up", len(res), n)
			}
			return errors.Join(ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Log returns what Prometheus has logged so far.
func (s *Server) Log() string { return s.log.String() }
