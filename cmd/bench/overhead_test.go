package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverheadCommand runs `bench overhead` end to end, briefly: it must
// measure all three paths without errors and state the verdicts. (The
// figures themselves are for scripts/overhead.sh, not for a test.)
func TestOverheadCommand(t *testing.T) {
	dir := t.TempDir()
	benchBin, gwBin := filepath.Join(dir, "bench"), filepath.Join(dir, "gateway")
	for _, b := range [][2]string{{benchBin, "."}, {gwBin, "../gateway"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	jsonPath := filepath.Join(dir, "overhead.json")
	cmd := exec.Command(benchBin, "overhead", "-gateway", gwBin, "-core", "", "-requests", "90", "-rate", "200",
		"-saturate", "300ms", "-concurrency", "8", "-json", jsonPath,
		"-open-rate", "300", "-open-requests", "60", "-open-rounds", "2", "-image-requests", "6", "-streams", "20")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench overhead: %v\n%s", err, out)
	}
	for _, want := range []string{"reverseproxy", "gateway", "gateway/floor added p50 latency", "gateway/floor saturated throughput",
		"1 MB image body", "open loop at 300 requests/s", "gateway/floor at 300/s",
		"gateway idle RSS", "gateway per open stream (20 open over 50)", "gateway goroutines per open stream"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// path is one path's figures in the report.
	type path struct {
		UnaryP50 int64   `json:"unary_p50"`
		TTFTP50  int64   `json:"ttft_p50"`
		ImageP50 int64   `json:"image_p50"`
		RPS      float64 `json:"rps"`
		Errors   int64   `json:"errors"`
		PeakRSS  int64   `json:"peak_rss_bytes"`
	}
	var rep struct {
		Direct, Proxy, Gateway path
		Open                   []struct {
			Rate                   float64
			Direct, Proxy, Gateway struct {
				P50    int64 `json:"p50"`
				P99    int64 `json:"p99"`
				P999   int64 `json:"p99_9"`
				Errors int64 `json:"errors"`
			}
		} `json:"open_loop"`
	}
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Direct.ImageP50 <= 0 {
		t.Errorf("direct: no image body latency: %+v", rep.Direct)
	}
	if len(rep.Open) != 1 || rep.Open[0].Rate != 300 {
		t.Fatalf("open loop: %+v", rep.Open)
	}
	ol := rep.Open[0]
	if ol.Gateway.P50 <= 0 || ol.Gateway.P999 < ol.Gateway.P99 || ol.Gateway.P99 < ol.Gateway.P50 || ol.Proxy.P50 <= 0 || ol.Direct.P50 <= 0 || ol.Gateway.Errors != 0 {
		t.Errorf("open loop: %+v", ol)
	}
	for name, p := range map[string]path{"proxy": rep.Proxy, "gateway": rep.Gateway} {
		if p.UnaryP50 <= 0 || p.TTFTP50 <= 0 || p.ImageP50 <= 0 || p.RPS <= 0 || p.PeakRSS <= 0 {
			t.Errorf("%s: %+v", name, p)
		}
		// The gateway must answer every request. The floor is Go's bare
		// ReverseProxy, which answers 502 when a kept-alive upstream
		// connection closes under a POST it cannot retry: its rare errors
		// are reported, not ours to fail on.
		if name == "gateway" && p.Errors != 0 {
			t.Errorf("gateway errors: %+v", p)
		}
	}

	// With -key the gateway requires a key and every request carries
	// one; a request refused for its key would count as an error.
	out, err = exec.Command(benchBin, "overhead", "-key", "-gateway", gwBin, "-core", "", "-requests", "60", "-rate", "200",
		"-saturate", "300ms", "-concurrency", "8", "-json", jsonPath, "-open-rate", "", "-image-requests", "0").Output()
	if err != nil {
		t.Fatalf("bench overhead -key: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "every request sends a gateway key") {
		t.Errorf("the report does not say a key was used:\n%s", out)
	}
	b, _ = os.ReadFile(jsonPath)
	var keyed struct{ Gateway path }
	if err := json.Unmarshal(b, &keyed); err != nil {
		t.Fatal(err)
	}
	if keyed.Gateway.Errors != 0 || keyed.Gateway.RPS <= 0 {
		t.Errorf("with a key: %+v", keyed.Gateway)
	}
}
