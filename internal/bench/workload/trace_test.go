package workload

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/testing/golden"
)

// TestReadTraceGolden parses testdata/trace.jsonl (Mooncake-style
// millisecond timestamps, out of order, every request form).
func TestReadTraceGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "trace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrace("trace.jsonl", f)
	if err != nil {
		t.Fatal(err)
	}
	goldenJSON(t, "trace.golden.json", tr)
	var lines []int
	for _, e := range tr.Entries {
		lines = append(lines, e.Line)
	}
	if !equalInts(lines, []int{1, 3, 2, 4}) || tr.Span() != 1000500*time.Microsecond {
		t.Errorf("order by time: lines %v, span %v", lines, tr.Span())
	}
}

func TestReadTraceTimes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []time.Duration
		abs      bool
	}{
		{"offsets in seconds", `{"offset": 1.5, "input_length": 4}` + "\n" + `{"offset": 0.25, "input_length": 4}`, []time.Duration{250 * time.Millisecond, 1500 * time.Millisecond}, false},
		{"milliseconds", `{"timestamp": 10, "input_length": 4}` + "\n\n" + `{"timestamp": 30, "input_length": 4}`, []time.Duration{10 * time.Millisecond, 30 * time.Millisecond}, false},
		{"absolute", `{"timestamp": "2024-05-01T12:00:01.5Z", "input_length": 4}` + "\n" + `{"timestamp": "2024-05-01T14:00:00+02:00", "input_length": 4}`, []time.Duration{0, 1500 * time.Millisecond}, true},
		{"ties keep file order", `{"offset": 1, "prompt": "a"}` + "\n" + `{"offset": 1, "prompt": "b"}`, []time.Duration{time.Second, time.Second}, false},
	} {
		tr, err := ReadTrace("t", strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []time.Duration
		for _, e := range tr.Entries {
			got = append(got, e.At)
		}
		if len(got) != len(tc.want) || tr.Absolute != tc.abs {
			t.Errorf("%s: %v (absolute %v), want %v", tc.name, got, tr.Absolute, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		if tc.name == "ties keep file order" && TextOf(tr.Entries[0].Messages[0]) != "a" {
			t.Errorf("ties reordered")
		}
	}
}

func TestReadTraceErrors(t *testing.T) {
	ok := `{"timestamp": 0, "input_length": 4}` + "\n"
	for _, tc := range []struct{ in, err string }{
		{"", "t: no requests"},
		{ok + "nope\n", "t:2: not a JSON object"},
		{ok + `{"input_length": 4}`, `t:2: each line needs its time`},
		{ok + `{"timestamp": 1, "offset": 1, "input_length": 4}`, `"timestamp" or "offset", not both`},
		{ok + `{"timestamp": -1, "input_length": 4}`, `"timestamp" -1`},
		{ok + `{"offset": -1, "input_length": 4}`, `"offset" -1`},
		{ok + `{"timestamp": "yesterday", "input_length": 4}`, `"timestamp" "yesterday"`},
		{ok + `{"timestamp": true, "input_length": 4}`, `"timestamp" must be milliseconds`},
		{ok + `{"timestamp": "2024-05-01T12:00:00Z", "input_length": 4}`, "t:2: an absolute time where the lines before have relative ones"},
		{ok + `{"timestamp": 5}`, `t:2: each line needs its request`},
		{ok + `{"timestamp": 5, "prompt": "a", "input_length": 3}`, `give one of "messages", "prompt" and "input_length"`},
		{ok + `{"timestamp": 5, "prompt": " "}`, `"prompt" is empty`},
		{ok + `{"timestamp": 5, "input_length": 0}`, `"input_length" 0`},
		{ok + `{"timestamp": 5, "messages": [{"content": "a"}]}`, `t:2: messages[0] has no "role"`},
		{ok + `{"timestamp": 5, "input_length": 3, "max_tokens": 0}`, "the answer's bound 0"},
		{ok + `{"timestamp": 5, "input_length": 3, "max_tokens": 4, "output_length": 5}`, `differ`},
		{`{"timestamp": "2024-05-01T12:00:00Z", "input_length": 4}` + "\n" + `{"timestamp": "2024-06-01T12:00:00Z", "input_length": 4}`, "t:2: 2024-06-01T12:00:00Z is more than a week"},
	} {
		if _, err := ReadTrace("t", strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ReadTrace(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func FuzzReadTrace(f *testing.F) {
	f.Add(golden.Read(f, "trace.jsonl"))
	f.Add([]byte(`{"timestamp": "2024-05-01T12:00:00Z", "messages": [{"role": "user", "content": "a"}], "max_tokens": 3}`))
	f.Add([]byte(`{"offset": 0.5, "prompt": "x", "output_length": 2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := ReadTrace("fuzz", bytes.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for i, e := range tr.Entries {
			if e.At < 0 || e.At > maxTraceOffset || (i > 0 && e.At < tr.Entries[i-1].At) {
				t.Fatalf("entry %d at %v after %v", i, e.At, tr.Entries[max(i-1, 0)].At)
			}
			if (e.Messages == nil) == (e.InputLen == 0) || e.MaxTokens < 0 || e.MaxTokens > MaxLen {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
