package admin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

const adminKey = "admin-secret-for-tests"

// start runs a gateway with one backend "m", the admin key (when given)
// and the config's auth section.
func start(t *testing.T, adminKey, auth string) (*apptest.Gateway, *openaiemu.Server) {
	t.Helper()
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	t.Cleanup(emu.Close)
	yaml := "providers:\n  up:\n    type: openai\n    base_url: " + emu.URL + "\n    api_key_env: K\n" +
		"profiles:\n  auto: {}\n  private: {openness: [open-source, open-weight], deployment: [local, self-hosted]}\n" +
		"models:\n  - {id: m, provider: up, upstream: m, openness: open-weight, deployment: self-hosted, tasks: [chat], tier_prior: fast}\n" + auth
	cfg, err := config.Load("test", []byte(yaml), func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"K": "k", admin.EnvAdminKey: adminKey}
	return apptest.Start(t, cfg, app.Options{Getenv: func(k string) string { return env[k] }}), emu
}

func call(t *testing.T, method, url, auth, body string) (int, map[string]any, string) {
	t.Helper()
	req := webtest.NewRequest(t, method, url, body, nil)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, b := webtest.Do(t, nil, req)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func chatWith(t *testing.T, base, secret string) int {
	t.Helper()
	code, _, _ := call(t, "POST", base+"/v1/chat/completions", secret, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	return code
}

func TestAdminDisabledWithoutAdminKey(t *testing.T) {
	gw, _ := start(t, "", "")
	code, m, _ := call(t, "GET", gw.URL+"/admin/keys", "anything", "")
	if code != 404 || errCode(m) != "admin_disabled" || !strings.Contains(m["error"].(map[string]any)["message"].(string), admin.EnvAdminKey) {
		t.Errorf("admin API without %s: %d %v", admin.EnvAdminKey, code, m)
	}
}

func TestAdminAPI(t *testing.T) {
	gw, _ := start(t, adminKey, "auth:\n  keys:\n    - {name: ci, hash: "+keys.HashSecret("x").String()+"}\n")
	base := gw.URL + "/admin/keys"

	for _, auth := range []string{"", "wrong", adminKey + "x"} {
		if code, m, _ := call(t, "GET", base, auth, ""); code != 401 || errCode(m) != "invalid_api_key" {
			t.Errorf("admin key %q: %d %v", auth, code, m)
		}
	}
	// A gateway key is not the admin key.
	_, secret, _ := gw.Keys().Create(context.Background(), "app", keys.Policy{}, nil)
	if code, _, _ := call(t, "GET", base, secret, ""); code != 401 {
		t.Errorf("a gateway key on the admin API: %d", code)
	}

	// Create: 201, the secret once, the shape.
	code, m, raw := call(t, "POST", base, adminKey, `{"name": "legal", "expires_at": "2099-01-01T00:00:00Z",
	  "policy": {"profile": "private", "openness": ["open-source", "open-weight"], "rpm": 60, "budget": {"usd": 50, "period": "month"}}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, raw)
	}
	id, _ := m["id"].(string)
	key, _ := m["key"].(string)
	if !strings.HasPrefix(id, "key_") || keys.ParseSecret(key) != nil || m["name"] != "legal" || m["created_at"] == nil {
		t.Fatalf("create answer %s", raw)
	}
	if p, _ := m["policy"].(map[string]any); p["profile"] != "private" || p["rpm"] != 60.0 {
		t.Errorf("policy %v", m["policy"])
	}
	if code := chatWith(t, gw.URL, key); code != 200 {
		t.Errorf("the new key: %d", code)
	}

	for _, tc := range []struct{ body, want string }{
		{`{"name": "x", "polcy": {}}`, `unknown field "polcy"`},
		{`{"name": "x", "policy": {"rpn": 1}}`, `unknown field "rpn"`},
		{`{"name": "has space"}`, "use only letters"},
		{`{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}`, "in the past"},
		{``, "empty"},
	} {
		code, m, _ := call(t, "POST", base, adminKey, tc.body)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, tc.want) {
			t.Errorf("create %s: %d %v, want 400 with %q", tc.body, code, m, tc.want)
		}
	}

	// List and show: never the secret nor its hash.
	code, m, raw = call(t, "GET", base, adminKey, "")
	if code != 200 || strings.Contains(raw, key) || strings.Contains(raw, "hash") {
		t.Fatalf("list: %d %s", code, raw)
	}
	if data, _ := m["data"].([]any); len(data) != 3 {
		t.Errorf("list has %d keys, want 3 (ci, app, legal): %s", len(data), raw)
	}
	code, m, raw = call(t, "GET", base+"/"+id, adminKey, "")
	if code != 200 || m["name"] != "legal" || m["source"] != "store" || strings.Contains(raw, key) {
		t.Errorf("show: %d %s", code, raw)
	}
	if code, m, _ := call(t, "GET", base+"/key_nope", adminKey, ""); code != 404 || errCode(m) != "key_not_found" {
		t.Errorf("show unknown: %d %v", code, m)
	}

	// Patch replaces the policy.
	code, m, raw = call(t, "PATCH", base+"/"+id, adminKey, `{"policy": {"rpm": 5}}`)
	if p, _ := m["policy"].(map[string]any); code != 200 || p["rpm"] != 5.0 || p["profile"] != nil {
		t.Errorf("patch: %d %s", code, raw)
	}
	if code, _, raw := call(t, "PATCH", base+"/"+id, adminKey, `{"policy": {"rpm": -1}}`); code != 400 {
		t.Errorf("patch with a bad policy: %d %s", code, raw)
	}
	if k, _ := gw.Keys().Get(id); k.Policy.RPM != 5 {
		t.Errorf("the ring has rpm %d after the patch", k.Policy.RPM)
	}

	// Config keys are changed in the config.
	for _, m := range []string{"PATCH", "DELETE"} {
		if code, _, _ := call(t, m, base+"/key_config_ci", adminKey, `{"policy": {}}`); code != 409 {
			t.Errorf("%s on a config key: %d", m, code)
		}
	}

	// Delete revokes, from the next request on.
	code, m, raw = call(t, "DELETE", base+"/"+id, adminKey, "")
	if code != 200 || m["revoked_at"] == nil {
		t.Errorf("delete: %d %s", code, raw)
	}
	if code := chatWith(t, gw.URL, key); code != 401 {
		t.Errorf("the revoked key: %d", code)
	}
	if code, _, _ := call(t, "DELETE", base+"/key_nope", adminKey, ""); code != 404 {
		t.Errorf("delete unknown: %d", code)
	}
}

func TestParseBudget(t *testing.T) {
	for in, want := range map[string]keys.Budget{"50/month": {USD: 50, Period: "month"}, "2.5/day": {USD: 2.5, Period: "day"},
		"50": {}, "x/month": {}, "5/week": {}, "-1/day": {}} {
		b, err := admin.ParseBudget(in)
		if want.Period == "" {
			if err == nil {
				t.Errorf("ParseBudget(%q) accepted: %+v", in, b)
			}
			continue
		}
		if err != nil || *b != want {
			t.Errorf("ParseBudget(%q) = %+v, %v; want %+v", in, b, err, want)
		}
	}
}
