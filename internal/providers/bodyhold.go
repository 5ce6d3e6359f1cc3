package providers

import (
	"context"
	"io"
	"sync"
)

type bodyHoldKey struct{}

// WithBodyHold returns ctx carrying hold: the gateway's way of knowing
// when the upstream requests are done with the client's body, whose buffer
// it reuses once they are. hold takes a hold of the body; the function it
// returns lets go of it.
func WithBodyHold(ctx context.Context, hold func() (release func())) context.Context {
	return context.WithValue(ctx, bodyHoldKey{}, hold)
}

// HeldBody is rd as an upstream request's body when the request may send
// slices of the client's body (a pass-through adapter's): it holds the
// body (WithBodyHold) until the transport closes it, and reads nothing
// after that, even should the transport call Read once more. Without a
// hold in ctx it is rd as it is, closing nothing.
func HeldBody(ctx context.Context, rd io.Reader) io.ReadCloser {
	hold, _ := ctx.Value(bodyHoldKey{}).(func() func())
	if hold == nil {
		return io.NopCloser(rd)
	}
	return &heldBody{rd: rd, release: hold()}
}

type heldBody struct {
	mu      sync.Mutex
	rd      io.Reader // nil once closed
	release func()
}

func (h *heldBody) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rd == nil {
		return 0, io.ErrClosedPipe
	}
	return h.rd.Read(p)
}

func (h *heldBody) Close() error {
	h.mu.Lock()
	rd := h.rd
	h.rd = nil
	h.mu.Unlock()
	if rd != nil {
		h.release()
	}
	return nil
}
