package providers

import (
	"io"
	"time"
)

// DrainWait bounds how long Drain waits for the end of a body.
const DrainWait = 50 * time.Millisecond

// drainMax bounds how much of a body Drain reads and discards.
const drainMax = 64 << 10

// Drain reads what is left of a streamed response body once its end
// marker ([DONE], a final "done" line) has been seen: normally nothing but
// the end of the HTTP body, which arrives at once. An HTTP client reuses
// a connection only when its body was read to the end; closing it earlier
// closes the connection, and the next request pays for a new one. An
// upstream that keeps the body open (or sends more than drainMax) is cut
// after wait, as if the body were closed early.
func Drain(body io.ReadCloser, wait time.Duration) {
	t := time.AfterFunc(wait, func() { body.Close() })
	io.Copy(io.Discard, io.LimitReader(body, drainMax))
	t.Stop()
}
