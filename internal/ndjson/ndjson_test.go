package ndjson

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	tests := []struct {
		in      string
		lines   []string
		wantErr error
	}{
		{"{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"{\"a\":1}\r\n\n\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"{\"a\":1}\n{\"b\":", []string{`{"a":1}`}, io.ErrUnexpectedEOF},
		{"", nil, io.EOF},
		{strings.Repeat("x", 100) + "\n", nil, ErrLineTooLong},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in), 64)
		var got []string
		var err error
		for {
			var l []byte
			l, err = r.Next()
			if err != nil {
				break
			}
			got = append(got, string(l))
		}
		if !errors.Is(err, tt.wantErr) || strings.Join(got, "|") != strings.Join(tt.lines, "|") {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.in, got, err, tt.lines, tt.wantErr)
		}
	}
}

// TestLongLines: a line far longer than the reader's buffer (an
// embedding, an image) arrives whole, from big reads or a byte at a time.
func TestLongLines(t *testing.T) {
	long := `{"embedding":[` + strings.Repeat("0.0123456789,", 8000) + `1]}`
	for _, src := range []io.Reader{strings.NewReader(long + "\n{}\n"), iotest.OneByteReader(strings.NewReader(long + "\n{}\n"))} {
		r := NewReader(src, 1<<20)
		l, err := r.Next()
		if err != nil || string(l) != long {
			t.Fatalf("got %d bytes, %v; want %d bytes", len(l), err, len(long))
		}
		if l, err = r.Next(); err != nil || string(l) != "{}" {
			t.Fatalf("then %q, %v", l, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"), 16)
	f.Add([]byte("x\r\n\ny"), 4)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 64
		}
		r := NewReader(strings.NewReader(string(in)), max)
		total := 0
		for i := 0; i <= len(in); i++ {
			l, err := r.Next()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && err != ErrLineTooLong {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(l) == 0 || len(l) > max {
				t.Fatalf("bad line %q", l)
			}
			total += len(l)
		}
		t.Fatalf("more lines than bytes")
	})
}
