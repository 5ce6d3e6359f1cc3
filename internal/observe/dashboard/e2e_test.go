package dashboard

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/observe/metrics"
	"github.com/tiergate/tiergate/internal/testing/promtest"
)

// TestDashboardQueriesAgainstPrometheus starts a real Prometheus on
// loopback that scrapes what startTraffic serves every second and loads
// the stack's rule files (deploy/prometheus/rules), then asserts that
// every panel query of the dashboard, with its variables expanded as
// Grafana would (backend = All), returns at least one series with a
// finite value through Prometheus's HTTP API.
func TestDashboardQueriesAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	target := startTraffic(t)

	root := promtest.RepoRoot(t)
	rules, err := filepath.Glob(filepath.Join(root, "deploy", "prometheus", "rules", "*.yml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rule files under deploy/prometheus/rules: %v", err)
	}
	srv := promtest.Start(t, promtest.Config{Job: "tiergate", Targets: []string{target}, Interval: time.Second, RuleFiles: rules})
	if err := srv.WaitTargetsUp(ctx, "tiergate", 1); err != nil {
		t.Fatalf("the scrape target never came up: %v", err)
	}

	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	type check struct{ name, expr string }
	var checks []check
	// The backend variable's own query, label_values(tiergate_backend_tier, model).
	checks = append(checks, check{"variable backend", "group by (model) (" + metrics.NameBackendTier + ")"})
	for _, q := range qs {
		expr, err := Expand(q.Expr, ".*", "30s", "5m")
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, check{q.Panel + "/" + q.RefID, expr})
	}

	// Rates need two scrapes and recording rules an evaluation after them:
	// poll until every query has data, within the test's deadline.
	pending := map[int]string{}
	for i := range checks {
		pending[i] = "not run yet"
	}
	pollCtx, pollCancel := context.WithTimeout(ctx, 90*time.Second)
	defer pollCancel()
	for len(pending) > 0 {
		for i := range pending {
			res, err := srv.Query(pollCtx, checks[i].expr)
			switch {
			case err != nil:
				pending[i] = err.Error()
			case !hasFinite(res):
				pending[i] = fmt.Sprintf("%d series, none with a finite value", len(res))
			default:
				delete(pending, i)
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-pollCtx.Done():
			var lines []string
			for i, why := range pending {
				lines = append(lines, fmt.Sprintf("  %s: %s\n    %s", checks[i].name, why, checks[i].expr))
			}
			sort.Strings(lines)
			t.Fatalf("%d of %d dashboard queries returned no data:\n%s", len(pending), len(checks), strings.Join(lines, "\n"))
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("all %d dashboard queries returned data", len(checks))
}

func hasFinite(res []promtest.Series) bool {
	for _, s := range res {
		if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
			return true
		}
	}
	return false
}

// startTraffic starts what Prometheus scrapes in the end-to-end test and
// returns its host:port (on 127.0.0.1) serving /metrics while traffic
// flows; it stops when the test ends.
//
// It is the real gateway (built from cmd/gateway) with provider
// emulators behind it; see realGateway.
func startTraffic(t *testing.T) string {
	return realGateway(t)
}

// TestGatewayServesMetrics checks, without Prometheus, that the real
// gateway under traffic serves every family the dashboard reads.
func TestGatewayServesMetrics(t *testing.T) {
	addr := startTraffic(t)
	deadline := time.Now().Add(30 * time.Second)
	want := []string{metrics.NameOperationDuration, metrics.NameTokenUsage, metrics.NameTimeToFirstChunk, metrics.NameTimePerChunk,
		metrics.NameRequests, metrics.NameRequestErrors, metrics.NameCost, metrics.NameOverhead, metrics.NameOutputTPS,
		metrics.NameInFlight, metrics.NameRouteDecisions, metrics.NameFallbacks, metrics.NameBreakerState,
		metrics.NameBackendTier, metrics.NameBackendTierRank, metrics.NameBackendTTFT, metrics.NameBackendTPS, metrics.NameBackendMeasured,
		metrics.NameKeyRequests, metrics.NameKeyTokens, metrics.NameKeyCost, metrics.NameKeyRefused, metrics.NameKeyBudget}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for {
		body, err := get(client, "http://"+addr+"/metrics")
		var missing []string
		if err == nil {
			for _, name := range want {
				if !strings.Contains(body, "\n"+name) {
					missing = append(missing, name)
				}
			}
			if len(missing) == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics missing after 30s: %v (err %v)", missing, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
