package bench

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	// Expected values are numpy.percentile's (linear interpolation).
	for _, tc := range []struct {
		v    []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4}, 90, 3.7},
		{[]float64{1, 2, 3, 4}, 99, 3.97},
		{[]float64{7}, 99, 7},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9.1},
		{[]float64{1, 2}, 0, 1},
		{[]float64{1, 2}, 100, 2},
	} {
		if got := Percentile(tc.v, tc.p); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.v, tc.p, got, tc.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile of nothing is not NaN")
	}
	in := []float64{4, 1, 3, 2}
	s := Summarize(in)
	if *s != (Stats{Count: 4, Mean: 2.5, P50: 2.5, P90: 3.7, P99: 3.97, Min: 1, Max: 4}) {
		t.Errorf("Summarize = %+v", s)
	}
	if in[0] != 4 {
		t.Error("Summarize sorted its input")
	}
	if Summarize(nil) != nil {
		t.Error("Summarize(nil) is not nil")
	}
}

func TestReadPrompts(t *testing.T) {
	in := `{"prompt": "Tell me a joke"}

{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_tokens": 7}
`
	ps, err := ReadPrompts("p.jsonl", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("%d prompts", len(ps))
	}
	if string(ps[0].Messages) != `[{"content":"Tell me a joke","role":"user"}]` || ps[0].MaxTokens != 0 {
		t.Errorf("prompt 0: %s %d", ps[0].Messages, ps[0].MaxTokens)
	}
	if !strings.Contains(string(ps[1].Messages), `"type":"text"`) || ps[1].MaxTokens != 7 {
		t.Errorf("prompt 1: %s %d", ps[1].Messages, ps[1].MaxTokens)
	}
	body, max := requestBody("m", ps[1], 100)
	if max != 7 || !strings.Contains(string(body), `"max_tokens":7`) || !strings.Contains(string(body), `"role":"system"`) {
		t.Errorf("body %s, max %d", body, max)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "no prompts"},
		{"\n\n", "no prompts"},
		{`{"prompt": ""}`, `p.jsonl:1: "prompt" is empty`},
		{"{}\n", `p.jsonl:1: each line needs`},
		{`{"prompt":"a"}` + "\n" + `not json`, "p.jsonl:2: not a JSON object"},
		{`{"prompt":"a","messages":[{"role":"user"}]}`, "not both"},
		{`{"messages":[]}`, `"messages" is empty`},
		{`{"messages":{"role":"user"}}`, "must be an array"},
		{`{"messages":[{"content":"x"}]}`, `messages[0] has no "role"`},
		{`{"prompt":"a","max_tokens":-1}`, "negative"},
	} {
		if _, err := ReadPrompts("p.jsonl", strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadPrompts(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzReadPrompts checks that any file is read without a panic, and that
// every prompt it accepts makes a valid JSON request body.
func FuzzReadPrompts(f *testing.F) {
	f.Add([]byte(`{"prompt":"hi"}` + "\n" + `{"messages":[{"role":"user","content":"x"}],"max_tokens":3}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]}`))
	f.Add([]byte("{}\n[]\nnull"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ReadPrompts("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, p := range ps {
			body, _ := requestBody("m", p, 5)
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if _, ok := v["messages"].([]any); !ok {
				t.Fatalf("messages not an array in %s", body)
			}
		}
	})
}

func TestSyntheticPrompts(t *testing.T) {
	tk, err := NewTokenizer(EncodingCL100K)
	if err != nil {
		t.Fatal(err)
	}
	if n := tk.Count(syntheticInstruction); n != instructionTokens {
		t.Fatalf("the instruction is %d tokens, instructionTokens says %d", n, instructionTokens)
	}
	for _, w := range syntheticWords() {
		if n := tk.Count(" " + w); n != 1 {
			t.Errorf("synthetic word %q is %d tokens, want 1", w, n)
		}
	}
	text := func(p Prompt) string {
		var m []struct{ Role, Content string }
		if err := json.Unmarshal(p.Messages, &m); err != nil || len(m) != 1 || m[0].Role != "user" {
			t.Fatalf("messages %s", p.Messages)
		}
		return m[0].Content
	}
	for _, n := range []int{20, 128, 1024} {
		got := tk.Count(text(Synthetic(1, 3, n)))
		if got != n {
			t.Errorf("Synthetic(%d tokens) is %d tokens", n, got)
		}
	}
	a, b, c := text(Synthetic(1, 0, 64)), text(Synthetic(1, 0, 64)), text(Synthetic(1, 1, 64))
	if a != b {
		t.Error("the same seed and index gave different prompts")
	}
	if a == c {
		t.Error("two requests got the same prompt (a prompt cache would serve the second)")
	}
	if text(Synthetic(2, 0, 64)) == a {
		t.Error("another seed gave the same prompt")
	}
}

func TestTokenizerOffline(t *testing.T) {
	// The loader reads vocabularies embedded in the binary: no network,
	// no cache directory.
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("TIKTOKEN_CACHE_DIR", t.TempDir())
	for _, tc := range []struct {
		enc, text string
		want      int
	}{
		{EncodingCL100K, "hello world", 2},
		{EncodingO200K, "hello world", 2},
		{EncodingCL100K, "", 0},
	} {
		tk, err := NewTokenizer(tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Count(tc.text); got != tc.want || tk.Name() != tc.enc {
			t.Errorf("%s Count(%q) = %d, want %d", tk.Name(), tc.text, got, tc.want)
		}
	}
	if _, err := NewTokenizer("p50k_base"); err == nil {
		t.Error("no error for an encoding that is not available")
	}
	for model, want := range map[string]string{"gpt-4o": EncodingO200K, "gpt-4o-mini": EncodingO200K, "gpt-4": EncodingCL100K, "llama3:8b": EncodingCL100K} {
		if got := EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%s) = %s, want %s", model, got, want)
		}
	}
}
