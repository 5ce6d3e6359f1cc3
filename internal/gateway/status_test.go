package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/observe/statuspage"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// TestStatusPageFacts drives a fleet and reads /status.json as the page
// does: a backend that answered 429 with Retry-After is cooling down
// until then, one that streamed is healthy with live figures measured
// just now (not "never"), each has its openness, deployment and its
// requests in the window; a key with 4 of its 5 rpm used is near its
// limit, its secret appears nowhere, and the request over the limit is
// counted in tiergate_key_refused_total.
func TestStatusPageFacts(t *testing.T) {
	secret, err := keys.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	f := startFleetWith(t, 5*time.Second, "auth:\n  keys:\n    - {name: ops, key: ${KEY_OPS}, policy: {rpm: 5, budget: {usd: 10, period: day}}}\n",
		map[string]string{"KEY_OPS": secret})
	f.groq.SetOptions(openaiemu.Options{APIKey: "k2", Fault: openaiemu.Fault{Status: 429, Message: "slow down", RetryAfter: "120"}})
	auth := map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/json"}
	for i, model := range []string{"groq-llama", "gpt-4o", "gpt-4o", "gpt-4o"} {
		stream := `,"stream":true,"stream_options":{"include_usage":true}`
		if i == 0 {
			stream = ""
		}
		resp, body := chatReq(t, f.url, `{"model":"`+model+`"`+stream+`,"messages":[{"role":"user","content":"hi"}]}`, auth)
		if want := map[bool]int{true: 429, false: 200}[i == 0]; resp.StatusCode != want {
			t.Fatalf("request %d (%s): %d, want %d: %s", i, model, resp.StatusCode, want, body)
		}
	}
	// The 5th request in the minute is the last the rpm admits; the 6th is refused.
	chatReq(t, f.url, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, auth)
	if resp, body := chatReq(t, f.url, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, auth); resp.StatusCode != 429 {
		t.Fatalf("over the rpm: %d %s", resp.StatusCode, body)
	}

	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", f.url+path, nil)
		if path != "/metrics" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	raw := get("/status.json")
	if strings.Contains(raw, secret) || strings.Contains(get("/"), secret) {
		t.Fatal("the status page shows a key's secret")
	}
	var st statuspage.Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatal(err)
	}
	by := map[string]statuspage.Backend{}
	for _, b := range st.Backends {
		by[b.Model] = b
	}
	groq, gpt := by["groq-llama"], by["gpt-4o"]
	if groq.Health != statuspage.CoolingDown || !strings.Contains(groq.HealthText, "cooling down until ") || !strings.HasSuffix(groq.HealthText, "(429 Retry-After)") {
		t.Errorf("groq-llama after a 429 Retry-After: %q %q", groq.Health, groq.HealthText)
	}
	if d := time.Until(groq.CooldownUntil); d < 100*time.Second || d > 120*time.Second {
		t.Errorf("groq-llama cooling down until %v (in %v), want about 120 s from now", groq.CooldownUntil, d)
	}
	if groq.Requests != 1 || groq.Errors != 1 || groq.Openness != "open-weight" || groq.Deployment != "saas" {
		t.Errorf("groq-llama %+v", groq)
	}
	if gpt.Health != statuspage.Healthy || gpt.HealthText != "healthy" || gpt.State != "closed" || gpt.Requests != 4 || gpt.Errors != 0 {
		t.Errorf("gpt-4o %+v", gpt)
	}
	if gpt.FiguresSource != "live" || gpt.TTFTMs <= 0 || time.Since(gpt.MeasuredAt) > time.Minute {
		t.Errorf("gpt-4o's live figures: source %q, TTFT %v, measured at %v", gpt.FiguresSource, gpt.TTFTMs, gpt.MeasuredAt)
	}
	if st.WindowSeconds != 300 || len(st.Keys) != 1 {
		t.Fatalf("window %d, keys %+v", st.WindowSeconds, st.Keys)
	}
	k := st.Keys[0]
	if k.Name != "ops" || k.RPM != 5 || k.RPMUsed != 5 || k.BudgetUSD != 10 || k.Period != "day" ||
		len(st.KeysNearLimits) != 1 || st.KeysNearLimits[0] != "ops" || len(k.Near) != 1 || !strings.HasPrefix(k.Near[0], "rpm 5 of 5") {
		t.Errorf("key %+v, near %v", k, st.KeysNearLimits)
	}
	if m := get("/metrics"); !strings.Contains(m, `tiergate_key_refused_total{key="ops",limit="rpm"} 1`) {
		t.Errorf("no refusal counted:\n%s", grepLines(m, "tiergate_key_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
