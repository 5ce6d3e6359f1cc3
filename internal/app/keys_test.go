package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
	"github.com/tiergate/tiergate/internal/testing/webtest"
)

// authed sends a chat request with the given headers and returns the
// status and the error body's code.
func authed(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	maps.Copy(h, hdr)
	resp, b := webtest.Send(t, "POST", url+"/v1/chat/completions", chatBody, h)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	if resp.StatusCode == 401 && (e.Error.Type != "invalid_request_error" || e.Error.Message == "") {
		t.Errorf("401 body not in OpenAI's shape: %s", b)
	}
	return resp.StatusCode, e.Error.Code
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, _ := webtest.Send(t, "GET", url, "", nil)
	return resp.StatusCode
}

// TestStartRefusesOpenNonLoopback: without keys a gateway on a
// non-loopback address does not start, and says how to make it; with
// auth.mode none, auth.mode keys or a key in the config it does.
func TestStartRefusesOpenNonLoopback(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	secret, _ := keys.NewSecret()
	for _, tc := range []struct {
		name, auth, err string
	}{
		{"no keys", "", "refusing to serve 0.0.0.0:0 without gateway keys"},
		{"auth none", "auth: {mode: none}\n", ""},
		{"auth keys", "auth: {mode: keys}\n", ""},
		{"config key", "auth:\n  keys:\n    - {name: ci, key: " + secret + "}\n", ""},
		{"config hash", "auth:\n  keys:\n    - {name: ci, hash: " + keys.HashSecret(secret).String() + "}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oneModel(t, emu.URL, "  addr: 0.0.0.0:0\n  data_dir: "+t.TempDir()+"\n")
			if tc.auth != "" {
				c2, err := config.Load("t", []byte(tc.auth), nil)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Auth = c2.Auth
			}
			a, err := app.New(context.Background(), cfg, app.Options{Getenv: func(string) string { return "k" }, Logger: slog.New(slog.DiscardHandler)})
			if tc.err != "" {
				if err == nil {
					a.Close()
					t.Fatal("started")
				}
				for _, want := range []string{tc.err, "gateway keys create", "auth.mode: none", "TIERGATE_AUTH_MODE"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
		})
	}
}

// TestKeysRequired: with a key, the API, the status page and explain need
// it (Bearer or x-api-key); health and metrics stay open; a wrong, a
// provider's or a revoked key gets 401 invalid_api_key, from the next
// request on.
func TestKeysRequired(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	cfg := oneModel(t, emu.URL, "")
	open := apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }})
	if code, _ := authed(t, open.URL, nil); code != 200 {
		t.Fatalf("open gateway on loopback without keys: %d", code)
	}
	k, secret, err := open.Keys().Create(context.Background(), "legal", keys.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := open
	// A secret one character off (never the secret itself, whatever its
	// last character is).
	last := byte('x')
	if secret[len(secret)-1] == last {
		last = 'y'
	}
	wrong := secret[:len(secret)-1] + string(last)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + secret}, 200},
		{"x-api-key", map[string]string{"x-api-key": secret}, 200},
		{"none", nil, 401},
		{"wrong", map[string]string{"Authorization": "Bearer " + wrong}, 401},
		{"provider key", map[string]string{"Authorization": "Bearer sk-proj-123"}, 401},
		{"basic", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401},
	} {
		code, errCode := authed(t, gw.URL, tc.hdr)
		if code != tc.want || code == 401 && errCode != "invalid_api_key" {
			t.Errorf("%s: %d %q, want %d", tc.name, code, errCode, tc.want)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v1/models": 401, "/": 401, "/status.json": 401} {
		if code := get(t, gw.URL+path); code != want {
			t.Errorf("GET %s without a key: %d, want %d", path, code, want)
		}
	}
	if err := gw.Keys().Revoke(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	if code, errCode := authed(t, gw.URL, map[string]string{"Authorization": "Bearer " + secret}); code != 401 || errCode != "invalid_api_key" {
		t.Errorf("revoked key: %d %q", code, errCode)
	}
}

// TestKeysSurviveRestart: a key made by one app is honoured, and its
// revocation kept, by the next app on the same data directory.
func TestKeysSurviveRestart(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	dir := t.TempDir()
	cfg := oneModel(t, emu.URL, "  data_dir: "+dir+"\n")
	a, err := app.New(context.Background(), cfg, app.Options{Getenv: func(string) string { return "k" }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	kept, keptSecret, err := a.Keys().Create(context.Background(), "kept", keys.Policy{RPM: 60}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, goneSecret, err := a.Keys().Create(context.Background(), "gone", keys.Policy{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Keys().Revoke(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	cfg = oneModel(t, emu.URL, "  data_dir: "+dir+"\n")
	gw := apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "k" }})
	if code, _ := authed(t, gw.URL, map[string]string{"Authorization": "Bearer " + keptSecret}); code != 200 {
		t.Errorf("kept key after restart: %d", code)
	}
	if code, _ := authed(t, gw.URL, map[string]string{"Authorization": "Bearer " + goneSecret}); code != 401 {
		t.Errorf("revoked key after restart: %d", code)
	}
	if code, _ := authed(t, gw.URL, nil); code != 401 {
		t.Errorf("no key after restart: %d", code)
	}
	k, err := gw.Keys().Get(kept.ID)
	if err != nil || k.Policy.RPM != 60 || k.Name != "kept" {
		t.Errorf("kept key after restart: %+v %v", k, err)
	}
}

// TestKeyRPM: a key with rpm 2 gets its third request in the minute
// refused with 429 rate_limit_exceeded, Retry-After and OpenAI's
// x-ratelimit headers counting down; another key is not affected.
func TestKeyRPM(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	gw := apptest.Start(t, oneModel(t, emu.URL, ""), app.Options{Getenv: func(string) string { return "k" }})
	_, limited, err := gw.Keys().Create(context.Background(), "small", keys.Policy{RPM: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, free, _ := gw.Keys().Create(context.Background(), "free", keys.Policy{}, nil)
	send := func(secret string) *http.Response {
		resp, _ := webtest.Send(t, "POST", gw.URL+"/v1/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + secret})
		return resp
	}
	for i, want := range []string{"1", "0"} {
		resp := send(limited)
		if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-limit-requests") != "2" || resp.Header.Get("x-ratelimit-remaining-requests") != want {
			t.Errorf("request %d: %d, headers %v", i, resp.StatusCode, resp.Header)
		}
	}
	resp := send(limited)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || ra < 1 || ra > 60 || resp.Header.Get("x-ratelimit-remaining-requests") != "0" || resp.Header.Get("x-ratelimit-reset-requests") == "" {
		t.Errorf("third request: %d, headers %v", resp.StatusCode, resp.Header)
	}
	if code, errCode := authed(t, gw.URL, map[string]string{"Authorization": "Bearer " + limited}); code != 429 || errCode != "rate_limit_exceeded" {
		t.Errorf("over the limit: %d %q", code, errCode)
	}
	if resp := send(free); resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-limit-requests") != "" {
		t.Errorf("a key without limits: %d %v", resp.StatusCode, resp.Header)
	}
	if n := len(emu.Requests()); n != 3 {
		t.Errorf("upstream saw %d requests, want 3 (2 limited + 1 free)", n)
	}
}
