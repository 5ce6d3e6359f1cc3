package workload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

func readTestDataset(t *testing.T, name string) *Dataset {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadDataset(name, f, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readTestTrace(t *testing.T) *Trace {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "trace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrace("trace.jsonl", f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// roles lists a request's messages as role:text.
func roles(ms []openaiwire.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Role+":"+TextOf(m))
	}
	return out
}

// play runs conversation c, answering each turn with answer(turn).
func play(c Conversation, answer func(int) string) [][]string {
	var out [][]string
	s := c.Start()
	for j := 0; ; j++ {
		r, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, roles(r.Messages))
		s.Answer(answer(j))
	}
}

func TestSources(t *testing.T) {
	words := func(n int) func(string) int { return func(s string) int { return len(strings.Fields(s)) * n } }
	for _, tc := range []struct {
		name string
		c    Config
		conv int
		// want is each turn's request as role:text, "*" matching any text
		// that starts as written.
		want     [][]string
		maxToks  []int
		spec     Spec
		checkAll func(t *testing.T, s Source)
	}{
		{
			name: "synthetic, one turn", c: Config{Seed: 3, MaxTokens: 64, InputLen: Fixed(40)}, conv: 5,
			want:    [][]string{{"user:" + SyntheticText(3, 5, 40)}},
			maxToks: []int{64},
			spec:    Spec{Source: "synthetic", Seed: 3, InputLen: "fixed:40", Turns: 1},
		},
		{
			name: "dataset, first turn and its system message", c: Config{MaxTokens: 32, Dataset: readTestDataset(t, "sharegpt.json")}, conv: 1,
			want:    [][]string{{"system:Be brief.", `user:Name a colour <b>and</b> a "shape".`}},
			maxToks: []int{32},
			spec:    Spec{Source: "dataset", File: "sharegpt.json", Format: "sharegpt", Conversations: 2, Skipped: 2, Turns: 1},
		},
		{
			name: "dataset, in turn", c: Config{MaxTokens: 32, Dataset: readTestDataset(t, "sharegpt.json")}, conv: 2,
			want:    [][]string{{"user:What is the capital of France?"}},
			maxToks: []int{32},
		},
		{
			name: "dataset, multi-turn with the model's answers and the dataset's lengths", conv: 0,
			c:       Config{MaxTokens: 32, Turns: 3, Dataset: readTestDataset(t, "sharegpt.json"), OutputFromDataset: true, Count: words(2)},
			want:    [][]string{{"user:What is the capital of France?"}, {"user:What is the capital of France?", "assistant:answer 0", "user:And of Spain?"}},
			maxToks: []int{12, 2}, // "Paris is the capital of France." and "Madrid.", two per word
			spec:    Spec{Source: "dataset", File: "sharegpt.json", Format: "sharegpt", Conversations: 2, Skipped: 2, Turns: 3, OutputLen: "dataset"},
		},
		{
			name: "jsonl, multi-turn from text parts", conv: 1,
			c:    Config{MaxTokens: 8, Turns: 2, Dataset: readTestDataset(t, "chat.jsonl")},
			want: [][]string{{"user:Count to three."}, {"user:Count to three.", "assistant:answer 0", "user:Now to five."}},
		},
		{
			name: "synthetic, multi-turn", c: Config{Seed: 1, MaxTokens: 16, Turns: 3, InputLen: Fixed(20)}, conv: 2,
			want: [][]string{
				{"user:" + SyntheticText(1, 2, 20)},
				{"user:" + SyntheticText(1, 2, 20), "assistant:answer 0", "user:" + Instruction + "*"},
				{"user:" + SyntheticText(1, 2, 20), "assistant:answer 0", "user:" + Instruction + "*", "assistant:answer 1", "user:" + Instruction + "*"},
			},
			maxToks: []int{16, 16, 16},
		},
		{
			name: "shared prefix", c: Config{Seed: 1, MaxTokens: 16, InputLen: Fixed(20), SharedPrefixes: 2, SharedPrefixLen: 30}, conv: 3,
			want: [][]string{{"user:" + PrefixText(1, 1, 30) + "\n\n" + SyntheticText(1, 3, 20)}},
			spec: Spec{Source: "synthetic", Seed: 1, InputLen: "fixed:20", Turns: 1, SharedPrefixes: 2, SharedPrefixLen: 30},
			checkAll: func(t *testing.T, s Source) {
				first := func(i int) string { return TextOf(s.Conversation(i).Turns[0].Messages[0]) }
				prefix := func(i int) string { p, _, _ := strings.Cut(first(i), "\n\n"); return p }
				if prefix(0) != prefix(2) || prefix(1) != prefix(3) || prefix(0) == prefix(1) {
					t.Error("conversations i and i+2 must share a prefix, 0 and 1 not")
				}
				if first(0) == first(2) {
					t.Error("two requests with the same prefix have the same suffix")
				}
			},
		},
		{
			name: "drawn lengths, fixed output", conv: 4,
			c: Config{Seed: 9, MaxTokens: 16, InputLen: mustDist(t, "uniform:30,60"), OutputLen: mustDist(t, "uniform:5,50"), IgnoreEOS: true},
			checkAll: func(t *testing.T, s Source) {
				seen := map[int]bool{}
				for i := range 50 {
					r, _ := s.Conversation(i).Start().Next()
					if r.MaxTokens < 5 || r.MaxTokens > 50 || !r.IgnoreEOS {
						t.Fatalf("request %d: max_tokens %d, ignore_eos %v", i, r.MaxTokens, r.IgnoreEOS)
					}
					if again, _ := s.Conversation(i).Start().Next(); again.MaxTokens != r.MaxTokens || TextOf(again.Messages[0]) != TextOf(r.Messages[0]) {
						t.Fatalf("request %d drew twice differently", i)
					}
					n := len(strings.Fields(TextOf(r.Messages[0]))) - len(strings.Fields(Instruction)) + InstructionTokens
					if n < 30 || n > 60 {
						t.Fatalf("request %d: about %d tokens, want 30..60", i, n)
					}
					seen[r.MaxTokens] = true
				}
				if len(seen) < 10 {
					t.Errorf("only %d distinct output lengths in 50", len(seen))
				}
			},
			spec: Spec{Source: "synthetic", Seed: 9, InputLen: "uniform:30,60", OutputLen: "uniform:5,50", Turns: 1, IgnoreEOS: true},
		},
		{
			name: "trace", c: Config{Seed: 2, MaxTokens: 16, Trace: readTestTrace(t), TraceSpeed: 2}, conv: 2,
			want:    [][]string{{"user:second by time, third in the file"}},
			maxToks: []int{4},
			spec:    Spec{Source: "trace", Seed: 2, File: "trace.jsonl", Conversations: 4, TraceSpeed: 2, TraceSpanS: 0.50025},
			checkAll: func(t *testing.T, s Source) {
				tm := s.(Timed)
				var at []time.Duration
				for i := 0; ; i++ {
					a, ok := tm.At(i)
					if !ok {
						break
					}
					at = append(at, a)
				}
				want := []time.Duration{0, 50 * time.Millisecond, 125 * time.Millisecond, 500250 * time.Microsecond}
				if len(at) != 4 || tm.Len() != 4 || at[1] != want[1] || at[2] != want[2] || at[3] != want[3] {
					t.Errorf("times %v, want %v (the trace's, halved)", at, want)
				}
				r, _ := s.Conversation(0).Start().Next()
				if r.MaxTokens != 8 || !strings.HasPrefix(TextOf(r.Messages[0]), Instruction) {
					t.Errorf("an input_length line: %+v", r)
				}
				if r, _ := s.Conversation(3).Start().Next(); r.MaxTokens != 16 {
					t.Errorf("a line without max_tokens: %d, want the run's", r.MaxTokens)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			c := s.Conversation(tc.conv)
			if tc.want != nil {
				got := play(c, func(j int) string { return "answer " + string(rune('0'+j)) })
				if len(got) != len(tc.want) {
					t.Fatalf("turns %q, want %q", got, tc.want)
				}
				for j := range got {
					if !matches(got[j], tc.want[j]) {
						t.Errorf("turn %d: %q, want %q", j, got[j], tc.want[j])
					}
				}
			}
			for j, n := range tc.maxToks {
				if c.Turns[j].MaxTokens != n {
					t.Errorf("turn %d: max_tokens %d, want %d", j, c.Turns[j].MaxTokens, n)
				}
			}
			if tc.spec.Source != "" && s.Spec() != tc.spec {
				t.Errorf("spec %+v, want %+v", s.Spec(), tc.spec)
			}
			if tc.checkAll != nil {
				tc.checkAll(t, s)
			}
		})
	}
}

func matches(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if w, ok := strings.CutSuffix(want[i], "*"); ok {
			if !strings.HasPrefix(got[i], w) {
				return false
			}
		} else if got[i] != want[i] {
			return false
		}
	}
	return true
}

func mustDist(t *testing.T, spec string) Dist {
	t.Helper()
	d, err := ParseDist(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSessionFailedTurn: a turn without an answer ends its conversation.
func TestSessionFailedTurn(t *testing.T) {
	s, _ := New(Config{MaxTokens: 4, Turns: 3})
	ses := s.Conversation(0).Start()
	if _, ok := ses.Next(); !ok {
		t.Fatal("no first turn")
	}
	if _, ok := ses.Next(); ok {
		t.Error("a second turn without the first's answer")
	}
}

func TestNewErrors(t *testing.T) {
	ds, tr := readTestDataset(t, "sharegpt.json"), readTestTrace(t)
	for _, tc := range []struct {
		c   Config
		err string
	}{
		{Config{}, "max tokens"},
		{Config{MaxTokens: 1, Turns: -1}, "negative"},
		{Config{MaxTokens: 1, SharedPrefixes: 2}, "shared prefix"},
		{Config{MaxTokens: 1, Dataset: ds, Trace: tr}, "not both"},
		{Config{MaxTokens: 1, OutputFromDataset: true}, "need a dataset"},
		{Config{MaxTokens: 1, Dataset: ds, InputLen: Fixed(3)}, "input lengths are for synthetic"},
		{Config{MaxTokens: 1, Trace: tr, Turns: 2}, "turns cannot be added"},
	} {
		if _, err := New(tc.c); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%+v) = %v, want %q", tc.c, err, tc.err)
		}
	}
}
