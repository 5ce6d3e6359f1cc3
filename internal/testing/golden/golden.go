// Package golden compares test output with golden files in testdata/ and
// rewrites them under the -update flag, and walks the input files those
// outputs are made from: the one copy of those helpers the tests share. It is test infrastructure (only tests import it) and
// imports only the standard library.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Update is the -update flag: rewrite golden files instead of comparing.
var Update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// File compares got with testdata/name byte for byte, rewriting the file
// (and its folder) under -update.
func File(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// JSON is File for a JSON answer, compared indented (two spaces, members
// in the order written) and ending in a newline; got that is not JSON
// fails the test.
func JSON(tb testing.TB, name string, got []byte) {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, got, "", "  "); err != nil {
		tb.Fatalf("not JSON: %v: %s", err, got)
	}
	b.WriteByte('\n')
	File(tb, name, b.Bytes())
}

// Inputs lists the input files testdata/dir/*suffix as their paths below
// testdata without suffix (the stems their golden outputs are named
// from), failing the test when there are none. A name with a further dot
// before suffix (x.chat.json beside x.json) is another file's golden
// output, not an input, and is left out.
func Inputs(tb testing.TB, dir, suffix string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+suffix))
	var stems []string
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), suffix); !strings.Contains(name, ".") {
			stems = append(stems, filepath.Join(dir, name))
		}
	}
	if err != nil || len(stems) == 0 {
		tb.Fatalf("no input files testdata/%s/*%s: %v", dir, suffix, err)
	}
	return stems
}

// Each runs test on each of Inputs(t, dir, suffix), in a subtest named
// after the file, given the file's bytes and its stem.
func Each(t *testing.T, dir, suffix string, test func(t *testing.T, in []byte, stem string)) {
	t.Helper()
	for _, stem := range Inputs(t, dir, suffix) {
		t.Run(filepath.Base(stem), func(t *testing.T) {
			test(t, Read(t, stem+suffix), stem)
		})
	}
}

// Seed adds each of Inputs(f, dir, suffix) to f's seed corpus.
func Seed(f *testing.F, dir, suffix string) {
	f.Helper()
	for _, stem := range Inputs(f, dir, suffix) {
		f.Add(Read(f, stem+suffix))
	}
}

// Read returns testdata/name, failing the test when it cannot be read.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
