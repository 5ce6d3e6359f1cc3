package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// TestBodySizes: bodies of every size around the read buffer's and the
// pieces' edges, with and without a Content-Length, reach the upstream
// byte for byte (but for the model the gateway resolves, which here is
// the same name); each is sent four times (once chunked), so that the large ones are
// also read straight into a pooled buffer another body left, and one
// body's bytes never show in the next.
func TestBodySizes(t *testing.T) {
	emu, gw := withOpenAI(t, openaiemu.Options{})
	for _, n := range []int{0, 100, 16<<10 - 80, 16 << 10, 16<<10 + 1, 80 << 10, 80<<10 + 7, 400 << 10} {
		for i, chunked := range []bool{false, true, false, false} {
			text := strings.Repeat(string(rune('a'+i)), n)
			body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + text + `"}],"stream_options":null}`)
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd) // no length known: sent chunked
			}
			req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions", rd)
			req.Header.Set("Content-Type", "application/json")
			before := len(emu.Requests())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d bytes (chunked %v): %d %s", n, chunked, resp.StatusCode, b)
			}
			reqs := emu.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("%d bytes: %d requests reached the upstream", n, len(reqs)-before)
			}
			if got := reqs[len(reqs)-1].Body; !bytes.Contains(got, []byte(`"content":"`+text+`"`)) {
				t.Errorf("%d bytes (chunked %v): the upstream got %d bytes, not the client's content", n, chunked, len(got))
			}
		}
	}
}
