package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/tiers"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func dur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func rec(i int, ttft float64, itl []float64, tokens int, method string, up map[string]time.Duration) bench.Record {
	r := bench.Record{Index: i, Start: t0.Add(time.Duration(i) * time.Second), OK: true, TTFT: dur(ttft), OutputTokens: tokens, TokenMethod: method,
		Chunks: len(itl) + 1, PromptTokens: 30, FinishReason: "length", Upstream: up}
	e2e := dur(ttft)
	for _, g := range itl {
		r.ITL = append(r.ITL, dur(g))
		e2e += dur(g)
	}
	r.E2E = e2e + dur(1)
	r.End = r.Start.Add(r.E2E)
	return r
}

func stats(v ...float64) *bench.Stats { return bench.Summarize(v) }

// sample is a fixed set of results: an Ollama model at two loads (one
// failure at c=4) and a SaaS model whose steps all failed.
func sample() *bench.Results {
	up := map[string]time.Duration{"load_duration": dur(2), "prompt_eval_duration": dur(40), "eval_duration": dur(300), "total_duration": dur(350)}
	c1 := []bench.Record{
		rec(0, 50, []float64{20, 20, 21}, 4, bench.MethodUsage, up),
		rec(1, 52, []float64{20, 22, 20}, 4, bench.MethodUsage, up),
		rec(2, 55, []float64{19, 20, 20}, 4, bench.MethodUsage, up),
	}
	c4 := []bench.Record{
		rec(0, 90, []float64{30, 31, 33}, 4, bench.MethodUsage, up),
		rec(1, 95, []float64{30, 40, 35}, 4, bench.MethodUsage, up),
		{Index: 2, Start: t0.Add(2 * time.Second), End: t0.Add(2*time.Second + dur(10)), E2E: dur(10),
			Err: &bench.Failure{Kind: bench.KindRateLimited, Status: 429, Message: "ollama answered 429: slow down"}},
	}
	rules := []config.TierRule{
		{Tier: catalog.UltraFast, MaxTTFT: 400 * time.Millisecond, MinTokensPerSecond: 250, Source: "Groq"},
		{Tier: catalog.Fast, MaxTTFT: time.Second, MinTokensPerSecond: 50, Source: "consumer GPU"},
	}
	run := func(model, provider string, c int, recs []bench.Record, ttft, itl, tpot, e2e, tokps *bench.Stats, method string, errs []bench.ErrorCount) *bench.RunResult {
		r := &bench.RunResult{Model: model, Provider: provider, Upstream: "tiny:latest", Mode: "concurrency", Concurrency: c,
			StartedAt: t0, FinishedAt: t0.Add(3 * time.Second), DurationS: 3, Records: recs, Errors: errs,
			TTFT: ttft, ITL: itl, TPOT: tpot, E2E: e2e, OutputTokensPerS: tokps, TokenCountMethod: method}
		for _, x := range recs {
			r.Requests.Total++
			if x.OK {
				r.Requests.Succeeded++
			} else {
				r.Requests.Failed++
			}
		}
		if r.Requests.Succeeded > 0 {
			r.OutputTokens = stats(4, 4)
			r.Throughput = bench.Throughput{RequestsPerS: 1, OutputTokensPerS: 4}
			r.TokenCountMethods = map[string]int{method: r.Requests.Succeeded}
			r.UpstreamMs = map[string]*bench.Stats{"load_duration": stats(2), "prompt_eval_duration": stats(40), "eval_duration": stats(300), "total_duration": stats(350)}
			r.UpstreamOutputTokensPerS = stats(13.333)
		}
		return r
	}
	res := &bench.Results{Tool: bench.ToolName, SchemaVersion: bench.SchemaVersion, StartedAt: t0, FinishedAt: t0.Add(10 * time.Second),
		Settings: bench.Settings{Concurrency: []int{1, 4}, Requests: 3, Warmup: 1, TimeoutS: 120, PromptTokens: 128, MaxTokens: 4, Seed: 1, Resamples: 1000, Confidence: 0.95},
		Runs: []*bench.RunResult{
			run("ollama/tiny:latest", "ollama", 1, c1, stats(50, 52, 55), stats(20, 20, 21, 20, 22, 20, 19, 20, 20), stats(20.6, 21, 20), stats(112, 115, 115), stats(58.5, 57.6, 60), bench.MethodUsage, []bench.ErrorCount{}),
			run("ollama/tiny:latest", "ollama", 4, c4, stats(90, 95), stats(30, 31, 33, 30, 40, 35), stats(31.6, 35.3), stats(185, 201), stats(31.6, 28.3), bench.MethodUsage,
				[]bench.ErrorCount{{Kind: bench.KindRateLimited, Count: 1, Status: 429, Message: "ollama answered 429: slow down"}}),
		},
		Warmups: []bench.Warmup{{Model: "ollama/tiny:latest", Provider: "ollama", Requests: 1, Sent: 1}},
		Tiers: []tiers.Entry{tiers.NewJudgedEntry("ollama/tiny:latest", "ollama", "tiny:latest", rules,
			tiers.Estimate{TTFT: dur(52), TTFTLo: dur(50), TTFTHi: dur(55), TokPerSec: 58.5, TokPerSecLo: 57.6, TokPerSecHi: 60, Confidence: 0.95}, 3, t0.Add(3*time.Second))},
		Untiered:  []bench.Untiered{{Model: "gpt-4o", Provider: "openai", Reason: "no successful single-stream request (3 failed)"}},
		TierRules: []tiers.Rule{tiers.RuleOf(rules[0]), tiers.RuleOf(rules[1])},
	}
	bad := run("gpt-4o", "openai", 1, []bench.Record{
		{Index: 0, Err: &bench.Failure{Kind: bench.KindAuth, Status: 401, Message: "openai rejected the API key: check OPENAI_API_KEY"}, Start: t0, End: t0.Add(dur(5)), E2E: dur(5)},
		{Index: 1, Err: &bench.Failure{Kind: bench.KindAuth, Status: 401, Message: "openai rejected the API key: check OPENAI_API_KEY"}, Start: t0, End: t0.Add(dur(5)), E2E: dur(5)},
		{Index: 2, Err: &bench.Failure{Kind: bench.KindAuth, Status: 401, Message: "openai rejected the API key: check OPENAI_API_KEY"}, Start: t0, End: t0.Add(dur(5)), E2E: dur(5)},
	}, nil, nil, nil, nil, nil, "", []bench.ErrorCount{{Kind: bench.KindAuth, Count: 3, Status: 401, Message: "openai rejected the API key: check OPENAI_API_KEY"}})
	bad.Upstream = "gpt-4o"
	res.Runs[0].ClientLag = &bench.ClientLag{SendMs: stats(0.1, 0.2, 0.3), ReadMs: stats(0.02, 0.03, 0.5), WarmConnections: 1}
	res.Runs[1].ClientLag = &bench.ClientLag{SendMs: stats(0.1, 0.2, 0.3), ReadMs: stats(0.5, 9, 12), WarmConnections: 4,
		ClientBound: true, Why: "read lag p99 11.9 ms > 5 ms"}
	res.Runs = append(res.Runs, bad)
	return res
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	r := sample()
	for _, tc := range []struct {
		name string
		fn   func(*bytes.Buffer) error
	}{
		{"table.txt", func(b *bytes.Buffer) error { return WideTable(b, r) }},
		{"table-narrow.txt", func(b *bytes.Buffer) error { return Table(b, r) }},
		{"results.json", func(b *bytes.Buffer) error { return JSON(b, r) }},
		{"results.csv", func(b *bytes.Buffer) error { return RunsCSV(b, r) }},
		{"requests.csv", func(b *bytes.Buffer) error { return RecordsCSV(b, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.fn(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestNarrowTable: the default table fits an 80-column terminal, long
// model names and messages included.
func TestNarrowTable(t *testing.T) {
	r := sample()
	long := "ollama/hf.co/bartowski/Qwen2.5-Coder-32B-Instruct-GGUF:Q4_K_M"
	r.Runs[0].Model, r.Tiers[0].Model = long, long
	r.Runs[1].Errors[0].Message = strings.Repeat("a long message ", 20)
	r.Runs[1].Concurrency, r.Runs[1].Rate, r.Runs[1].Arrival, r.Runs[1].MaxConcurrency = 0, 12.5, bench.Poisson, 64
	r.Runs[1].Interrupted = true
	r.Tiers = append(r.Tiers, r.Tiers[0])
	r.Tiers[1].Decision, r.Tiers[1].Provisional, r.Tiers[1].TTFTP50Ms = tiers.Undecided, true, 12345.6
	r.Tiers[1].TTFTP50CIMs = &tiers.Interval{Lo: 10234.5, Hi: 15678.9}
	var b bytes.Buffer
	if err := Table(&b, r); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(b.String(), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("line %d has %d columns: %q", i+1, n, line)
		}
	}
	for _, want := range []string{"ollama/hf.co/bart~", "52.0 [50.0-55.0]", "decided", "FAILURES", "1 x rate_limited (status 429)", "provisional",
		"BENCH LAG", "BOUND", "rate=12.5~*!", "! ollama/tiny:latest rate=12.5/s poisson max=64: the bench itself", "bottleneck (read lag p99 11.9 ms > 5 ms)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("narrow table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestResultsSchema checks results.json against the fields the issue
// asks for.
func TestResultsSchema(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	runs, _ := doc["runs"].([]any)
	if len(runs) != 3 {
		t.Fatalf("runs: %v", doc["runs"])
	}
	run := runs[0].(map[string]any)
	for _, k := range []string{"model", "provider", "concurrency", "requests", "ttft_ms", "itl_ms", "tpot_ms", "e2e_ms",
		"output_tokens_per_s", "throughput", "token_count_method", "errors"} {
		if _, ok := run[k]; !ok {
			t.Errorf("runs[0] has no %q", k)
		}
	}
	for _, k := range []string{"total", "succeeded", "failed"} {
		if _, ok := run["requests"].(map[string]any)[k]; !ok {
			t.Errorf("requests has no %q", k)
		}
	}
	for _, m := range []string{"ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "output_tokens_per_s"} {
		for _, k := range []string{"mean", "p50", "p90", "p99", "min", "max"} {
			if _, ok := run[m].(map[string]any)[k]; !ok {
				t.Errorf("%s has no %q", m, k)
			}
		}
	}
	for _, k := range []string{"requests_per_s", "output_tokens_per_s"} {
		if _, ok := run["throughput"].(map[string]any)[k]; !ok {
			t.Errorf("throughput has no %q", k)
		}
	}
	tl, _ := doc["tiers"].([]any)
	if len(tl) != 1 {
		t.Fatalf("tiers: %v", doc["tiers"])
	}
	tier := tl[0].(map[string]any)
	for _, k := range []string{"model", "tier", "ttft_p50_ms", "output_tokens_per_s_p50", "rule", "missed", "reason"} {
		if _, ok := tier[k]; !ok {
			t.Errorf("tiers[0] has no %q", k)
		}
	}
	if failed := runs[2].(map[string]any); failed["ttft_ms"] != nil {
		t.Errorf("a step with no success has ttft_ms %v, want null", failed["ttft_ms"])
	}
}

var external = regexp.MustCompile(`(?i)(<script|<link|<img|<iframe|@import|url\(|\bsrc=|href=|https?://)`)

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	r := sample()
	// A second backend, undecided: its TTFT interval straddles fast's
	// 1000 ms.
	slow := r.Tiers[0]
	slow.Model, slow.Provider, slow.Tier, slow.Decision, slow.Provisional = "groq-llama3-8b", "groq", catalog.Fast, tiers.Undecided, true
	slow.TTFTP50Ms, slow.TTFTP50CIMs = 980, &tiers.Interval{Lo: 900, Hi: 1100}
	r.Tiers = append(r.Tiers, slow)
	r.Settings.SLO = "ttft=800ms"
	r.Runs[0].Goodput = &bench.Goodput{Attainment: 2.0 / 3, Met: 2, RequestsPerS: 0.67, TokensPerS: 2.67}
	if err := HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "report.html"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if m := external.FindString(page); m != "" {
		t.Errorf("report.html references something external (%q): it must open offline", m)
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1)
	// The tier map and the intervals of TTFT and tok/s against the
	// thresholds, then 7 charts per model: 2 models.
	if len(svgs) != 3+7*2 {
		t.Errorf("%d charts, want 17", len(svgs))
	}
	// What a reader sees on the interval charts: each backend's whisker
	// and legend entry, the thresholds as lines in their tier's colour,
	// the undecided one hollow.
	var ttftCI string
	for _, s := range svgs {
		if strings.Contains(s, "TTFT p50 [CI] against the tier thresholds") {
			ttftCI = s
		}
	}
	for _, want := range []string{
		`<g class="ci" data-series="ollama/tiny:latest: fast"`, `<g class="ci" data-series="groq-llama3-8b (groq): fast, undecided"`,
		`<g class="legend" data-series="ollama/tiny:latest: fast"`, `<g class="legend" data-series="groq-llama3-8b (groq): fast, undecided"`,
		`<line class="threshold" data-label="fast ≤1000 ms"`, `stroke="#0072B2" stroke-width="1.5" stroke-dasharray="4 3"`,
		`<line class="threshold" data-label="ultra-fast ≤400 ms"`, `interval 900-1100`, `fill="#fff" stroke="#0072B2" stroke-width="2"`,
	} {
		if !strings.Contains(ttftCI, want) {
			t.Errorf("the TTFT interval chart lacks %q:\n%s", want, ttftCI)
		}
	}
	if !strings.Contains(page, `data-label="fast ≥50.0 tok/s"`) || !strings.Contains(page, "Output tok/s p50 [CI] against the tier thresholds") {
		t.Error("no tokens/s interval chart with its thresholds")
	}
	// Overlapping lines stay apart: a dash pattern and a marker shape per
	// series (p50, p90, p99), a little transparent, in the legend too;
	// the p50's steps carry their intervals.
	for _, want := range []string{`data-series="p50 [CI]"`, `stroke-dasharray="7 4"`, `stroke-dasharray="2 3"`, `stroke-opacity="0.8"`,
		`<rect class="marker"`, `<polygon class="marker"`, `<g class="legend" data-series="p99"><line`, `data-series="per request p50 [CI]"`} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for i, s := range svgs {
		if err := xml.Unmarshal([]byte(s), new(struct{})); err != nil {
			t.Errorf("chart %d is not well-formed: %v\n%.300s", i, err, s)
		}
	}
	for _, want := range []string{"<!doctype html>", "ollama/tiny:latest", "gpt-4o", "Time to first token vs load", "Throughput vs load",
		"TTFT distribution", "Inter-token latency distribution", "Speed tiers", `class="l tier fast"`, "rejected the API key",
		"no successful single-stream request", "prompt_eval_duration", "<polyline", "fast ≤1000 ms",
		"52.0 [50.0-55.0]", "own lag, ms", `<b class="slow">client-bound</b>: read lag p99 11.9 ms &gt; 5 ms`, "SLO ttft=800ms", "66.7%"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The failed model has charts that say so rather than empty axes.
	if !strings.Contains(page, ">no data<") {
		t.Error("no 'no data' placeholder for the model without successes")
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := WriteDir(dir, sample())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Errorf("wrote %v", paths)
	}
	for _, name := range []string{ResultsJSON, ResultsCSV, RequestsCSV, ReportHTML, TiersJSON} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := tiers.Load(filepath.Join(dir, TiersJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tiers) != 1 || f.Tiers[0].Tier != catalog.Fast || f.Generator != bench.ToolName {
		t.Errorf("tiers.json %+v", f)
	}
}

func TestChartAxes(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 97, "0 20 40 60 80 100"},
		{3.2, 3.9, "3.2 3.4 3.6 3.8 4"},
		{5, 5, "4.4 4.6 4.8 5 5.2 5.4 5.6"},
		{0.001, 0.004, "0.001 0.002 0.003 0.004"},
	} {
		a := linearAxis(tc.lo, tc.hi, false)
		var got []string
		for _, v := range a.ticks {
			got = append(got, tickLabel(v))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("linearAxis(%v, %v) ticks %v, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
	a := logAxis(45, 3200)
	if a.lo != 10 || a.hi != 10000 || len(a.ticks) != 4 {
		t.Errorf("logAxis(45, 3200) = %+v", a)
	}
}
