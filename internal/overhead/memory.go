package overhead

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/procmem"
)

// Memory is what a process under test holds: at idle after start, per
// open stream, and after a burst of open streams has ended. Bytes are
// resident set sizes from /proc (zero where there is none).
type Memory struct {
	// Idle is the RSS after start, before any request, split into the
	// process's own pages (anon: heap, stacks) and mapped files' (file:
	// mostly the executable's, clean page cache shared with whatever
	// else maps it).
	IdleRSS  int64 `json:"idle_rss_bytes"`
	IdleAnon int64 `json:"idle_anon_bytes"`
	IdleFile int64 `json:"idle_file_bytes"`
	// Streams were held open at once (after Base streams already were,
	// so that connection pools and first-use costs are out of the
	// difference); StreamBytes and StreamGoroutines are what each added.
	Streams          int     `json:"streams"`
	Base             int     `json:"base_streams"`
	StreamBytes      float64 `json:"stream_bytes"`
	StreamGoroutines float64 `json:"stream_goroutines"`
	// BurstRSS is the RSS with every stream open; AfterRSS is the RSS
	// AfterWait after they all ended.
	BurstRSS  int64         `json:"burst_rss_bytes"`
	AfterRSS  int64         `json:"after_rss_bytes"`
	AfterWait time.Duration `json:"after_wait"`
}

// idleMemory reads p's memory after start.
func idleMemory(p *Path) *Memory {
	m, _ := procmem.Read(p.pid)
	return &Memory{IdleRSS: m.RSS, IdleAnon: m.Anon, IdleFile: m.File}
}

// heldStreams measures what an open stream costs on p: it opens base
// streams that the upstream holds after their first content chunk, then
// n more, reading p's RSS and goroutines (goroutines answers them) at
// both levels once they have settled, then releases them all and reads
// the RSS again after wait. The client's connections to p are closed
// first, so that each stream has its own connection at both levels.
func heldStreams(ctx context.Context, up *Upstream, c *http.Client, p *Path, base, n int, wait time.Duration, goroutines func() (int, error)) error {
	mem := p.Memory
	mem.Base, mem.Streams, mem.AfterWait = base, n, wait
	c.CloseIdleConnections()
	release := up.Hold()
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, base+n)
	open := func(k int) error {
		first := make(chan struct{}, k)
		for range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A stream the proxy under test drops before its first
				// chunk (seldom: the floor, at a thousand new
				// connections at once) is sent again, twice at most.
				// One it drops after that is counted as an error of
				// the run.
				for try := 0; ; try++ {
					started, err := holdOne(ctx, c, p.URL, first)
					switch {
					case err == nil:
					case started:
						atomic.AddInt64(&p.Errors, 1)
					case try < 2:
						continue
					default:
						errs <- err
					}
					return
				}
			}()
		}
		for range k {
			select {
			case <-first:
			case err := <-errs:
				return err
			case <-ctx.Done():
				return fmt.Errorf("%s: streams did not open: %w", p.Name, ctx.Err())
			}
		}
		return nil
	}
	settle := func() (procmem.Memory, int, error) {
		time.Sleep(time.Second)
		m, _ := procmem.Read(p.pid)
		g, err := goroutines()
		return m, g, err
	}
	if err := open(base); err != nil {
		return err
	}
	m0, g0, err := settle()
	if err != nil {
		return err
	}
	if err := open(n); err != nil {
		return err
	}
	m1, g1, err := settle()
	if err != nil {
		return err
	}
	mem.BurstRSS = m1.RSS
	mem.StreamBytes = float64(m1.RSS-m0.RSS) / float64(n)
	mem.StreamGoroutines = float64(g1-g0) / float64(n)
	release()
	released = true
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	c.CloseIdleConnections()
	time.Sleep(wait)
	m2, _ := procmem.Read(p.pid)
	mem.AfterRSS = m2.RSS
	return nil
}

// holdOne sends one stream, signals first when its first content chunk
// arrives, and reads it to its end; started says whether it signalled.
func holdOne(ctx context.Context, c *http.Client, url string, first chan<- struct{}) (started bool, err error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", bytes.NewReader(streamBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("held stream: status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadSlice('\n')
		if !started && bytes.Contains(line, []byte(`"content":"tok`)) {
			started = true
			first <- struct{}{}
		}
		if err == io.EOF && started {
			return true, nil
		}
		if err != nil {
			return started, fmt.Errorf("held stream (first chunk seen: %v): %v", started, err)
		}
	}
}

// proxyGoroutines asks the floor proxy for its goroutine count.
func proxyGoroutines(c *http.Client, base string) func() (int, error) {
	return func() (int, error) {
		b, err := get(c, base+GoroutinesPath)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
}

// gatewayGoroutines reads go_goroutines from the gateway's /metrics.
func gatewayGoroutines(c *http.Client, base string) func() (int, error) {
	return func() (int, error) {
		b, err := get(c, base+"/metrics")
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return int(f), err
			}
		}
		return 0, fmt.Errorf("%s/metrics has no go_goroutines", base)
	}
}

func get(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return b, err
}

// formatMemory writes the memory figures with the targets' verdicts.
func (r *Report) formatMemory(w io.Writer) {
	f, g := r.Proxy.Memory, r.Gateway.Memory
	if f == nil || g == nil || g.IdleRSS == 0 {
		return
	}
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	verdict := func(ok bool) string {
		if ok {
			return "meets target"
		}
		return "MISSES target"
	}
	fmt.Fprintf(w, "\nmemory (RSS from /proc; anon: the process's own pages, file: mapped pages of the executable, shared page cache)\n")
	fmt.Fprintf(w, "%-13s %10s %10s %10s", "path", "idle RSS", "anon", "file")
	if g.Streams > 0 {
		fmt.Fprintf(w, " %12s %14s %11s %12s", "per stream", "goroutines/st", "open RSS", "RSS after")
	}
	fmt.Fprintln(w)
	for _, x := range []struct {
		name string
		m    *Memory
	}{{r.Proxy.Name, f}, {r.Gateway.Name, g}} {
		fmt.Fprintf(w, "%-13s %10s %10s %10s", x.name, mb(x.m.IdleRSS), mb(x.m.IdleAnon), mb(x.m.IdleFile))
		if g.Streams > 0 {
			fmt.Fprintf(w, " %9.1f KB %14.2f %11s %12s", x.m.StreamBytes/1e3, x.m.StreamGoroutines, mb(x.m.BurstRSS), mb(x.m.AfterRSS))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "gateway idle RSS: %s (target <= 20 MB): %s  (the floor runs in the bench binary, which links the SDKs too: its idle RSS is not a bare proxy's)\n",
		mb(g.IdleRSS), verdict(g.IdleRSS <= 20e6))
	if g.Streams > 0 {
		fmt.Fprintf(w, "gateway per open stream (%d open over %d): %.1f KB, floor %.1f KB (target <= floor): %s\n", g.Streams, g.Base,
			g.StreamBytes/1e3, f.StreamBytes/1e3, verdict(g.StreamBytes <= f.StreamBytes))
		fmt.Fprintf(w, "gateway goroutines per open stream: %.2f, floor %.2f (target <= 3): %s\n", g.StreamGoroutines, f.StreamGoroutines,
			verdict(g.StreamGoroutines <= 3.05))
		if r.Options.MemoryOnly && r.Proxy.Errors+r.Gateway.Errors > 0 {
			fmt.Fprintf(w, "held streams dropped after their first chunk: floor %d, gateway %d\n", r.Proxy.Errors, r.Gateway.Errors)
		}
		fmt.Fprintf(w, "RSS %v after the %d streams ended: gateway %s (open: %s), floor %s (open: %s)\n", g.AfterWait, g.Base+g.Streams,
			mb(g.AfterRSS), mb(g.BurstRSS), mb(f.AfterRSS), mb(f.BurstRSS))
	}
}
