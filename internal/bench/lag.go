package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The bench's own lag. A client that cannot keep up bends what it
// measures: a request sent late starts its clock late (an open loop's
// arrivals bunch up), and a chunk timestamped long after it was read
// from the socket moves TTFT and ITL. Every step therefore measures its
// own lag and is marked client-bound when the lag's 99th percentile is
// over a limit:
//
//   - send lag: from when a request was due (an open loop's scheduled
//     arrival, or when the cap on in-flight requests let it go; a closed
//     loop's worker taking its next request) to when the adapter sent it;
//   - read lag: from the socket read that brought a chunk's bytes to the
//     chunk's timestamp (HTTP and SSE parsing, the adapter, the
//     scheduler). It needs the bench's own HTTP client (NewHTTPClient),
//     whose connections note each read; with another client it is not
//     measured. Over HTTP/2 a connection carries several streams, and
//     the read is the connection's last one.

// Client-bound limits. A step is marked client-bound, and warned about,
// when a lag's 99th percentile is over the larger of a floor and a tenth
// of the figure it bends:
//
//   - read lag: MaxReadLagP99, or 10% of the step's ITL median (a chunk
//     timestamped late moves TTFT and the gaps between tokens);
//   - send lag: MaxSendLagP99, or 10% of an open loop's mean gap between
//     arrivals (1/rate: later, the arrivals are not the process asked
//     for), of a closed loop's TTFT median.
//
// A millisecond or two is the price of a loaded 2-core machine; the
// floors keep that from marking every step of a fast backend, the share
// keeps a few milliseconds against a 250 ms gap from marking a slow one.
const (
	MaxSendLagP99 = 10 * time.Millisecond
	MaxReadLagP99 = 5 * time.Millisecond
	// LagShare is the share of the bent figure a lag may take.
	LagShare = 0.10
)

// ClientLag is a step's own lag, in milliseconds.
type ClientLag struct {
	// SendMs: due to sent, per request.
	SendMs *Stats `json:"send_ms,omitempty"`
	// ReadMs: socket read to timestamp, per chunk (absent when the
	// target's HTTP client is not the bench's).
	ReadMs *Stats `json:"read_ms,omitempty"`
	// ClientBound is set when a p99 is over its limit; Why says which.
	ClientBound bool   `json:"client_bound,omitempty"`
	Why         string `json:"why,omitempty"`
	// WarmConnections counts the keep-alive connections opened (or found
	// open) before the step's clock started.
	WarmConnections int `json:"warm_connections"`
}

// clientLag summarises the records' lags. itlP50 and ttftP50 (ms, 0
// when unknown) and the step scale the limits.
func clientLag(recs []Record, warm int, s Step, itlP50, ttftP50 float64) *ClientLag {
	var send, read []float64
	for i := range recs {
		r := &recs[i]
		if !r.Start.IsZero() {
			send = append(send, msOf(r.sendLag))
		}
		for _, d := range r.readLag {
			read = append(read, msOf(d))
		}
	}
	l := &ClientLag{SendMs: Summarize(send), ReadMs: Summarize(read), WarmConnections: warm}
	var why []string
	over := func(name string, p99, floor, of float64, ofName string) {
		limit, what := floor, num3(floor)+" ms"
		if of*LagShare > floor {
			limit, what = of*LagShare, fmt.Sprintf("%s ms, %.0f%% of %s", num3(of*LagShare), 100*LagShare, ofName)
		}
		if p99 > limit {
			why = append(why, fmt.Sprintf("%s lag p99 %s ms > %s", name, num3(p99), what))
		}
	}
	if l.SendMs != nil {
		if s.Concurrency > 0 {
			over("send", l.SendMs.P99, msOf(MaxSendLagP99), ttftP50, "the TTFT median")
		} else {
			over("send", l.SendMs.P99, msOf(MaxSendLagP99), 1000/s.Rate, "the gap between arrivals")
		}
	}
	if l.ReadMs != nil {
		over("read", l.ReadMs.P99, msOf(MaxReadLagP99), itlP50, "the ITL median")
	}
	if len(why) > 0 {
		l.ClientBound, l.Why = true, strings.Join(why, ", ")
	}
	return l
}

func num3(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// NewHTTPClient is the HTTP client the bench's targets should use: the
// adapters' transport (bounded connect and header waits, no overall
// timeout) with an idle pool as large as any step's concurrency, whose
// connections note the time of each read for the read lag.
func NewHTTPClient() *http.Client {
	d := &timedDialer{d: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, base: time.Now()}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   4096,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

type timedDialer struct {
	d    net.Dialer
	base time.Time // the clock readings' origin (monotonic)
}

func (d *timedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, base: d.base}, nil
}

// timedConn notes when its last read returned bytes.
type timedConn struct {
	net.Conn
	base time.Time
	last atomic.Int64 // ns after base
}

func (c *timedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(int64(time.Since(c.base)))
	}
	return n, err
}

// lastRead is when the last read returned bytes (zero before any).
func (c *timedConn) lastRead() time.Time {
	ns := c.last.Load()
	if ns == 0 {
		return time.Time{}
	}
	return c.base.Add(time.Duration(ns))
}

// timedConnOf finds the timedConn under a connection the transport
// handed out (TLS wraps it).
func timedConnOf(c net.Conn) *timedConn {
	for range 4 {
		switch x := c.(type) {
		case *timedConn:
			return x
		case *tls.Conn:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// withConn returns ctx traced so that the connection a request gets is
// handed to got.
func withConn(ctx context.Context, got func(net.Conn)) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got(i.Conn) }})
}

// maxWarm bounds the connections opened before a step.
const maxWarm = 1024

// warmCount is how many connections a step will want: its concurrency,
// an open loop's cap on in flight, else a second's arrivals; never more
// requests than the step sends.
func (e *engine) warmCount(s Step) int {
	n := s.Concurrency
	if n == 0 {
		n = s.MaxConcurrency
		if n == 0 {
			n = int(math.Ceil(s.Rate))
		}
	}
	if e.o.Requests > 0 {
		n = min(n, e.o.Requests)
	}
	return max(1, min(n, maxWarm))
}

// prewarm opens n keep-alive connections to t before a step's clock
// starts, with n concurrent cheap requests (the adapter's Health: a
// model list or version, no tokens), so that no measured request pays
// for a dial or a TLS handshake. It returns the distinct connections
// the requests used; failures are left to the step to find.
func (e *engine) prewarm(ctx context.Context, t *Target, n int) int {
	var mu sync.Mutex
	seen := map[net.Conn]bool{}
	tctx := withConn(ctx, func(c net.Conn) {
		mu.Lock()
		seen[c] = true
		mu.Unlock()
	})
	// A request that ends before another begins hands its connection
	// on; a few rounds make up for that.
	for round := 0; round < 3 && ctx.Err() == nil; round++ {
		var wg, ready sync.WaitGroup
		ready.Add(n)
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				if err := t.Client.Health(tctx); err != nil && ctx.Err() == nil {
					e.log.Debug("warming a connection failed", "model", t.Model, "err", err)
				}
			}()
		}
		ready.Wait()
		close(start)
		wg.Wait()
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == 0 || got >= n {
			break // a client that reports no connection, or done
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return len(seen)
}
