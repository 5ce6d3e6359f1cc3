package gateway_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/overhead"
)

// BenchmarkHotPath compares, in one run against the same upstream, a
// request sent directly, through a bare httputil.ReverseProxy (the floor)
// and through the gateway. Compare ns/op and allocs/op of the three:
//
//	go test -run XXX -bench HotPath -benchmem ./internal/gateway
func BenchmarkHotPath(b *testing.B) {
	up := httptest.NewServer(overhead.NewUpstream(20, 0))
	defer up.Close()
	proxyH, _ := overhead.NewProxy(up.URL)
	proxy := httptest.NewServer(proxyH)
	defer proxy.Close()
	cfg, err := config.Load("bench", []byte("providers:\n  up:\n    type: openai\n    base_url: "+up.URL+"/v1\n    api_key_env: K\nmodels:\n  - {id: m, provider: up, upstream: m, openness: proprietary, deployment: saas, tasks: [chat, vision]}\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	getenv := func(string) string { return "k" }
	gw := apptest.Start(b, cfg, app.Options{Getenv: getenv})
	// The same gateway requiring a key whose every limit is checked (and
	// never reached), the spend ledger written: "unary-key" measures what
	// authentication and limits add.
	secret, err := keys.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	keyed, err := config.Load("bench", []byte("server:\n  data_dir: "+strconv.Quote(b.TempDir())+"\nauth:\n  keys:\n    - name: bench\n      hash: "+keys.HashSecret(secret).String()+
		"\n      policy: {rpm: 100000, tpm: 1000000000, max_concurrent: 100000, budget: {usd: 1000000, period: month}}\n"+
		"providers:\n  up:\n    type: openai\n    base_url: "+up.URL+"/v1\n    api_key_env: K\nmodels:\n  - {id: m, provider: up, upstream: m, openness: proprietary, deployment: saas, tasks: [chat, vision]}\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	gwKey := apptest.Start(b, keyed, app.Options{Getenv: getenv})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	unary := []byte(`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"temperature":0.2}`)
	stream := []byte(`{"model":"m","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"temperature":0.2}`)
	// The same stream routed by the policy (model "auto") rather than pinned.
	streamAuto := bytes.Replace(stream, []byte(`"model":"m"`), []byte(`"model":"auto"`), 1)
	// A ~1 MB unary body with one base64 image, as vision clients send.
	image := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` +
		strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA", 1<<20/24) + `"}}]}]}`)
	for _, body := range []struct {
		name string
		b    []byte
		key  bool
	}{{"unary", unary, false}, {"unary-key", unary, true}, {"stream", stream, false}, {"stream-auto", streamAuto, false}, {"image", image, false}} {
		for _, path := range []struct{ name, url string }{{"direct", up.URL}, {"reverseproxy", proxy.URL}, {"gateway", gw.URL}} {
			if body.key && path.name == "gateway" {
				path.url = gwKey.URL
			}
			if body.name == "stream-auto" && path.name != "gateway" {
				continue // the same bytes as "stream" to them
			}
			streamed := strings.HasPrefix(body.name, "stream")
			b.Run(body.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				var ttft atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest("POST", path.url+"/v1/chat/completions", bytes.NewReader(body.b))
						req.Header.Set("Content-Type", "application/json")
						if body.key {
							req.Header.Set("Authorization", "Bearer "+secret)
						}
						t0 := time.Now()
						resp, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						if streamed {
							// Time to the first content chunk, as a client
							// times its first token.
							br := bufio.NewReader(resp.Body)
							for {
								line, err := br.ReadSlice('\n')
								if bytes.Contains(line, []byte(`"content":"tok`)) {
									ttft.Add(int64(time.Since(t0)))
									break
								}
								if err != nil {
									b.Fatal("no content chunk: ", err)
								}
							}
							io.Copy(io.Discard, br)
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Fatalf("status %d", resp.StatusCode)
						}
					}
				})
				if streamed {
					b.ReportMetric(float64(ttft.Load())/float64(b.N)/1e3, "µs-to-first-chunk")
				}
			})
		}
	}
	client.CloseIdleConnections()
}
