package overhead

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/procmem"
)

// Options configure a run.
type Options struct {
	// GatewayBin is a built cmd/gateway.
	GatewayBin string
	// ProxyCmd starts the floor proxy; "-listen ADDR -target URL" are
	// appended (bench serves it with `bench overhead-proxy`).
	ProxyCmd []string
	// Core is the CPU the proxy and the gateway are pinned to (taskset),
	// each with GOMAXPROCS=1; "" runs them unpinned.
	Core string
	// Rate and Requests drive the fixed-rate unary and stream phases.
	Rate     float64
	Requests int
	// Chunks and Gap shape the upstream's stream.
	Chunks int
	Gap    time.Duration
	// Concurrency and Saturate drive the saturation phase.
	Concurrency int
	Saturate    time.Duration
	// Rounds interleaves the paths in short blocks (by default 30 rounds,
	// each a fifth of a second per path at the default rate), in an order
	// that rotates, so that a noisy spell on a shared machine falls on
	// every path alike instead of on whichever ran then.
	Rounds int
	// OpenRates, when set, add an open-loop phase at each rate
	// (requests/s): requests leave on schedule whatever the earlier ones
	// are doing, and each is timed from its scheduled send, so a stall
	// counts against every request it delays (no coordinated omission).
	// OpenRequests is the count per path and rate (default 5,000), cut
	// into OpenRounds interleaved blocks (default 10).
	OpenRates    []float64
	OpenRequests int
	OpenRounds   int
	// ImageRequests, when positive, adds a phase of unary requests whose
	// body is about 1 MB with one base64 image, sent at ImageRate
	// (default 50/s), interleaved with the other phases' rounds.
	ImageRequests int
	ImageRate     float64
	// GatewayEnv adds environment variables to the gateway process only
	// (for experiments such as GOGC=200).
	GatewayEnv []string
	// Key makes the gateway require a gateway key, with a policy whose
	// limits (rpm, tpm, concurrency, a budget) are checked but never
	// reached, and sends it with every request on every path (the
	// floor's and the upstream's ignore it): the run then measures
	// authentication, limits and the spend ledger too.
	Key bool
	// Redis, with Key, makes the gateway keep the key's limits in Redis
	// at this URL (state.redis, timeout 1s so that a slow answer on a
	// busy machine is measured rather than skipped): the run then
	// measures shared limits, one replica's share of the round trips.
	Redis string
	// Streams, when positive, adds the memory phase, run first on fresh
	// processes: each path's RSS at idle, then what each of Streams open
	// streams adds (RSS, goroutines) over StreamBase already open
	// (default 50), and the RSS AfterWait (default 5s) after they end.
	// MemoryOnly runs the idle reading and that phase alone.
	Streams    int
	StreamBase int
	AfterWait  time.Duration
	MemoryOnly bool
	Log        io.Writer
}

func (o *Options) defaults() {
	o.Rate = cmp.Or(o.Rate, 500)
	o.Requests = cmp.Or(o.Requests, 3000)
	o.Chunks = cmp.Or(o.Chunks, 20)
	o.Concurrency = cmp.Or(o.Concurrency, 64)
	o.Saturate = cmp.Or(o.Saturate, 5*time.Second)
	o.Rounds = cmp.Or(o.Rounds, 30)
	o.OpenRequests = cmp.Or(o.OpenRequests, 5000)
	o.OpenRounds = cmp.Or(o.OpenRounds, 10)
	o.ImageRate = cmp.Or(o.ImageRate, 50)
	o.StreamBase = cmp.Or(o.StreamBase, 50)
	o.AfterWait = cmp.Or(o.AfterWait, 5*time.Second)
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Path is one way to reach the upstream.
type Path struct {
	Name string `json:"name"`
	URL  string `json:"-"`
	pid  int
	// Unary latency at a fixed rate, and time to first streamed chunk.
	UnaryP50 time.Duration `json:"unary_p50"`
	UnaryP99 time.Duration `json:"unary_p99"`
	TTFTP50  time.Duration `json:"ttft_p50"`
	TTFTP99  time.Duration `json:"ttft_p99"`
	// RPS at saturation (closed loop, Concurrency workers).
	RPS float64 `json:"rps"`
	// Errors during the run.
	Errors int64 `json:"errors"`
	// Unary latency of the ~1 MB image body (ImageRequests).
	ImageP50 time.Duration `json:"image_p50,omitempty"`
	ImageP99 time.Duration `json:"image_p99,omitempty"`
	// PeakRSS and RSS of the process under test after saturation (bytes).
	PeakRSS int64 `json:"peak_rss_bytes"`
	RSS     int64 `json:"rss_bytes"`
	// Memory at idle and per open stream (the proxy and the gateway).
	Memory *Memory `json:"memory,omitempty"`

	unary, ttft, image []time.Duration
}

// OpenLoop is the open-loop phase at one rate.
type OpenLoop struct {
	Rate    float64       `json:"rate"`
	Direct  *OpenLoopPath `json:"direct"`
	Proxy   *OpenLoopPath `json:"proxy"`
	Gateway *OpenLoopPath `json:"gateway"`
}

// OpenLoopPath is one path's latency in an open-loop phase, each request
// timed from its scheduled send.
type OpenLoopPath struct {
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	P999   time.Duration `json:"p99_9"`
	Errors int64         `json:"errors"`
	// Late counts requests the load generator sent more than a
	// millisecond after their scheduled time (the generator fell behind).
	Late int64 `json:"late"`
	lat  []time.Duration
}

// Report is the result of a run.
type Report struct {
	Options Options `json:"-"`
	Direct  *Path   `json:"direct"`
	Proxy   *Path   `json:"proxy"`
	Gateway *Path   `json:"gateway"`
	// Open is the open-loop phase, one entry per rate.
	Open []*OpenLoop `json:"open_loop,omitempty"`
}

// Added latency of a path over direct.
func (r *Report) Added(p *Path) (p50, p99, ttft50 time.Duration) {
	return p.UnaryP50 - r.Direct.UnaryP50, p.UnaryP99 - r.Direct.UnaryP99, p.TTFTP50 - r.Direct.TTFTP50
}

// Run starts the upstream in this process, the proxy and the gateway as
// pinned child processes, and measures every path.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	up := NewUpstream(o.Chunks, o.Gap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	usrv := &http.Server{Handler: up}
	go usrv.Serve(ln)
	defer usrv.Close()
	upURL := "http://" + ln.Addr().String()

	dir, err := os.MkdirTemp("", "tiergate-overhead")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	proxyAddr, gwAddr := freeAddr(), freeAddr()
	proxy, err := startPinned(ctx, o.Core, append(append([]string{}, o.ProxyCmd...), "-listen", proxyAddr, "-target", upURL), nil, filepath.Join(dir, "proxy.log"))
	if err != nil {
		return nil, fmt.Errorf("start proxy: %w", err)
	}
	defer stop(proxy)
	cfg := filepath.Join(dir, "gateway.yaml")
	// max_concurrent above the memory phase's open streams.
	yaml := "server:\n  max_concurrent: " + strconv.Itoa(max(1024, 2*(o.StreamBase+o.Streams))) + "\n"
	if o.Key {
		yaml += "  data_dir: " + strconv.Quote(filepath.Join(dir, "data")) + "\n"
	}
	yaml += "providers:\n  up:\n    type: openai\n    base_url: " + upURL + "/v1\n    api_key_env: UP_KEY\nmodels:\n  - {id: m, provider: up, upstream: m, openness: proprietary, deployment: saas, tasks: [chat, vision]}\n"
	var transport http.RoundTripper = &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}
	if o.Key {
		secret, err := keys.NewSecret()
		if err != nil {
			return nil, err
		}
		yaml += "auth:\n  keys:\n    - name: bench\n      hash: " + keys.HashSecret(secret).String() +
			"\n      policy: {rpm: 100000, tpm: 1000000000, max_concurrent: 100000, budget: {usd: 1000000, period: month}}\n"
		transport = &withKey{next: transport, value: "Bearer " + secret}
		if o.Redis != "" {
			yaml += "state:\n  redis: " + strconv.Quote(o.Redis) + "\n  timeout: 1s\n"
		}
	}
	os.WriteFile(cfg, []byte(yaml), 0o644)
	gw, err := startPinned(ctx, o.Core, []string{o.GatewayBin, "-config", cfg, "-addr", gwAddr, "-log-level", "warn"}, append([]string{"UP_KEY=k"}, o.GatewayEnv...), filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	defer stop(gw)
	for _, a := range []string{proxyAddr, gwAddr} {
		if err := waitTCP(ctx, a); err != nil {
			return nil, err
		}
	}
	rep := &Report{Options: o,
		Direct:  &Path{Name: "direct", URL: upURL},
		Proxy:   &Path{Name: "reverseproxy", URL: "http://" + proxyAddr, pid: proxy.Process.Pid},
		Gateway: &Path{Name: "gateway", URL: "http://" + gwAddr, pid: gw.Process.Pid},
	}
	paths := []*Path{rep.Direct, rep.Proxy, rep.Gateway}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	// Idle memory, before any request; then, on fresh processes, what
	// an open stream costs.
	time.Sleep(2 * time.Second)
	rep.Proxy.Memory, rep.Gateway.Memory = idleMemory(rep.Proxy), idleMemory(rep.Gateway)
	if o.Streams > 0 {
		probe := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}} // one connection each, kept between readings
		defer probe.CloseIdleConnections()
		for _, p := range []*Path{rep.Proxy, rep.Gateway} {
			// A few streams first, so that first-use costs (code
			// paged in, pools made) fall outside the measurement.
			fmt.Fprintf(o.Log, "memory: %d streams held open on %s over %d\n", o.Streams, p.Name, o.StreamBase)
			count := gatewayGoroutines(probe, p.URL)
			if p == rep.Proxy {
				count = proxyGoroutines(probe, p.URL)
			}
			for range 10 {
				one(ctx, client, p.URL, streamBody, true, time.Time{})
			}
			if err := heldStreams(ctx, up, client, p, o.StreamBase, o.Streams, o.AfterWait, count); err != nil {
				return nil, err
			}
		}
	}
	if o.MemoryOnly {
		return rep, nil
	}

	// Warm every path (connections, code paths).
	for _, p := range paths {
		fixedRate(ctx, client, p, 200, 400, chatBody, false, &p.Errors)
		p.unary = nil
	}
	imgPer := 0
	if o.ImageRequests > 0 {
		imgPer = max(o.ImageRequests/o.Rounds, 1)
	}
	per := max(o.Requests/o.Rounds, 4)
	const warmup = 5
	for round := 0; round < o.Rounds; round++ {
		fmt.Fprintf(o.Log, "round %d/%d: %d unary requests at %.0f/s, then %d streams at %.0f/s, per path\n",
			round+1, o.Rounds, per, o.Rate, per/4, o.Rate/4)
		// Each block begins with a few requests that are not counted: a
		// process that sat idle while the others ran starts cold (caches,
		// idle connections), and that would be a cost of the interleaving,
		// not of the path.
		order := []*Path{paths[round%3], paths[(round+1)%3], paths[(round+2)%3]}
		for _, p := range order {
			fixedRate(ctx, client, p, o.Rate, warmup, chatBody, false, &p.Errors)
			p.unary = append(p.unary, fixedRate(ctx, client, p, o.Rate, per, chatBody, false, &p.Errors)...)
		}
		for _, p := range order {
			fixedRate(ctx, client, p, o.Rate/4, warmup, streamBody, true, &p.Errors)
			p.ttft = append(p.ttft, fixedRate(ctx, client, p, o.Rate/4, per/4, streamBody, true, &p.Errors)...)
		}
		if imgPer > 0 {
			for _, p := range order {
				fixedRate(ctx, client, p, o.ImageRate, 1, imageBody, false, &p.Errors)
				p.image = append(p.image, fixedRate(ctx, client, p, o.ImageRate, imgPer, imageBody, false, &p.Errors)...)
			}
		}
	}
	for _, p := range paths {
		p.UnaryP50, p.UnaryP99 = pct(p.unary, 50), pct(p.unary, 99)
		p.TTFTP50, p.TTFTP99 = pct(p.ttft, 50), pct(p.ttft, 99)
		p.ImageP50, p.ImageP99 = pct(p.image, 50), pct(p.image, 99)
	}
	for _, rate := range o.OpenRates {
		if rate <= 0 || ctx.Err() != nil {
			continue
		}
		ol := &OpenLoop{Rate: rate, Direct: &OpenLoopPath{}, Proxy: &OpenLoopPath{}, Gateway: &OpenLoopPath{}}
		olp := []*OpenLoopPath{ol.Direct, ol.Proxy, ol.Gateway}
		block := max(o.OpenRequests/o.OpenRounds, 10)
		fmt.Fprintf(o.Log, "open loop at %.0f/s: %d rounds of %d requests per path\n", rate, o.OpenRounds, block)
		for round := 0; round < o.OpenRounds && ctx.Err() == nil; round++ {
			for k := range 3 {
				i := (round + k) % 3
				var discard OpenLoopPath
				openLoop(ctx, client, paths[i].URL, rate, max(block/20, 5), &discard)
				openLoop(ctx, client, paths[i].URL, rate, block, olp[i])
			}
		}
		for _, op := range olp {
			op.P50, op.P99, op.P999 = pct(op.lat, 50), pct(op.lat, 99), pct(op.lat, 99.9)
		}
		rep.Open = append(rep.Open, ol)
	}
	for _, p := range []*Path{rep.Proxy, rep.Gateway} {
		fmt.Fprintf(o.Log, "saturating %s with %d workers for %v\n", p.Name, o.Concurrency, o.Saturate)
		p.RPS = saturate(ctx, client, p, o.Concurrency, o.Saturate)
		m, _ := procmem.Read(p.pid) // zero where there is no /proc
		p.PeakRSS, p.RSS = m.Peak, m.RSS
	}
	return rep, nil
}

// withKey sends a gateway key with every request.
type withKey struct {
	next  http.RoundTripper
	value string
}

func (k *withKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", k.value)
	return k.next.RoundTrip(r)
}

func (k *withKey) CloseIdleConnections() {
	if c, ok := k.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

var chatBody = []byte(`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"temperature":0.2}`)
var imageBody = makeImageBody(1 << 20)
var streamBody = []byte(`{"model":"m","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"temperature":0.2}`)

// makeImageBody is a unary chat body of about size bytes, most of them a
// base64 image in a data URL, as a vision request sends it.
func makeImageBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,`)
	for b.Len() < size-40 {
		b.WriteString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg")
	}
	b.WriteString(`"}}]}],"max_tokens":300}`)
	return b.Bytes()
}

// one sends one request; for streams it returns the time to the first
// content chunk, else the time to the whole answer, counted from start
// (the zero time: from now).
func one(ctx context.Context, c *http.Client, url string, body []byte, stream bool, start time.Time) (time.Duration, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if start.IsZero() {
		start = time.Now()
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	if !stream {
		_, err := io.Copy(io.Discard, resp.Body)
		return time.Since(start), err
	}
	br := bufio.NewReader(resp.Body)
	var first time.Duration
	for {
		line, err := br.ReadSlice('\n')
		if first == 0 && bytes.Contains(line, []byte(`"content":"tok`)) {
			first = time.Since(start)
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return first, err
		}
	}
}

func fixedRate(ctx context.Context, c *http.Client, p *Path, rate float64, n int, body []byte, stream bool, errs *int64) []time.Duration {
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := one(ctx, c, p.URL, body, stream, time.Time{})
			if err != nil {
				atomic.AddInt64(errs, 1)
				d = -1
			}
			out[i] = d
		}(i)
	}
	wg.Wait()
	kept := out[:0]
	for _, d := range out {
		if d > 0 {
			kept = append(kept, d)
		}
	}
	return kept
}

// openLoop sends n unary requests to url at rate, each at its scheduled
// time whatever the earlier ones are doing, and appends to op.lat each
// one's latency from its scheduled send. It is bounded in time: requests
// still out ten seconds after the last was due count as errors.
func openLoop(ctx context.Context, c *http.Client, url string, rate float64, n int, op *OpenLoopPath) {
	interval := time.Duration(float64(time.Second) / rate)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(n)*interval+10*time.Second)
	defer cancel()
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	var errs, late int64
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if d < -time.Millisecond {
			late++
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			d, err := one(ctx, c, url, chatBody, false, due)
			if err != nil {
				atomic.AddInt64(&errs, 1)
				d = -1
			}
			out[i] = d
		}(i, due)
	}
	wg.Wait()
	for _, d := range out {
		if d > 0 {
			op.lat = append(op.lat, d)
		}
	}
	op.Errors += errs
	op.Late += late
}

func saturate(ctx context.Context, c *http.Client, p *Path, workers int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := one(ctx, c, p.URL, chatBody, false, time.Time{}); err == nil {
					atomic.AddInt64(&done, 1)
				} else if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					atomic.AddInt64(&p.Errors, 1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done) / time.Since(start).Seconds()
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func startPinned(ctx context.Context, core string, argv, env []string, logPath string) (*exec.Cmd, error) {
	if core != "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			argv = append([]string{"taskset", "-c", core}, argv...)
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "GOMAXPROCS=1"), env...)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, cmd.Start()
}

func stop(c *exec.Cmd) {
	c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.Process.Kill()
		<-done
	}
}

func waitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start listening", addr)
}

// ServeProxy runs the floor proxy until ctx ends (for `bench overhead-proxy`).
func ServeProxy(ctx context.Context, listen, target string) error {
	h, err := NewProxy(target)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == GoroutinesPath {
			io.WriteString(w, strconv.Itoa(runtime.NumGoroutine()))
			return
		}
		h.ServeHTTP(w, r)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// Format writes the report as a table with the targets' verdicts.
func (r *Report) Format(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	if r.Options.Key {
		fmt.Fprintln(w, "every request sends a gateway key; the gateway checks it and its limits and writes the spend ledger")
	}
	if r.Options.Key && r.Options.Redis != "" {
		fmt.Fprintln(w, "the key's limits are kept in Redis (state.redis), as several replicas share them")
	}
	if !r.Options.MemoryOnly {
		r.formatLatency(w, ms)
	}
	r.formatMemory(w)
}

// formatLatency writes the latency and throughput figures.
func (r *Report) formatLatency(w io.Writer, ms func(time.Duration) string) {
	fmt.Fprintf(w, "%-13s %12s %12s %12s %12s %10s %10s %7s\n", "path", "unary p50", "unary p99", "ttft p50", "ttft p99", "rps(1cpu)", "peak RSS", "errors")
	for _, p := range []*Path{r.Direct, r.Proxy, r.Gateway} {
		rps, mem := "-", "-"
		if p.RPS > 0 {
			rps = fmt.Sprintf("%.0f", p.RPS)
			mem = fmt.Sprintf("%.1f MB", float64(p.PeakRSS)/1e6)
		}
		fmt.Fprintf(w, "%-13s %12s %12s %12s %12s %10s %10s %7d\n", p.Name, ms(p.UnaryP50), ms(p.UnaryP99), ms(p.TTFTP50), ms(p.TTFTP99), rps, mem, p.Errors)
	}
	pa50, pa99, pt := r.Added(r.Proxy)
	ga50, ga99, gt := r.Added(r.Gateway)
	fmt.Fprintf(w, "\nadded over direct     p50 %s   p99 %s   first chunk p50 %s   (reverseproxy: the floor)\n", ms(pa50), ms(pa99), ms(pt))
	fmt.Fprintf(w, "added over direct     p50 %s   p99 %s   first chunk p50 %s   (gateway)\n", ms(ga50), ms(ga99), ms(gt))
	ratio := func(a, b time.Duration) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	verdict := func(ok bool) string {
		if ok {
			return "meets target"
		}
		return "MISSES target"
	}
	lr := ratio(ga50, pa50)
	fmt.Fprintf(w, "gateway/floor added p50 latency: %.2fx (target <= 1.25x): %s\n", lr, verdict(lr <= 1.25))
	lr99 := ratio(ga99, pa99)
	fmt.Fprintf(w, "gateway/floor added p99 latency: %.2fx (target <= 1.25x): %s\n", lr99, verdict(lr99 <= 1.25))
	tr := 0.0
	if r.Proxy.RPS > 0 {
		tr = r.Gateway.RPS / r.Proxy.RPS
	}
	fmt.Fprintf(w, "gateway/floor saturated throughput: %.2fx (target >= 0.75x): %s\n", tr, verdict(tr >= 0.75))
	if r.Direct.ImageP50 > 0 {
		pi, gi := r.Proxy.ImageP50-r.Direct.ImageP50, r.Gateway.ImageP50-r.Direct.ImageP50
		ir := ratio(gi, pi)
		fmt.Fprintf(w, "\n~1 MB image body (unary, %d per path): p50 direct %s, added: floor %s, gateway %s\n", len(r.Direct.image), ms(r.Direct.ImageP50), ms(pi), ms(gi))
		fmt.Fprintf(w, "gateway/floor added p50 latency, 1 MB image body: %.2fx (target <= 2x): %s\n", ir, verdict(ir <= 2))
	}
	for _, ol := range r.Open {
		fmt.Fprintf(w, "\nopen loop at %.0f requests/s (each request timed from its scheduled send)\n", ol.Rate)
		fmt.Fprintf(w, "%-13s %12s %12s %12s %7s %7s\n", "path", "p50", "p99", "p99.9", "errors", "late")
		for _, x := range []struct {
			name string
			p    *OpenLoopPath
		}{{"direct", ol.Direct}, {"reverseproxy", ol.Proxy}, {"gateway", ol.Gateway}} {
			fmt.Fprintf(w, "%-13s %12s %12s %12s %7d %7d\n", x.name, ms(x.p.P50), ms(x.p.P99), ms(x.p.P999), x.p.Errors, x.p.Late)
		}
		added := func(p *OpenLoopPath) [3]time.Duration {
			return [3]time.Duration{p.P50 - ol.Direct.P50, p.P99 - ol.Direct.P99, p.P999 - ol.Direct.P999}
		}
		fa, ga := added(ol.Proxy), added(ol.Gateway)
		fmt.Fprintf(w, "added over direct     p50 %s   p99 %s   p99.9 %s   (reverseproxy: the floor)\n", ms(fa[0]), ms(fa[1]), ms(fa[2]))
		fmt.Fprintf(w, "added over direct     p50 %s   p99 %s   p99.9 %s   (gateway)\n", ms(ga[0]), ms(ga[1]), ms(ga[2]))
		fmt.Fprintf(w, "gateway/floor at %.0f/s: p50 %.2fx  p99 %.2fx  p99.9 %.2fx  (added latency)\n", ol.Rate, ratio(ga[0], fa[0]), ratio(ga[1], fa[1]), ratio(ga[2], fa[2]))
	}
}
