package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/testing/ollamatest"
	"github.com/tiergate/tiergate/internal/tiers"
)

// TestRealOllama benches a real Ollama server on loopback serving a tiny
// generated llama model: real llama.cpp inference on this CPU, its text
// noise, its timings real. Answers are bounded to 16 tokens.
func TestRealOllama(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	tiersFile := filepath.Join(dir, "tiers.json")
	const maxTokens = 16
	r := runBench(t, map[string]string{"OLLAMA_HOST": srv.URL}, "-model", "ollama/"+srv.Model,
		"-requests", "4", "-warmup", "1", "-max-tokens", strconv.Itoa(maxTokens), "-prompt-tokens", "32",
		"-concurrency", "1,2", "-timeout", "2m", "-out", out, "-tiers-out", tiersFile, "-progress", "lines")
	if r.err != nil {
		t.Fatalf("%v\nstderr:\n%s\nstdout:\n%s", r.err, r.stderr, r.stdout)
	}
	t.Logf("bench output:\n%s", r.stdout)

	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	single := res.Runs[0]
	if single.Concurrency != 1 || single.Provider != "ollama" || single.Requests.Succeeded != 4 {
		t.Fatalf("single-stream run: %+v, errors %+v", single.Requests, single.Errors)
	}
	for _, run := range res.Runs {
		// Tokens are Ollama's eval_count, bounded by max_tokens.
		if run.TokenCountMethod != bench.MethodUsage || run.OutputTokens == nil || run.OutputTokens.Max > maxTokens || run.OutputTokens.Min < 2 {
			t.Errorf("%s: tokens %+v by %q, want 2..%d from eval_count (usage)", run.Load(), run.OutputTokens, run.TokenCountMethod, maxTokens)
		}
		if run.TTFT == nil || run.TTFT.Min <= 0 || run.OutputTokensPerS == nil || run.OutputTokensPerS.Min <= 0 || run.ITL == nil {
			t.Fatalf("%s: TTFT %+v tok/s %+v", run.Load(), run.TTFT, run.OutputTokensPerS)
		}
		for _, k := range []string{"load_duration", "prompt_eval_duration", "eval_duration", "total_duration"} {
			if run.UpstreamMs[k] == nil {
				t.Errorf("%s: no %s", run.Load(), k)
			}
		}
	}
	// The client's decode rate and Ollama's own (eval_count /
	// eval_duration) measure the same generation: they agree within a
	// loose factor (the client's includes HTTP and JSON per token).
	client, server := single.OutputTokensPerS.P50, single.UpstreamOutputTokensPerS.P50
	t.Logf("single stream: TTFT p50 %.1f ms, client %.1f tok/s, Ollama %.1f tok/s (eval_duration p50 %.1f ms, prompt_eval p50 %.1f ms, load p50 %.2f ms)",
		single.TTFT.P50, client, server, single.UpstreamMs["eval_duration"].P50, single.UpstreamMs["prompt_eval_duration"].P50, single.UpstreamMs["load_duration"].P50)
	if ratio := client / server; ratio < 1.0/3 || ratio > 3 {
		t.Errorf("client %.1f tok/s vs Ollama's %.1f tok/s: ratio %.2f, want within 3x", client, server, ratio)
	}
	// Per request: the first token comes after Ollama evaluated the
	// prompt, and the whole request outlasts Ollama's generation.
	f, err := os.Open(filepath.Join(out, "requests.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(row []string, name string) float64 {
		v, err := strconv.ParseFloat(row[col[name]], 64)
		if err != nil {
			t.Fatalf("column %s: %q: %v", name, row[col[name]], err)
		}
		return v
	}
	for _, row := range rows[1:] {
		ttft, e2e := num(row, "ttft_ms"), num(row, "e2e_ms")
		pe, ev := num(row, "upstream_prompt_eval_duration_ms"), num(row, "upstream_eval_duration_ms")
		if ttft < pe || e2e < ev || e2e < ttft {
			t.Errorf("request %s/%s: TTFT %.2f ms vs prompt_eval %.2f ms, E2E %.2f ms vs eval %.2f ms", row[col["load"]], row[col["index"]], ttft, pe, e2e, ev)
		}
	}

	// A tier, in results.json, tiers.json and the gateway's tiers file.
	if len(res.Tiers) != 1 || res.Tiers[0].Model != "ollama/"+srv.Model || res.Tiers[0].Tier.Rank() < 0 {
		t.Fatalf("tiers %+v untiered %+v", res.Tiers, res.Untiered)
	}
	for _, p := range []string{filepath.Join(out, "tiers.json"), tiersFile} {
		tf, err := tiers.Load(p)
		if err != nil || len(tf.Tiers) != 1 || tf.Tiers[0].Tier != res.Tiers[0].Tier || tf.Tiers[0].TTFTP50Ms != res.Tiers[0].TTFTP50Ms {
			t.Errorf("%s: %+v %v", p, tf, err)
		}
	}
	for _, name := range []string{"results.csv", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !strings.Contains(string(b), "ollama/"+srv.Model) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRealOllamaRepeatable is the bench's promise against a real server:
// three runs of the README's example (-concurrency 1,4,16 -requests 20,
// here with answers of 16 tokens and an SLO for goodput) against a real
// Ollama serving the tiny model give the same tier, or say "undecided"
// rather than flip. It logs each run's table, intervals and goodput.
// On 2 cores the runs take 5 to 30 minutes, so it runs only when asked:
//
//	TIERGATE_BENCH_REPEATABLE=1 go test -run TestRealOllamaRepeatable -v -timeout 60m ./cmd/bench
func TestRealOllamaRepeatable(t *testing.T) {
	if os.Getenv("TIERGATE_BENCH_REPEATABLE") == "" {
		t.Skip("three bench runs against a real Ollama take minutes: set TIERGATE_BENCH_REPEATABLE=1")
	}
	srv := ollamatest.Start(t, ollamatest.Options{})
	var got []tiers.Entry
	for i := 1; i <= 3; i++ {
		out := filepath.Join(t.TempDir(), "out")
		r := runBench(t, map[string]string{"OLLAMA_HOST": srv.URL}, "-model", "ollama/"+srv.Model,
			"-concurrency", "1,4,16", "-requests", "20", "-max-tokens", "16", "-prompt-tokens", "32",
			"-slo", "ttft=2s,e2e=10s", "-timeout", "2m", "-out", out, "-tiers-out", "off", "-progress", "off")
		if r.err != nil {
			t.Fatalf("run %d: %v\nstderr:\n%s\nstdout:\n%s", i, r.err, r.stderr, r.stdout)
		}
		t.Logf("run %d:\n%s", i, r.stdout)
		f, err := tiers.Load(filepath.Join(out, "tiers.json"))
		if err != nil || len(f.Tiers) != 1 {
			t.Fatalf("run %d: tiers %+v %v", i, f, err)
		}
		e := f.Tiers[0]
		if e.Decision != tiers.Decided && e.Decision != tiers.Undecided || e.TTFTP50CIMs == nil || e.OutputTokensPerSecP50CI == nil {
			t.Fatalf("run %d: entry %+v has no decision or intervals", i, e)
		}
		got = append(got, e)
	}
	var decided []string
	for _, e := range got {
		if e.Decision == tiers.Decided {
			decided = append(decided, string(e.Tier))
		}
	}
	for _, tier := range decided {
		if tier != decided[0] {
			t.Errorf("three runs decided different tiers %v: a tier must repeat or be undecided", decided)
		}
	}
}
