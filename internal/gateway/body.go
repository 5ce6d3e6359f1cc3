package gateway

import (
	"errors"
	"io"
	"math/bits"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
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
// of its exact size, so a 1 MB body costs one 1 MB allocation. The body
// is the caller's to keep (see readPooled for one that is not).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, _, err := s.readBodyInto(w, r, false)
	return body, err
}

// readPooled is readBody for a handler that is done with the body when it
// returns: a body larger than a piece is read straight into a free buffer
// of the body pool (bodyPool) when Content-Length says which, else
// gathered in pieces and copied into one; buf (nil for a body in no
// pooled buffer) holds it, and buf.release gives it back. Every upstream
// request that sends slices of the body must hold it too (see
// providers.WithBodyHold), so that the buffer is reused only once the
// last of them has been closed by its transport.
func (s *Server) readPooled(w http.ResponseWriter, r *http.Request) (body []byte, buf *bodyBuf, err error) {
	return s.readBodyInto(w, r, true)
}

func (s *Server) readBodyInto(w http.ResponseWriter, r *http.Request, pooled bool) ([]byte, *bodyBuf, error) {
	if r.ContentLength > s.maxBody {
		return nil, nil, tooLarge(s.maxBody)
	}
	if s.bodyTimeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.bodyTimeout)) == nil {
			// The deadline covers the body only: lifted once it is in,
			// so a long stream's connection is not cut by it.
			defer rc.SetReadDeadline(time.Time{})
		}
	}
	rd := http.MaxBytesReader(w, r.Body, s.maxBody)
	if pooled && r.ContentLength > chunkSize {
		// A pooled buffer already made costs no memory: read straight
		// into it when one of the declared size is free. (+1: a body of
		// exactly Content-Length ends in the buffer.)
		if b := s.bodies.get(int(r.ContentLength) + 1); b != nil {
			n, err := io.ReadFull(rd, b.buf)
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				return b.buf[:n], b, nil
			case err == nil:
				err = errors.New("the body is longer than its Content-Length")
			}
			b.release()
			return nil, nil, s.bodyError(err)
		}
	}
	size := min(r.ContentLength, 16<<10)
	if size <= 0 {
		size = 4096
	}
	first := make([]byte, size+1) // +1: a body of exactly Content-Length ends in the first read
	n, err := io.ReadFull(rd, first)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return first[:n], nil, nil
	case err != nil:
		return nil, nil, s.bodyError(err)
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
			return nil, nil, s.bodyError(err)
		}
	}
	var b *bodyBuf
	var body []byte
	if pooled {
		// The buffer of the body's class (made now if none is free: the
		// bytes have arrived), so that the next body of that size is
		// read straight into it.
		b = s.bodies.make(total)
	}
	if b != nil {
		body = b.buf[:0]
	} else {
		body = make([]byte, 0, total)
	}
	body = append(body, first...)
	for i, p := range pieces {
		if i == len(pieces)-1 {
			body = append(body, p[:last]...)
		} else {
			body = append(body, p[:]...)
		}
	}
	return body, b, nil
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

// Body pool classes: four per doubling from 64 KiB to maxPooled, so a
// body wastes at most a quarter of its buffer. Larger bodies are not
// pooled. The pools are sync.Pools: what a burst left in them goes at the
// next garbage collections, so they hold no memory at idle.
const (
	minPooledShift = 16
	maxPooled      = 16 << 20
	bodyClasses    = (24-minPooledShift)*4 + 1
)

// bodyClass is the smallest class whose buffers hold n bytes: its index
// and size; ok is false above maxPooled.
func bodyClass(n int) (idx, size int, ok bool) {
	if n <= 1<<minPooledShift {
		return 0, 1 << minPooledShift, true
	}
	if n > maxPooled {
		return 0, 0, false
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	step := 1 << (k - 2)
	q := (n - 1<<k + step - 1) / step // 1..4
	return (k-minPooledShift)*4 + q, 1<<k + q*step, true
}

// bodyPool holds the buffers of large bodies by size class.
type bodyPool struct {
	classes [bodyClasses]sync.Pool
}

// get returns a free buffer holding n bytes (its whole capacity as
// buf), held once, or nil when there is none.
func (p *bodyPool) get(n int) *bodyBuf {
	idx, _, ok := bodyClass(n)
	if !ok {
		return nil
	}
	b, _ := p.classes[idx].Get().(*bodyBuf)
	if b != nil {
		b.buf = b.buf[:cap(b.buf)]
		b.refs.Store(1)
	}
	return b
}

// make returns a buffer of n bytes' class, held once: a free one, else a
// new one; nil above maxPooled.
func (p *bodyPool) make(n int) *bodyBuf {
	if b := p.get(n); b != nil {
		return b
	}
	idx, size, ok := bodyClass(n)
	if !ok {
		return nil
	}
	b := &bodyBuf{pool: &p.classes[idx], buf: make([]byte, size)}
	b.refs.Store(1)
	return b
}

// bodyBuf is a pooled body buffer, back in its pool when the last of
// those holding it lets go.
type bodyBuf struct {
	pool *sync.Pool
	buf  []byte
	refs atomic.Int32
}

// hold takes one more hold of b; the function it returns lets go of it
// (once, however often it is called).
func (b *bodyBuf) hold() (release func()) {
	b.refs.Add(1)
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			b.release()
		}
	}
}

// release lets go of one hold; nil does nothing.
func (b *bodyBuf) release() {
	if b == nil {
		return
	}
	if b.refs.Add(-1) == 0 {
		b.pool.Put(b)
	}
}
