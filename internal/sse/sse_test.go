package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // "name|data"
		wantErr error
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`|{"a":1}`, `|[DONE]`}, io.EOF},
		{"anthropic names", "event: ping\ndata: {}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", []string{`ping|{}`, `message_stop|{"type":"message_stop"}`}, io.EOF},
		{"crlf and comments", ": keep-alive\r\ndata: a\r\ndata: b\r\n\r\n", []string{"|a\nb"}, io.EOF},
		{"no space after colon", "data:x\n\n", []string{"|x"}, io.EOF},
		{"bom", "\xEF\xBB\xBFdata: x\n\n", []string{"|x"}, io.EOF},
		{"cut mid event", "data: x\n\ndata: {\"partial\"", []string{"|x"}, io.ErrUnexpectedEOF},
		{"cut after data line", "data: x\n", nil, io.ErrUnexpectedEOF},
		{"event without data is dropped", "event: a\n\ndata: y\n\n", []string{"|y"}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), 1024)
			var got []string
			var err error
			for {
				var ev Event
				ev, err = r.Next()
				if err != nil {
					break
				}
				got = append(got, string(ev.Name)+"|"+string(ev.Data))
			}
			if !errors.Is(err, tt.wantErr) || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLineTooLong(t *testing.T) {
	r := NewReader(strings.NewReader("data: "+strings.Repeat("x", 200)+"\n\n"), 100)
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}

// TestLongEvents: an event far longer than the reader's buffer (a large
// tool call's arguments, an image's base64) arrives whole, whether the
// source hands over big reads or a byte at a time, and Ready still says
// whether the next whole event is buffered.
func TestLongEvents(t *testing.T) {
	long := `{"arguments":"` + strings.Repeat("0123456789", 10_000) + `"}`
	in := "data: " + long + "\n\ndata: [DONE]\n\n"
	for _, src := range []struct {
		name string
		r    io.Reader
	}{{"whole", strings.NewReader(in)}, {"a byte at a time", iotest.OneByteReader(strings.NewReader(in))}} {
		t.Run(src.name, func(t *testing.T) {
			r := NewReader(src.r, 1<<20)
			ev, err := r.Next()
			if err != nil || string(ev.Data) != long {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(ev.Data), err, len(long))
			}
			if ev, err = r.Next(); err != nil || string(ev.Data) != "[DONE]" {
				t.Fatalf("then %q, %v", ev.Data, err)
			}
		})
	}
	r := NewReader(strings.NewReader("data: a\n\ndata: b\n\n"), 100)
	r.Next()
	if !r.Ready() {
		t.Error("the next whole event is buffered but Ready says no")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("event: a\ndata: {\"x\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": c\r\ndata:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(strings.NewReader(string(in)), 4096)
		for i := 0; i <= len(in); i++ {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && err != ErrLineTooLong {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(ev.Data) > len(in) {
				t.Fatal("data longer than input")
			}
		}
		t.Fatal("more events than bytes")
	})
}
