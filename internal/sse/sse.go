// Package sse reads Server-Sent Events streams (the text/event-stream
// format in the WHATWG HTML standard) without buffering more than one
// event. It holds only the reader; it must import nothing of tiergate but
// internal/lines (the line gathering it shares with ndjson).
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/tiergate/tiergate/internal/lines"
)

// Event is one dispatched event. Its slices are valid only until the next
// call to Next.
type Event struct {
	// Name is the "event:" field; empty means "message".
	Name []byte
	// Data is the "data:" fields joined with "\n".
	Data []byte
	// ID is the "id:" field.
	ID []byte
}

// ErrLineTooLong is returned for a line longer than the reader's limit.
var ErrLineTooLong = errors.New("sse: line too long")

// Reader reads events from a stream.
type Reader struct {
	br    *bufio.Reader
	max   int
	line  []byte
	data  []byte
	name  []byte
	id    []byte
	first bool
}

// NewReader returns a Reader that rejects lines longer than maxLine bytes
// (at least 64 KiB is sensible; OpenAI chunks can be large). Its buffer
// is small (the size of an HTTP client's read buffer, which is what it
// reads from): a longer line is gathered across reads, and a stream costs
// little memory.
func NewReader(r io.Reader, maxLine int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, bufSize), max: maxLine, first: true}
}

// bufSize is the reader's buffer: http.Transport's default read buffer.
const bufSize = 4 << 10

// Next returns the next event. At the end of the stream it returns io.EOF
// if the stream ended on an event boundary, or io.ErrUnexpectedEOF if an
// event was cut off.
func (r *Reader) Next() (Event, error) {
	r.data, r.name, r.id = r.data[:0], r.name[:0], r.id[:0]
	hasData := false
	pending := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && pending {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if r.first {
			r.first = false
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if len(line) == 0 {
			if hasData {
				return Event{Name: r.name, Data: r.data, ID: r.id}, nil
			}
			r.name, r.id, pending = r.name[:0], r.id[:0], false
			continue
		}
		if line[0] == ':' { // comment, e.g. ": OPENROUTER PROCESSING" or keep-alive
			continue
		}
		pending = true
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			r.name = append(r.name[:0], value...)
		case "id":
			r.id = append(r.id[:0], value...)
		}
	}
}

// readLine returns one line without its terminator (LF, CRLF or CR-less
// final line). The returned slice is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	var err error
	r.line, err = lines.Read(r.br, r.line, r.max, ErrLineTooLong)
	if err == ErrLineTooLong {
		return nil, err
	}
	if err != nil {
		if err == io.EOF && len(r.line) > 0 {
			// A final line without its newline is incomplete.
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line := r.line[:len(r.line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// Ready reports whether a whole next event (up to its blank line) is
// already buffered, so that Next will return it without waiting.
func (r *Reader) Ready() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\r\n\r\n"))
}
