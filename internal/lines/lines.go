// Package lines gathers one line from a small bufio.Reader, across as many
// reads as it takes, up to a limit: the loop the stream readers (sse,
// ndjson) share, so that neither needs a buffer sized for the worst case.
// It imports only the standard library and must import nothing of
// tiergate.
package lines

import (
	"bufio"
)

// Read appends the next line of br, with its '\n', to buf[:0] and
// returns it. A line longer than max bytes returns tooLong. At the end of
// the stream it returns what was read after the last '\n' (perhaps
// nothing) with io.EOF; any other read error is returned with what was
// read so far.
func Read(br *bufio.Reader, buf []byte, max int, tooLong error) ([]byte, error) {
	buf = buf[:0]
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > max {
			return buf, tooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, err
	}
}
