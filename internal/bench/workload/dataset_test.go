package workload

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/openaiwire"
	"github.com/tiergate/tiergate/internal/testing/golden"
)

// goldenJSON compares got, as JSON (no HTML escaping, as OpenAI writes
// it), with testdata/name.
func goldenJSON(t *testing.T, name string, got any) {
	t.Helper()
	b, err := openaiwire.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	golden.JSON(t, name, b)
}

// TestReadDatasetGolden parses the datasets in testdata, each format in
// both containers (a JSON array, one entry per line), against golden
// files.
func TestReadDatasetGolden(t *testing.T) {
	for _, tc := range []struct {
		file, format, golden string
	}{
		{"sharegpt.json", "", "sharegpt.golden.json"},
		{"sharegpt.json", FormatShareGPT, "sharegpt.golden.json"},
		{"chat.jsonl", "", "chat.golden.json"},
		{"chat.jsonl", FormatJSONL, "chat.golden.json"},
	} {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		d, err := ReadDataset(tc.file, f, tc.format, 0)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		goldenJSON(t, tc.golden, d)
	}
}

func TestReadDatasetErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, format, err string
	}{
		{"empty", "  \n", "", "d.json: the file is empty"},
		{"not json", "hello", "", "d.json:1: want a JSON array"},
		{"after blank lines", "\n\n  x", "", "d.json:3: want a JSON array"},
		{"bad format", "[]", "csv", `dataset format "csv"`},
		{"no entries", "[]", "", "no conversations"},
		{"only skipped", `[{"conversations": [{"from": "gpt", "value": "x"}]}]`, "", "no conversation has a user message (1 skipped)"},
		{"array syntax", "[\n{\"conversations\": []},\n{\"conversations\": [}\n]", "", "d.json:3:"},
		{"cut short", "[\n{\"conversations\": [\n", "", "d.json:2: the file ends inside an entry"},
		{"not an object", "[\n1\n]", "", "d.json:2: an entry must be a JSON object"},
		{"unknown speaker", "[\n{\"conversations\": [\n{\"from\": \"human\", \"value\": \"a\"},\n{\"from\": \"robot\", \"value\": \"b\"}]}]", "", `d.json:2: conversations[1]: "from": "robot"`},
		{"value not a string", "[{\"conversations\": [\n{\"from\": \"human\",\n\"value\": 5}]}]", "", "d.json:3:"},
		{"no value", `[{"conversations": [{"from": "human"}]}]`, "", `conversations[0] needs "from" and "value"`},
		{"neither key", `[{"text": "x"}]`, "", `neither "conversations" (sharegpt) nor "messages" (jsonl)`},
		{"wrong format", `[{"messages": [{"role": "user", "content": "x"}]}]`, FormatShareGPT, `a sharegpt entry needs "conversations"`},
		{"mixed formats", "{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}]}\n{\"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n", "", `d.json:2: a sharegpt entry needs`},
		{"jsonl syntax", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n\n{\"messages\": [\n", "", "d.json:3: not a JSON object"},
		{"jsonl no role", "{\"messages\": [{\"content\": \"a\"}]}\n", "", `d.json:1: messages[0] has no "role"`},
		{"jsonl no content", "{\"messages\": [{\"role\": \"user\"}]}\n", "", `messages[0] has no "content"`},
		{"jsonl messages not array", "{\"messages\": {\"role\": \"user\"}}\n", "", `"messages" must be an array`},
		{"jsonl empty messages", "{\"messages\": []}\n", "", `"messages" is empty`},
		{"text after array", "[{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}]\n\n]", "", "d.json:3:"},
	} {
		_, err := ReadDataset("d.json", strings.NewReader(tc.in), tc.format, 0)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.err)
		}
	}
}

// countingReader counts what was read of it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadDatasetStreams: with a limit, reading stops once it is reached,
// far from the end of a large file, in either container.
func TestReadDatasetStreams(t *testing.T) {
	var arr, lines bytes.Buffer
	arr.WriteString("[\n")
	for i := range 20000 {
		if i > 0 {
			arr.WriteString(",\n")
		}
		fmt.Fprintf(&arr, `{"conversations": [{"from": "human", "value": "question %d %s"}]}`, i, strings.Repeat("x", 100))
		fmt.Fprintf(&lines, `{"messages": [{"role": "user", "content": "question %d %s"}]}`+"\n", i, strings.Repeat("x", 100))
	}
	arr.WriteString("\n]\n")
	for _, in := range []*bytes.Buffer{&arr, &lines} {
		size := in.Len()
		r := &countingReader{r: in}
		d, err := ReadDataset("big", r, "", 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Entries) != 3 || !d.Truncated || TextOf(d.Entries[2].Messages[0]) != "question 2 "+strings.Repeat("x", 100) {
			t.Fatalf("kept %d entries (truncated %v)", len(d.Entries), d.Truncated)
		}
		if r.n > 256<<10 || r.n > size/4 {
			t.Errorf("read %d of %d bytes for 3 entries", r.n, size)
		}
		if d.Entries[2].Line != 3 && d.Entries[2].Line != 4 {
			t.Errorf("third entry at line %d", d.Entries[2].Line)
		}
	}
}

// TestDatasetLinesFarIn: line numbers stay right deep into a streamed
// array, past the reader's buffer.
func TestDatasetLinesFarIn(t *testing.T) {
	var b strings.Builder
	b.WriteString("[\n")
	const n = 3000
	for i := range n {
		fmt.Fprintf(&b, "  {\n    \"conversations\": [\n      {\"from\": \"human\", \"value\": \"q%d\"}\n    ]\n  },\n", i)
	}
	b.WriteString("  {\n    \"conversations\": [\n      {\"from\": \"alien\", \"value\": \"x\"}\n    ]\n  }\n]\n")
	d, err := ReadDataset("deep.json", strings.NewReader(strings.Replace(b.String(), "alien", "human", 1)), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != n+1 || d.Entries[n-1].Line != 2+5*(n-1) || d.Entries[n].Line != 2+5*n {
		t.Errorf("%d entries; entry %d at line %d, want %d", len(d.Entries), n-1, d.Entries[n-1].Line, 2+5*(n-1))
	}
	_, err = ReadDataset("deep.json", strings.NewReader(b.String()), "", 0)
	if want := fmt.Sprintf("deep.json:%d:", 2+5*n); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it at %s", err, want)
	}
}

func FuzzReadDataset(f *testing.F) {
	for _, name := range []string{"sharegpt.json", "chat.jsonl"} {
		f.Add(golden.Read(f, name), "")
	}
	f.Add([]byte(`[{"conversations": [{"from": "human", "value": "a"}]}]`), FormatShareGPT)
	f.Add([]byte("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}]}]}\n"), FormatJSONL)
	f.Add([]byte("\xef\xbb\xbf[\n]"), "")
	f.Fuzz(func(t *testing.T, in []byte, format string) {
		d, err := ReadDataset("fuzz", bytes.NewReader(in), format, 0)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") && !strings.HasPrefix(err.Error(), "dataset format") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, e := range d.Entries {
			if !hasUser(e.Messages) || e.Line < 1 || e.Line > bytes.Count(in, []byte{'\n'})+1 {
				t.Fatalf("entry at line %d: %+v", e.Line, e)
			}
			// Every kept entry makes at least one turn.
			if len(splitTurns(e.Messages, 1)) != 1 {
				t.Fatalf("entry %+v makes no turn", e)
			}
		}
	})
}
