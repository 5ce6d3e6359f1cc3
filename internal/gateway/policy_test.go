package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// TestKeyPolicy: a gateway key's policy holds whatever model the client
// names. A private key (forced profile, open models we host) never
// reaches a SaaS upstream; a key bounded to open, hosted models gets 403
// naming the rule for a pinned SaaS model and a hosted backend for auto;
// a key limited to some models or profiles gets 403 for others.
func TestKeyPolicy(t *testing.T) {
	secrets := map[string]string{}
	env := map[string]string{}
	extra := "auth:\n  keys:\n"
	for _, k := range []struct{ name, policy string }{
		{"legal", `{profile: private, openness: [open-source, open-weight], deployment: [local, self-hosted]}`},
		{"bounded", `{openness: [open-source, open-weight], deployment: [local, self-hosted]}`},
		{"models", `{models: [llama-local]}`},
		{"profiles", `{profiles: [private]}`},
		{"free", `{}`},
	} {
		s, err := keys.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets[k.name] = s
		env["KEY_"+strings.ToUpper(k.name)] = s
		extra += "    - {name: " + k.name + ", key: ${KEY_" + strings.ToUpper(k.name) + "}, policy: " + k.policy + "}\n"
	}
	f := startFleetWith(t, 5*time.Second, extra, env)
	send := func(key, model string, hdr map[string]string) (int, string, string) {
		t.Helper()
		h := map[string]string{"Authorization": "Bearer " + secrets[key], "Content-Type": "application/json"}
		for k, v := range hdr {
			h[k] = v
		}
		resp, body := chatReq(t, f.url, `{"model":"`+model+`","messages":[{"role":"user","content":"summarise the contract"}]}`, h)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != 200 {
			return resp.StatusCode, e.Error.Code, e.Error.Message
		}
		return 200, resp.Header.Get("X-Tiergate-Model"), ""
	}
	saasBefore := chatPaths(f.saas.Requests()) + chatPaths(f.groq.Requests())
	for _, tc := range []struct {
		key, model string
		hdr        map[string]string
		status     int
		want       string // the model that served, or the error code
	}{
		{"legal", "gpt-4o", nil, 200, ""},
		{"legal", "auto", nil, 200, ""},
		{"legal", "auto:general", nil, 200, ""},
		{"legal", "groq-llama", map[string]string{"X-Tiergate-Profile": "auto"}, 200, ""},
		{"bounded", "gpt-4o", nil, 403, "policy_violation"},
		{"bounded", "auto", nil, 200, ""},
		{"models", "gpt-4o", nil, 403, "model_not_allowed"},
		{"models", "llama-local", nil, 200, "llama-local"},
		{"profiles", "auto:auto", nil, 403, "profile_not_allowed"},
		{"profiles", "auto:private", nil, 200, ""},
		{"free", "gpt-4o", nil, 200, "gpt-4o"},
	} {
		status, got, msg := send(tc.key, tc.model, tc.hdr)
		if status != tc.status || (tc.want != "" && got != tc.want) {
			t.Errorf("key %s, model %s: %d %q %s; want %d %q", tc.key, tc.model, status, got, msg, tc.status, tc.want)
		}
		if status == 403 && !strings.Contains(msg, "gateway key "+tc.key) {
			t.Errorf("key %s, model %s: the 403 does not name the key's rule: %s", tc.key, tc.model, msg)
		}
		if status == 200 && tc.key != "free" && tc.key != "models" && got != "llama-local" && got != "mistral-selfhosted" {
			t.Errorf("key %s, model %s: served by %s, outside the key's bounds", tc.key, tc.model, got)
		}
	}
	// Only the unbounded key's gpt-4o request reached a SaaS upstream.
	if n := chatPaths(f.saas.Requests()) + chatPaths(f.groq.Requests()) - saasBefore; n != 1 {
		t.Errorf("%d requests reached a SaaS upstream; want 1 (the unbounded key's)", n)
	}
	// Explain (and X-Tiergate-Route) name the key's rules beside the
	// router's; a key without routing rules adds nothing.
	for key, want := range map[string]string{
		"legal": "held to gateway key legal (profile private forced, openness open-source/open-weight, deployment local/self-hosted)",
		"free":  "",
	} {
		req, _ := http.NewRequest("POST", f.url+"/v1/route/explain", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"summarise the contract"}]}`))
		req.Header.Set("Authorization", "Bearer "+secrets[key])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var dec struct{ Reason string }
		json.NewDecoder(resp.Body).Decode(&dec)
		resp.Body.Close()
		if resp.StatusCode != 200 || (want != "" && !strings.Contains(dec.Reason, want)) || (want == "" && strings.Contains(dec.Reason, "gateway key")) {
			t.Errorf("explain with key %s: %d reason %q, want it to hold %q", key, resp.StatusCode, dec.Reason, want)
		}
	}
}
