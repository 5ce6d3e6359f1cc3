package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// chunkSize is the piece a large body is read into as it arrives.
const chunkSize = 64 << 10

// readBody reads a request body up to the limit, within the body read
// timeout; errors are *providers.Error. Memory follows the bytes that
// arrived, never what Content-Length declares (that is only checked
// against the limit), so a client that declares much and sends little
// costs little. A small body is read into one buffer; a larger one into
// pooled 64 KiB pieces as it arrives and then copied once into a buffer
// of its exact size, so a 1 MB body costs one 1 MB allocation.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > s.maxBody {
		return nil, tooLarge(s.maxBody)
	}
	if s.bodyTimeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.bodyTimeout)) == nil {
			// The deadline covers the body only: lifted once it is in,
			// so a long stream's connection is not cut by it.
			defer rc.SetReadDeadline(time.Time{})
		}
	}
	size := min(r.ContentLength, 16<<10)
	if size <= 0 {
		size = 4096
	}
	rd := http.MaxBytesReader(w, r.Body, s.maxBody)
	first := make([]byte, size+1) // +1: a body of exactly Content-Length ends in the first read
	n, err := io.ReadFull(rd, first)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return first[:n], nil
	case err != nil:
		return nil, s.bodyError(err)
	}
	// More than the first buffer holds: gather pieces, then one copy.
	var pieces []*[chunkSize]byte
	defer func() {
		for _, p := range pieces {
			s.chunks.Put(p)
		}
	}()
	total, last := n, 0
	for {
		if len(pieces) == 0 || last == chunkSize {
			p, _ := s.chunks.Get().(*[chunkSize]byte)
			if p == nil {
				p = new([chunkSize]byte)
			}
			pieces, last = append(pieces, p), 0
		}
		m, err := rd.Read(pieces[len(pieces)-1][last:])
		last += m
		total += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.bodyError(err)
		}
	}
	body := make([]byte, 0, total)
	body = append(body, first...)
	for i, p := range pieces {
		if i == len(pieces)-1 {
			body = append(body, p[:last]...)
		} else {
			body = append(body, p[:]...)
		}
	}
	return body, nil
}

// bodyError is a failed body read as the client should hear it.
func (s *Server) bodyError(err error) *providers.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(s.maxBody)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &providers.Error{Status: http.StatusRequestTimeout, Type: providers.TypeInvalidRequest, Code: "request_timeout",
			Message: "the request body did not arrive within " + s.bodyTimeout.String() + " (server.body_read_timeout)"}
	}
	return &providers.Error{Status: http.StatusBadRequest, Type: providers.TypeInvalidRequest, Message: "cannot read the request body: " + err.Error()}
}
