package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/internal/app"
	"github.com/tiergate/tiergate/internal/app/apptest"
	"github.com/tiergate/tiergate/internal/config"
	"github.com/tiergate/tiergate/internal/keys/admin"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// TestMain points the binaries the tests start at an empty state
// directory, so that keys made on the developer's machine
// (~/.local/state/tiergate) never reach them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tiergate-state")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestKeysCommand drives `gateway keys create|list|show|revoke` against a
// running gateway: the secret printed once works as an API key until it
// is revoked.
func TestKeysCommand(t *testing.T) {
	emu := openaiemu.New(openaiemu.Options{APIKey: "k"})
	defer emu.Close()
	cfg, err := config.Load("test", []byte("providers:\n  up:\n    type: openai\n    base_url: "+emu.URL+"\n    api_key_env: K\n"+
		"profiles:\n  auto: {}\n  private: {openness: [open-source, open-weight], deployment: [local, self-hosted]}\n"+
		"models:\n  - {id: m, provider: up, upstream: m, openness: open-weight, deployment: self-hosted, tasks: [chat], tier_prior: fast}\n"), func(string) string { return "k" })
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"K": "k", admin.EnvAdminKey: "adm"}
	getenv := func(k string) string { return env[k] }
	gw := apptest.Start(t, cfg, app.Options{Getenv: getenv})
	env["TIERGATE_URL"] = gw.URL
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := runKeys(context.Background(), args, &out, getenv)
		return out.String(), err
	}
	chat := func(secret string) int {
		req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	out, err := run("create", "--name", "legal", "--profile", "private", "--rpm", "60", "--budget", "50/month", "--expires", "720h")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`tg-[0-9A-Za-z]{43}`).FindString(out)
	id := regexp.MustCompile(`key_[0-9A-Za-z]+`).FindString(out)
	if secret == "" || id == "" || !strings.Contains(out, "profile=private rpm=60 budget=$50/month") {
		t.Fatalf("create printed:\n%s", out)
	}
	if code := chat(secret); code != 200 {
		t.Errorf("the created key: %d", code)
	}

	out, err = run("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], id) || !strings.Contains(lines[1], "legal") ||
		!strings.Contains(lines[1], "active") || strings.Contains(out, secret) {
		t.Errorf("list printed:\n%s", out)
	}
	// show adds the period's usage from the spend ledger, which its
	// writer fills a moment after the answer.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err = run("show", id)
		if err == nil && strings.Contains(out, ": 1 requests, ") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.Contains(out, "budget=$50/month") || !strings.Contains(out, ": 1 requests, ") ||
		!strings.Contains(out, "of a $50.00 monthly budget") || strings.Contains(out, secret) {
		t.Errorf("show: %v\n%s", err, out)
	}
	if out, err = run("revoke", id); err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %v\n%s", err, out)
	}
	if code := chat(secret); code != 401 {
		t.Errorf("the revoked key: %d", code)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create"}, "give --name"},
		{[]string{"create", "--name", "x", "--budget", "50"}, "USD/period"},
		{[]string{"show"}, "give the key's id"},
		{[]string{"show", "key_nope"}, "404"},
		{[]string{"frob"}, "unknown command"},
	} {
		if _, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("keys %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	delete(env, admin.EnvAdminKey)
	if _, err := run("list"); err == nil || !strings.Contains(err.Error(), admin.EnvAdminKey) {
		t.Errorf("without the admin key: %v", err)
	}
}
