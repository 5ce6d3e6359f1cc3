// Package ndjson reads newline-delimited JSON streams (Ollama's streaming
// format) one line at a time, telling a clean end from a cut one. It
// imports only the standard library and internal/lines.
package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/tiergate/tiergate/internal/lines"
)

// ErrLineTooLong is returned for a line longer than the reader's limit.
var ErrLineTooLong = errors.New("ndjson: line too long")

// Reader reads lines.
type Reader struct {
	br   *bufio.Reader
	max  int
	line []byte
}

// NewReader returns a Reader that rejects lines over maxLine bytes. Unlike
// a bufio.Scanner sized for the worst case, it allocates only what the
// lines need: its buffer is the HTTP client's read size (4 KiB), and a
// longer line is gathered across reads.
func NewReader(r io.Reader, maxLine int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10), max: maxLine}
}

// Next returns the next non-empty line without its terminator; the slice
// is valid until the next call. At the end it returns io.EOF, or
// io.ErrUnexpectedEOF when the last line had no newline (a cut stream).
func (r *Reader) Next() ([]byte, error) {
	for {
		var err error
		r.line, err = lines.Read(r.br, r.line, r.max, ErrLineTooLong)
		if err == ErrLineTooLong {
			return nil, err
		}
		if err != nil {
			if err == io.EOF && len(bytes.TrimSpace(r.line)) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if l := bytes.TrimSpace(r.line); len(l) > 0 {
			return l, nil
		}
	}
}
