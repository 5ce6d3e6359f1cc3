package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// TestSIGKILLKeepsSettledRequests: a gateway killed with SIGKILL in the
// middle of traffic has every request whose 200 the client had read more
// than half a second before the kill in its spend ledger ("a crash loses
// at most the requests in flight"). The writer commits each batch as soon
// as the last commit returned; a commit is an fsync (synchronous=FULL),
// which on a busy shared disk was seen to take up to 150 ms, hence the
// margin.
func TestSIGKILLKeepsSettledRequests(t *testing.T) {
	bin := build(t)
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := keys.OpenSQLite(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := keys.NewSecret()
	if err := st.Create(ctx, keys.Key{ID: "key_load", Name: "load", Hash: keys.HashSecret(secret), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cmd, addr, _ := startGateway(t, bin, "  data_dir: "+filepath.Join(dir, "data")+"\n", emu.URL)
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	waitUp(t, addr)

	const clients, perClient = 4, 2000
	const margin = 500 * time.Millisecond
	var mu sync.Mutex
	var done []time.Time // when each 200 was read in full
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for range perClient {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi there"}]}`))
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := hc.Do(req)
				if err != nil {
					return // the gateway is gone
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					mu.Lock()
					done = append(done, time.Now())
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(800 * time.Millisecond)
	kill := time.Now()
	cmd.Process.Kill() // SIGKILL: no shutdown, no flush
	killed = true
	cmd.Wait()
	close(stop)
	wg.Wait()

	settled := 0
	for _, at := range done {
		if at.Before(kill.Add(-margin)) {
			settled++
		}
	}
	if settled < 10 {
		t.Fatalf("only %d requests settled before the kill: too little traffic to tell", settled)
	}
	st, err = keys.OpenSQLite(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.Usage(ctx, "key_load", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Requests < int64(settled) || u.Requests > int64(len(done))+clients {
		t.Errorf("the ledger holds %d requests; the clients saw %d settle more than %v before the kill and %d in all", u.Requests, settled, margin, len(done))
	}
	t.Logf("ledger %d, settled before kill-margin %d, completed %d", u.Requests, settled, len(done))
}
