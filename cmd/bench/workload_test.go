package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/bench"
	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// emuBody is what the tests read of a request the emulator received.
type emuBody struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens int  `json:"max_tokens"`
	MinTokens int  `json:"min_tokens"`
	IgnoreEOS bool `json:"ignore_eos"`
	Stream    bool `json:"stream"`
}

func emuBodies(t *testing.T, emu *openaiemu.Server) []emuBody {
	t.Helper()
	var out []emuBody
	for _, q := range chats(emu) {
		var b emuBody
		if err := json.Unmarshal(q.Body, &b); err != nil {
			t.Fatalf("body %s: %v", q.Body, err)
		}
		out = append(out, b)
	}
	return out
}

func readResults(t *testing.T, dir string) *bench.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWorkloadFlagErrors: a wrong workload flag stops bench before its
// first request, with an error that names the flag (and the file's line).
func TestWorkloadFlagErrors(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "a b c"})
	defer emu.Close()
	dir := t.TempDir()
	ds := "testdata/sharegpt.json"
	bad := writeFile(t, dir, "bad.json", "[\n  {\"conversations\": [\n    {\"from\": \"human\", \"value\": 3}\n  ]}\n]\n")
	tr := writeFile(t, dir, "trace.jsonl", `{"timestamp": 0, "input_length": 8}`+"\n"+`{"input_length": 8}`+"\n")
	good := writeFile(t, dir, "good.jsonl", `{"offset": 0, "prompt": "hi"}`+"\n")
	prompts := writeFile(t, dir, "prompts.jsonl", `{"prompt": "hi"}`+"\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-dataset", filepath.Join(dir, "none.json")}, "-dataset: open"},
		{[]string{"-dataset", bad}, "-dataset: " + bad + ":3:"},
		{[]string{"-dataset", ds, "-dataset-format", "csv"}, `dataset format "csv"`},
		{[]string{"-dataset", ds, "-dataset-format", "jsonl"}, `a jsonl entry needs "messages"`},
		{[]string{"-dataset-format", "sharegpt"}, "-dataset-format needs -dataset"},
		{[]string{"-dataset", ds, "-trace", good}, "-dataset and -trace"},
		{[]string{"-prompts", prompts, "-dataset", ds}, "-prompts and -dataset"},
		{[]string{"-prompts", prompts, "-turns", "2"}, "-prompts sends its file's requests as they are"},
		{[]string{"-dataset", ds, "-input-len", "64"}, "-input-len is for synthetic prompts"},
		{[]string{"-input-len", "64", "-prompt-tokens", "32"}, "-input-len and -prompt-tokens"},
		{[]string{"-input-len", "poisson:3"}, `-input-len "poisson:3": unknown distribution`},
		{[]string{"-output-len", "uniform:9,3"}, "-output-len"},
		{[]string{"-output-len", "dataset"}, "-output-len dataset needs -dataset"},
		{[]string{"-shared-prefix", "4"}, "-shared-prefix"},
		{[]string{"-shared-prefix", "0:10"}, "-shared-prefix"},
		{[]string{"-turns", "0"}, "-turns"},
		{[]string{"-turns", "2", "-rate", "1"}, "closed-loop steps (-concurrency)"},
		{[]string{"-burstiness", "0.5"}, "-burstiness shapes open-loop arrivals: give -rate"},
		{[]string{"-burstiness", "0", "-rate", "1"}, "-burstiness: give a positive shape"},
		{[]string{"-burstiness", "0.5", "-rate", "1", "-arrival", "constant"}, "leave out -arrival"},
		{[]string{"-arrival", "gamma", "-rate", "1"}, "-arrival gamma needs -burstiness"},
		{[]string{"-trace", tr}, "-trace: " + tr + ":2: each line needs its time"},
		{[]string{"-trace", good, "-turns", "2"}, "turns cannot be added"},
		{[]string{"-trace", good, "-trace-speed", "0"}, "-trace-speed"},
		{[]string{"-trace-speed", "2"}, "-trace-speed needs -trace"},
	} {
		args := append([]string{"-target", emu.URL, "-model", "m", "-requests", "1", "-progress", "off", "-tiers-out", "off"}, tc.args...)
		r := runBench(t, nil, args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("bench %v: %v, want an error about %q", tc.args, r.err, tc.want)
		}
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("the emulator saw %d requests: bench ran before checking its workload", n)
	}
}

func TestCheckIgnoreEOS(t *testing.T) {
	cfg := &config.Config{Providers: map[string]*config.Provider{"ollama": {Type: "ollama"}, "vllm": {Type: "openai"}}}
	if err := checkIgnoreEOS(cfg, []bench.Target{{Model: "a", Provider: "vllm"}}); err != nil {
		t.Error(err)
	}
	if err := checkIgnoreEOS(cfg, []bench.Target{{Model: "b", Provider: "ollama"}}); err == nil || !strings.Contains(err.Error(), "-ignore-eos: b is served by ollama (type ollama)") {
		t.Errorf("%v", err)
	}
}

// TestDatasetMultiTurn runs a ShareGPT dataset as two-turn conversations
// against the emulator: each second turn carries the first turn's
// question and the emulator's actual answer (not the dataset's), then
// its own question; results.json says which workload ran.
func TestDatasetMultiTurn(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "Lyon, surely."})
	defer emu.Close()
	out := filepath.Join(t.TempDir(), "out")
	r := runBench(t, nil, "-target", emu.URL, "-model", "m", "-dataset", "testdata/sharegpt.json", "-turns", "2",
		"-concurrency", "1", "-requests", "4", "-warmup", "1", "-max-tokens", "16", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	got := emuBodies(t, emu)
	if len(got) != 5 {
		t.Fatalf("%d requests, want 1 warm-up + 4", len(got))
	}
	render := func(b emuBody) string {
		var parts []string
		for _, m := range b.Messages {
			parts = append(parts, m.Role+": "+m.Content)
		}
		return strings.Join(parts, " | ")
	}
	want := []string{
		"user: What is the capital of France? Answer in one word.",
		"user: What is the capital of France? Answer in one word. | assistant: Lyon, surely. | user: And of Spain?",
		"system: Be brief. | user: Name a colour.",
		"system: Be brief. | user: Name a colour. | assistant: Lyon, surely. | user: Another one?",
	}
	for i, w := range want {
		if g := render(got[i+1]); g != w {
			t.Errorf("request %d:\n got %s\nwant %s", i, g, w)
		}
		if got[i+1].MaxTokens != 16 || !got[i+1].Stream {
			t.Errorf("request %d: max_tokens %d, stream %v", i, got[i+1].MaxTokens, got[i+1].Stream)
		}
	}
	res := readResults(t, out)
	w := res.Settings.Workload
	if w == nil || *w != (workload.Spec{Source: "dataset", Seed: 1, File: "testdata/sharegpt.json", Format: "sharegpt", Conversations: 2, Turns: 2}) {
		t.Errorf("workload in results.json: %+v", w)
	}
	if res.Runs[0].Requests.Succeeded != 4 {
		t.Errorf("%+v", res.Runs[0].Requests)
	}
}

// TestSyntheticShapes: drawn input and output lengths, shared prefixes
// and -ignore-eos reach the wire.
func TestSyntheticShapes(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "a b c"})
	defer emu.Close()
	out := filepath.Join(t.TempDir(), "out")
	r := runBench(t, nil, "-target", emu.URL, "-model", "m", "-input-len", "uniform:40,80", "-output-len", "normal:20,5,10,30",
		"-shared-prefix", "2:50", "-ignore-eos", "-concurrency", "2", "-requests", "8", "-warmup", "0", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	prefixes := map[string]int{}
	lengths := map[int]bool{}
	for _, b := range emuBodies(t, emu) {
		if b.MaxTokens < 10 || b.MaxTokens > 30 || b.MinTokens != b.MaxTokens || !b.IgnoreEOS {
			t.Errorf("max_tokens %d min_tokens %d ignore_eos %v", b.MaxTokens, b.MinTokens, b.IgnoreEOS)
		}
		lengths[b.MaxTokens] = true
		p, rest, ok := strings.Cut(b.Messages[0].Content, "\n\n")
		if !ok || !strings.HasPrefix(rest, workload.Instruction) {
			t.Fatalf("content %q", b.Messages[0].Content)
		}
		prefixes[p]++
		if n := len(strings.Fields(rest)) - len(strings.Fields(workload.Instruction)) + workload.InstructionTokens; n < 40 || n > 80 {
			t.Errorf("suffix of about %d tokens, want 40..80", n)
		}
	}
	if len(prefixes) != 2 || prefixes[""] != 0 {
		t.Errorf("prefixes %v, want 2 shared by 8 requests", len(prefixes))
	}
	if len(lengths) < 2 {
		t.Errorf("output lengths %v: not drawn", lengths)
	}
	w := readResults(t, out).Settings.Workload
	if w == nil || w.InputLen != "uniform:40,80" || w.OutputLen != "normal:20,5,10,30" || w.SharedPrefixes != 2 || w.SharedPrefixLen != 50 || !w.IgnoreEOS {
		t.Errorf("workload %+v", w)
	}
}

// TestTraceAndBurstiness: -trace replays the trace as a "trace" step (in
// place of the concurrency sweep), every line once; -burstiness makes a
// -rate step's arrivals gamma.
func TestTraceAndBurstiness(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{Reply: "a b c"})
	defer emu.Close()
	dir := t.TempDir()
	tr := writeFile(t, dir, "trace.jsonl", strings.Join([]string{
		`{"timestamp": 0, "prompt": "one", "max_tokens": 5}`,
		`{"timestamp": 60, "prompt": "three"}`,
		`{"timestamp": 20, "input_length": 30, "output_length": 7}`,
	}, "\n")+"\n")
	out := filepath.Join(dir, "out")
	start := time.Now()
	r := runBench(t, nil, "-target", emu.URL, "-model", "m", "-trace", tr, "-trace-speed", "2", "-warmup", "0", "-out", out, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Error("the trace's 60 ms at twice the speed took less than 30 ms")
	}
	// Each line once, as written (the order of sending is the engine's
	// test: requests sent 10 ms apart may reach the emulator in another).
	sent := map[string]int{}
	for _, b := range emuBodies(t, emu) {
		c := b.Messages[0].Content
		if strings.HasPrefix(c, workload.Instruction) {
			c = "synthetic"
		}
		sent[fmt.Sprintf("%s/%d", c, b.MaxTokens)]++
	}
	if len(sent) != 3 || sent["one/5"] != 1 || sent["synthetic/7"] != 1 || sent["three/128"] != 1 {
		t.Fatalf("requests %v", sent)
	}
	res := readResults(t, out)
	if len(res.Runs) != 1 || res.Runs[0].Load() != "trace" || res.Runs[0].Requests.Succeeded != 3 {
		t.Errorf("runs %d %+v", len(res.Runs), res.Runs)
	}
	if len(res.Settings.Rates) != 0 || res.Settings.Arrival != bench.Trace || res.Settings.PromptTokens != 0 {
		t.Errorf("settings %+v: a trace step has no rate, its prompts no fixed length", res.Settings)
	}
	if w := res.Settings.Workload; w == nil || w.Source != "trace" || w.TraceSpeed != 2 || w.Conversations != 3 || w.TraceSpanS != 0.03 {
		t.Errorf("workload %+v", w)
	}
	if !strings.Contains(r.stdout, "trace") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	out2 := filepath.Join(dir, "out2")
	r = runBench(t, nil, "-target", emu.URL, "-model", "m", "-rate", "200", "-burstiness", "0.5", "-requests", "5", "-warmup", "0", "-out", out2, "-tiers-out", "off", "-progress", "off")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	res = readResults(t, out2)
	if len(res.Runs) != 1 || res.Runs[0].Arrival != bench.Gamma || res.Settings.Burstiness != 0.5 || res.Runs[0].Requests.Succeeded != 5 {
		t.Errorf("runs %+v settings %+v", res.Runs, res.Settings)
	}
}
