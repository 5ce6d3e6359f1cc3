package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/state/redisstate"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/leak"
	"github.com/tiergate/tiergate/internal/testing/redistest"
	"github.com/tiergate/tiergate/internal/tiers"
)

func TestMain(m *testing.M) {
	leak.VerifyTestMain(m)
}

type result struct {
	stdout, stderr string
	err            error
}

func runBench(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
	return result{out.String(), errb.String(), err}
}

func TestParseSteps(t *testing.T) {
	for _, tc := range []struct {
		conc, rate, arrival string
		maxConc             int
		concSet             bool
		want                string
		err                 string
	}{
		{"1", "", "poisson", 0, false, "c=1", ""},
		{"1, 4,16", "", "poisson", 0, true, "c=1 c=4 c=16", ""},
		{"1", "0.5,2", "constant", 0, false, "rate=0.5/s constant rate=2/s constant", ""},
		{"1", "2", "poisson", 8, true, "c=1 rate=2/s poisson max=8", ""},
		{"0", "", "poisson", 0, true, "", "-concurrency"},
		{"a", "", "poisson", 0, true, "", "-concurrency"},
		{"1", "-1", "poisson", 0, false, "", "-rate"},
		{"1", "1", "bursty", 0, false, "", "-arrival"},
		{"1", "1", "poisson", -1, false, "", "-max-concurrency"},
		{"", "", "poisson", 0, true, "", "no load steps"},
	} {
		steps, err := parseSteps(tc.conc, tc.rate, tc.arrival, tc.maxConc, tc.concSet)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSteps(%q, %q) = %v, want an error about %s", tc.conc, tc.rate, err, tc.err)
			}
			continue
		}
		var got []string
		for _, s := range steps {
			got = append(got, s.Label())
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("parseSteps(%q, %q) = %v %v, want %s", tc.conc, tc.rate, got, err, tc.want)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-target", "http://127.0.0.1:1"}, "-target needs -model"},
		{[]string{"-target", "ftp://x", "-model", "m"}, "-target"},
		{[]string{"-target", "http://127.0.0.1:1", "-model", "m", "-target-key-env", "UNSET"}, "UNSET"},
		{[]string{"-target", "http://127.0.0.1:1", "-model", "m", "-progress", "fancy"}, "-progress"},
		{[]string{"-concurrency", "x"}, "-concurrency"},
		{[]string{"-prompts", "/nonexistent.jsonl"}, "-prompts"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-config", "testdata/emu.yaml", "-model", "nope"}, `model "nope" is not served`},
		{[]string{"-slo", "ttft=soon"}, "-slo"},
		{[]string{"-find-max-rate"}, "-find-max-rate needs -slo"},
		{[]string{"-find-max-rate", "-slo", "e2e=1s", "-slo-goal", "2"}, "-slo-goal"},
	} {
		r := runBench(t, map[string]string{"EMU_URL": "http://127.0.0.1:1/v1", "EMU_KEY": "k"}, tc.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("bench %v: %v, want an error about %q", tc.args, r.err, tc.want)
		}
	}
	if r := runBench(t, nil, "-h"); !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "ollama pull llama3:8b") || !strings.Contains(r.stderr, "-concurrency") {
		t.Errorf("-h: %v\n%s", r.err, r.stderr)
	}
}

// TestTargetURL benches an OpenAI-compatible URL, as one would the
// gateway, and checks every output.
func TestTargetURL(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{TTFT: 20 * time.Millisecond, ChunkGap: 2 * time.Millisecond, Reply: "a b c d e f", APIKey: "sk-test-1234567890"})
	defer emu.Close()
	dir := t.TempDir()
	tiersFile := filepath.Join(dir, "tiers.json")
	// An existing tiers file: its other models must survive the merge.
	old := &tiers.File{Tiers: []tiers.Entry{{Model: "other", Provider: "p", Tier: catalog.Slow}}}
	if err := tiers.Write(tiersFile, old); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	base := strings.TrimSuffix(emu.URL, "/v1") // the /v1 is added
	r := runBench(t, map[string]string{"EMU_KEY": "sk-test-1234567890"}, "-target", base, "-target-key-env", "EMU_KEY",
		"-model", "gpt-4o-mini", "-concurrency", "1,2", "-requests", "4", "-warmup", "1", "-max-tokens", "16", "-ramp-up", "10ms",
		"-out", out, "-tiers-out", tiersFile, "-progress", "lines", "-wide")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{"gpt-4o-mini", "c=1", "c=2", "TTFT ms p50/p90/p99", "usage", "TIER"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "bench: [1/2] gpt-4o-mini c=1: done: 4 ok, 0 failed") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "sk-test-1234567890") {
		t.Error("the API key appears in the output")
	}
	if n := len(chats(emu)); n != 9 {
		t.Errorf("emulator saw %d requests, want 1 warm-up + 4 + 4", n)
	}
	var res bench.Results
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[0].Provider != strings.TrimPrefix(base, "http://") || res.Runs[1].Concurrency != 2 {
		t.Errorf("runs %+v", res.Runs)
	}
	if m := res.Meta; m == nil || m.Host == "" || m.GoVersion == "" || m.CPUs < 1 || len(m.Args) == 0 || m.Args[0] != "-target" {
		t.Errorf("meta %+v", m)
	}
	if len(res.Runs[0].Series) == 0 || res.Runs[0].Series[0].T != 0 {
		t.Errorf("no time series: %+v", res.Runs[0].Series)
	}
	if s := res.Settings; s.RampUpS != 0.01 || s.MaxTokens != 16 || s.Requests != 4 || len(s.Concurrency) != 2 {
		t.Errorf("settings %+v", s)
	}
	for _, name := range []string{"results.csv", "requests.csv", "report.html", "tiers.json"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	f, err := tiers.Load(tiersFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tiers) != 2 || f.Tiers[0].Model != "gpt-4o-mini" || f.Tiers[1].Model != "other" {
		t.Errorf("merged tiers %+v", f.Tiers)
	}
}

// TestSLOAndMaxRate: with -slo every step gets its goodput, and
// -find-max-rate reports the highest rate that keeps it (here none: an
// SLO no request can meet).
func TestSLOAndMaxRate(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{TTFT: 20 * time.Millisecond, Reply: "a b c"})
	defer emu.Close()
	out := filepath.Join(t.TempDir(), "out")
	r := runBench(t, nil, "-target", strings.TrimSuffix(emu.URL, "/v1"), "-model", "m", "-concurrency", "1", "-rate", "50", "-requests", "4",
		"-warmup", "0", "-max-tokens", "16", "-slo", "ttft=5ms", "-find-max-rate", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{"SLO ttft=5ms", "GOOD REQ/S", "c=1", "0.0%", "no rate tried met the SLO for 90% of requests (the lowest tried, 50.0/s, did"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	var res bench.Results
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.MaxRates) != 1 || res.MaxRates[0].Rate != 0 || res.MaxRates[0].Failed != 50 || len(res.Runs) != 2 ||
		res.Runs[0].Goodput == nil || res.Runs[0].Goodput.Attainment != 0 || res.Runs[1].Rate != 50 {
		t.Errorf("max rates %+v, runs %d", res.MaxRates, len(res.Runs))
	}
}

// TestTierAt: -tier-at takes the tier from that step, through the
// bench's own HTTP client (the step's lag is measured: a read lag per
// chunk); without that step there is no tier, and bench says which step
// is missing.
func TestTierAt(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{TTFT: 10 * time.Millisecond, Reply: "a b c"})
	defer emu.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := []string{"-target", emu.URL, "-model", "m", "-requests", "4", "-warmup", "0", "-max-tokens", "16", "-progress", "off", "-tiers-out", "off"}
	r := runBench(t, nil, append(args, "-concurrency", "1,2", "-tier-at", "concurrency=2", "-out", out)...)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	var res bench.Results
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Tiers) != 1 || res.Tiers[0].At == nil || res.Tiers[0].At.Concurrency != 2 || res.Tiers[0].TTFTP50Ms != res.Runs[1].TTFT.P50 {
		t.Errorf("tiers %+v", res.Tiers)
	}
	if !strings.Contains(r.stdout, "measured at c=2: ") || !strings.Contains(r.stdout, "BENCH LAG") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for _, run := range res.Runs {
		if l := run.ClientLag; l == nil || l.ReadMs == nil || l.ReadMs.Count < 4*3 || l.WarmConnections != run.Concurrency {
			t.Errorf("%s: lag %+v, want a read lag per chunk and the step's connections warmed", run.Load(), l)
		}
	}
	r = runBench(t, nil, append(args, "-concurrency", "1", "-tier-at", "c=8")...)
	if r.err != nil || !strings.Contains(r.stdout, "no c=8 step") {
		t.Errorf("without the step: %v\n%s", r.err, r.stdout)
	}
	r = runBench(t, nil, append(args, "-tier-at", "eight")...)
	if r.err == nil || !strings.Contains(r.err.Error(), "-tier-at") {
		t.Errorf("-tier-at eight: %v", r.err)
	}
}

// TestTierRuleAt: a rule's own at (testdata/ruleat.yaml: fast at c=2)
// is judged on that step; without it the rule is not met, the next rule
// decides, and the reason names the missing step.
func TestTierRuleAt(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{TTFT: 10 * time.Millisecond, Reply: "a b c"})
	defer emu.Close()
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"-config", "testdata/ruleat.yaml", "-target", emu.URL, "-model", "m", "-requests", "4", "-warmup", "0", "-max-tokens", "16",
		"-progress", "off", "-tiers-out", "off"}
	r := runBench(t, nil, append(args, "-concurrency", "1,2", "-out", out)...)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	var res bench.Results
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Tiers) != 1 || res.Tiers[0].Tier != catalog.Fast || res.Tiers[0].At == nil || res.Tiers[0].At.Concurrency != 2 ||
		res.Tiers[0].TTFTP50Ms != res.Runs[1].TTFT.P50 || !strings.Contains(r.stdout, "at c=2 meet the fast rule") {
		t.Errorf("tiers %+v\n%s", res.Tiers, r.stdout)
	}
	r = runBench(t, nil, append(args, "-concurrency", "1")...)
	if r.err != nil || !strings.Contains(r.stdout, "at c=1 meet the moderate rule") || !strings.Contains(r.stdout, "no c=2 step") {
		t.Errorf("without the c=2 step: %v\n%s", r.err, r.stdout)
	}
}

// TestCatalog benches catalog models through providers enabled from the
// environment.
func TestCatalog(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "x y z", Models: []string{"chat-model"}})
	defer emu.Close()
	tiersFile := filepath.Join(t.TempDir(), "gw-tiers.json")
	vars := map[string]string{"EMU_URL": emu.URL, "EMU_KEY": "k", "TIERS_FILE": tiersFile}

	// Default: every enabled chat model; the tiers go to the config's tiers.file.
	r := runBench(t, vars, "-config", "testdata/emu.yaml", "-requests", "2", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "bench: 1 model(s): emu-chat;") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	var sent []string
	for _, q := range chats(emu) {
		var body struct{ Model string }
		json.Unmarshal(q.Body, &body)
		sent = append(sent, body.Model)
	}
	if strings.Join(sent, " ") != "chat-model chat-model chat-model" {
		t.Errorf("models sent %v, want the upstream name of emu-chat (warm-up + 2)", sent)
	}
	f, err := tiers.Load(tiersFile)
	if err != nil || len(f.Tiers) != 1 || f.Tiers[0].Model != "emu-chat" || f.Tiers[0].Provider != "emu" || f.Tiers[0].Tier != catalog.Fast {
		t.Errorf("tiers file %+v %v", f, err)
	}

	// "off" writes no tiers file.
	os.Remove(tiersFile)
	if r := runBench(t, vars, "-config", "testdata/emu.yaml", "-requests", "1", "-warmup", "0", "-progress", "off", "-tiers-out", "off"); r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := os.Stat(tiersFile); err == nil {
		t.Error("-tiers-out off wrote the tiers file")
	}

	for _, tc := range []struct {
		model, want string
	}{
		{"emu-embed", "does not chat"},
		{"locked", "NOKEY_API_KEY"},
	} {
		r := runBench(t, vars, "-config", "testdata/emu.yaml", "-model", tc.model)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("-model %s: %v, want %q", tc.model, r.err, tc.want)
		}
	}
	// Every request failing is an error, after the table.
	r = runBench(t, map[string]string{"EMU_URL": emu.URL, "EMU_KEY": "k"}, "-config", "testdata/emu.yaml", "-model", "emu/missing",
		"-requests", "1", "-warmup", "0", "-progress", "off", "-concurrency", "1,2")
	if r.err == nil || !strings.Contains(r.err.Error(), "no request succeeded") || !strings.Contains(r.stdout, "not_found") ||
		!strings.Contains(r.stdout, "no tier for emu/missing: no successful single-stream request (1 failed)") {
		t.Errorf("all failing: %v\n%s", r.err, r.stdout)
	}
	// A tiers file bench cannot read is not overwritten.
	os.WriteFile(tiersFile, []byte("garbage"), 0o644)
	r = runBench(t, vars, "-config", "testdata/emu.yaml", "-requests", "1", "-warmup", "0", "-progress", "off")
	if r.err == nil || !strings.Contains(r.err.Error(), "does not overwrite") {
		t.Errorf("unreadable tiers file: %v", r.err)
	}
	if b, _ := os.ReadFile(tiersFile); string(b) != "garbage" {
		t.Error("the unreadable tiers file was overwritten")
	}
}

// TestOutputPathsFirst: a bad -out or -tiers-out stops bench before it
// sends a request, so no measurement is lost.
func TestOutputPathsFirst(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "a b c"})
	defer emu.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	taken := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(taken, "results.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", filepath.Join(file, "sub")}, "-out"},
		{[]string{"-out", taken}, "results.json is a directory"},
		{[]string{"-tiers-out", filepath.Join(dir, "no", "such", "dir", "tiers.json")}, "-tiers-out: cannot write in"},
		{[]string{"-tiers-out", dir}, "is a directory"},
		{[]string{"-repeat", "0"}, "-repeat"},
		{[]string{"-confidence", "1.5"}, "-confidence"},
	} {
		args := append([]string{"-target", emu.URL, "-model", "m", "-requests", "1", "-progress", "off", "-tiers-out", "off"}, tc.args...)
		r := runBench(t, nil, args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("bench %v: %v, want an error about %q", tc.args, r.err, tc.want)
		}
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("the emulator saw %d requests: bench ran before checking its outputs", n)
	}
}

// TestWarmupFailureExits: a model whose warm-up fails is not measured,
// and bench exits with the warm-up's error.
func TestWarmupFailureExits(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Models: []string{"other"}})
	defer emu.Close()
	r := runBench(t, nil, "-target", emu.URL, "-model", "m", "-requests", "3", "-progress", "off", "-tiers-out", "off")
	if r.err == nil || !strings.Contains(r.err.Error(), "the warm-up failed (not_found, status 404)") {
		t.Errorf("error %v, want the warm-up's\n%s", r.err, r.stdout)
	}
	if n := len(emu.Requests()); n != 1 {
		t.Errorf("emulator saw %d requests, want the failed warm-up only", n)
	}
}

func TestRunMetaHidesCredentials(t *testing.T) {
	m := runMeta([]string{"-target", "http://user:secret@127.0.0.1:8080/v1", "-model", "m"})
	if strings.Contains(strings.Join(m.Args, " "), "secret") || m.Args[1] != "http://127.0.0.1:8080/v1" {
		t.Errorf("args %q", m.Args)
	}
}

// TestPublish: -publish merges the run's tiers into those in Redis, where
// a gateway replica's follower finds them; a Redis that does not answer
// is found before the run.
func TestPublish(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{TTFT: 10 * time.Millisecond, Reply: "a b c"})
	defer emu.Close()
	srv := redistest.Start(t)
	r := runBench(t, nil, "-target", strings.TrimSuffix(emu.URL, "/v1"), "-model", "m", "-requests", "3", "-warmup", "0",
		"-max-tokens", "16", "-tiers-out", "off", "-progress", "off", "-publish", srv.URL)
	if r.err != nil || !strings.Contains(r.stderr, "published to redis") {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	st, err := redisstate.New(redisstate.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got *tiers.File
	st.FollowTiers(ctx, time.Second, func(f *tiers.File) { got = f; cancel() })
	if got == nil || len(got.Tiers) != 1 || got.Tiers[0].Model != "m" {
		t.Fatalf("published tiers: %+v", got)
	}
	srv.Kill()
	r = runBench(t, nil, "-target", strings.TrimSuffix(emu.URL, "/v1"), "-model", "m", "-requests", "3", "-warmup", "0",
		"-tiers-out", "off", "-progress", "off", "-publish", srv.URL)
	if r.err == nil || !strings.Contains(r.err.Error(), "-publish: redis does not answer") || strings.Contains(r.stderr, "bench: [1/") {
		t.Errorf("an unreachable -publish: %v\n%s", r.err, r.stderr)
	}
}

// chats are the chat completions an emulator received: the requests
// that warm a step's connections (GET /v1/models) left out.
func chats(emu *openaiemu.Server) []openaiemu.Request {
	var out []openaiemu.Request
	for _, q := range emu.Requests() {
		if q.Path == "/v1/chat/completions" {
			out = append(out, q)
		}
	}
	return out
}
