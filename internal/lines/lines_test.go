package lines

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	errLong := errors.New("too long")
	long := strings.Repeat("x", 40) + "\n"
	cases := []struct {
		name, in string
		max      int
		want     []string
		end      error
	}{
		{"lines", "a\nbc\n", 10, []string{"a\n", "bc\n"}, io.EOF},
		{"unterminated last line", "a\nbc", 10, []string{"a\n", "bc"}, io.EOF},
		{"gathered across reads", long, 100, []string{long}, io.EOF},
		{"over the limit", long, 20, nil, errLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
			var got []string
			var buf []byte
			for {
				var err error
				buf, err = Read(br, buf, tc.max, errLong)
				if err != nil {
					if err != tc.end {
						t.Fatalf("err %v, want %v", err, tc.end)
					}
					if err == io.EOF && len(buf) > 0 {
						got = append(got, string(buf))
					}
					break
				}
				got = append(got, string(buf))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
