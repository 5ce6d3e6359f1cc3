package golden

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestInputs: the inputs of a folder are its files with the suffix, less
// the golden outputs named from them (a further dot before the suffix),
// as stems below testdata; Each runs one subtest a file with its bytes.
func TestInputs(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := filepath.Join("testdata", "requests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"b.json": "B", "a.json": "A", "a.chat.json": "out", "notes.txt": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{filepath.Join("requests", "a"), filepath.Join("requests", "b")}
	if got := Inputs(t, "requests", ".json"); !slices.Equal(got, want) {
		t.Fatalf("Inputs = %q, want %q", got, want)
	}
	var seen []string
	Each(t, "requests", ".json", func(t *testing.T, in []byte, stem string) {
		seen = append(seen, t.Name()+"="+string(in)+"@"+stem)
	})
	if want := []string{"TestInputs/a=A@" + want[0], "TestInputs/b=B@" + want[1]}; !slices.Equal(seen, want) {
		t.Fatalf("Each ran %q, want %q", seen, want)
	}
}

func TestJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "x.json"), []byte("{\n  \"b\": 1,\n  \"a\": [\n    2\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	JSON(t, "x.json", []byte(`{"b":1,"a":[2]}`))
}
