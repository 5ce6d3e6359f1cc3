package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiergate/tiergate/configs"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultLoads(t *testing.T) {
	cfg, err := Load(configs.DefaultName, configs.Default(), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:8080" || cfg.Server.MaxBodyBytes != 20<<20 {
		t.Fatalf("server = %+v", cfg.Server)
	}
	if s := cfg.Server; s.DrainDelay != 5*time.Second || s.BodyReadTimeout != 30*time.Second || s.IdleTimeout != 60*time.Second || s.MaxConcurrent != 1024 {
		t.Errorf("server limits = %+v", s)
	}
	if got := cfg.Providers["openai"].BaseURL; got != "https://api.openai.com/v1" {
		t.Fatalf("openai base_url = %q", got)
	}
	// The framework names these models; the default catalog must carry each.
	ids := map[string]bool{}
	for _, m := range cfg.Models {
		ids[m.ID] = true
		if m.Price.Source == "" || m.Price.AsOf == "" {
			t.Errorf("%s: price has no source or date", m.ID)
		}
	}
	for _, want := range []string{"gpt-4o", "gpt-4-turbo", "gpt-3.5-turbo", "claude-3-opus", "claude-3-sonnet", "claude-3-haiku",
		"claude-sonnet-4-5", "gemini-2.5-pro", "llama3-8b", "llama3-70b", "mistral-7b", "mixtral-8x7b", "groq-mixtral-8x7b",
		"phi3-mini", "tinyllama", "falcon-7b", "whisper-1", "tts-1"} {
		if !ids[want] {
			t.Errorf("default catalog lacks %s", want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	cfg, err := Load("t", configs.Default(), env(map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OLLAMA_HOST": "127.0.0.1:5555"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Providers["openai"].BaseURL; got != "http://127.0.0.1:9/v1" {
		t.Fatalf("base_url = %q", got)
	}
	if got := cfg.Providers["ollama"].BaseURL; got != "127.0.0.1:5555" {
		t.Fatalf("ollama = %q", got)
	}
	if cfg.State.Redis != "" || cfg.State.OnFailure != OnFailureOpen || cfg.State.Timeout != 50*time.Millisecond {
		t.Errorf("state without TIERGATE_REDIS_URL = %+v", cfg.State)
	}
	if cfg, err := Load("t", configs.Default(), env(map[string]string{"TIERGATE_REDIS_URL": "redis://127.0.0.1:6379/0"})); err != nil {
		t.Error(err)
	} else if cfg.State.Redis != "redis://127.0.0.1:6379/0" {
		t.Errorf("TIERGATE_REDIS_URL: state %+v", cfg.State)
	}
	if cfg.State.Postgres != "" || cfg.State.PostgresTimeout != 2*time.Second {
		t.Errorf("state without TIERGATE_POSTGRES_URL = %+v", cfg.State)
	}
	if cfg, err := Load("t", configs.Default(), env(map[string]string{"TIERGATE_POSTGRES_URL": "postgres://u:p@127.0.0.1:5432/tiergate"})); err != nil {
		t.Error(err)
	} else if cfg.State.Postgres != "postgres://u:p@127.0.0.1:5432/tiergate" {
		t.Errorf("TIERGATE_POSTGRES_URL: state %+v", cfg.State)
	}
	if got := string(Expand([]byte("a ${X} b ${Y:-d} c ${Z:-}"), env(map[string]string{"X": "1"}))); got != "a 1 b d c " {
		t.Fatalf("Expand = %q", got)
	}
}

func TestBadConfigs(t *testing.T) {
	const base = "providers:\n  p:\n    type: openai\n    base_url: http://x\n"
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown key", base + "    colour: red\n", []string{"line 5", `unknown key "colour"`, "valid keys here:", "base_url"}},
		{"unknown top key", "sever:\n  addr: x\n", []string{"line 1", `unknown key "sever"`, "server"}},
		{"wrong type", "server:\n  max_body_bytes: lots\n", []string{"line 2", `"lots"`, "a whole number"}},
		{"wrong duration", "server:\n  shutdown_grace: soon\n", []string{"line 2", "duration"}},
		{"bad provider type", "providers:\n  p:\n    type: openia\n", []string{"providers.p", `"openia"`, "openai, ollama"}},
		{"unknown provider", base + "models:\n  - {id: m, provider: q, upstream: u, openness: proprietary, deployment: saas, tasks: [chat]}\n",
			[]string{"line 6", "models[0] (m)", `provider "q" is not defined`, "defined providers: p"}},
		{"duplicate id", base + "models:\n  - {id: m, provider: p, upstream: u, openness: proprietary, deployment: saas, tasks: [chat]}\n  - {id: m, provider: p, upstream: v, openness: proprietary, deployment: saas, tasks: [chat]}\n",
			[]string{"line 7", `duplicate id "m"`, "rename"}},
		{"bad openness", base + "models:\n  - {id: m, provider: p, upstream: u, openness: closed, deployment: saas, tasks: [chat]}\n",
			[]string{"openness \"closed\"", "open-source, open-weight, proprietary"}},
		{"bad task", base + "models:\n  - {id: m, provider: p, upstream: u, openness: proprietary, deployment: saas, tasks: [dance]}\n",
			[]string{`task "dance"`}},
		{"unknown fallback", base + "models:\n  - {id: m, provider: p, upstream: u, openness: proprietary, deployment: saas, tasks: [chat], fallbacks: [z]}\n",
			[]string{`fallback "z"`}},
		{"negative drain delay", "server:\n  drain_delay: -1s\n", []string{"server.drain_delay must be positive"}},
		{"negative max_concurrent", "server:\n  max_concurrent: -3\n", []string{"server.max_concurrent must be positive"}},
		{"responses_api on another type", "providers:\n  a:\n    type: anthropic\n    base_url: http://x\n    responses_api: true\n", []string{"providers.a", "responses_api is for openai providers"}},
		{"bad on_failure", "state:\n  on_failure: maybe\n", []string{`state.on_failure "maybe"`, "open, closed"}},
		{"negative replicas", "state:\n  replicas: -1\n", []string{"state.replicas"}},
		{"negative snapshot interval", "state:\n  snapshot_interval: -1s\n", []string{"state.snapshot_interval"}},
		{"empty", "", []string{"empty"}},
		{"bad alias pattern", "router:\n  aliases:\n    - {match: \"claude-[\", model: auto}\n", []string{"router.aliases[0]", "glob"}},
		{"alias to no profile", "router:\n  aliases:\n    - {match: \"claude-*\", model: \"auto:nope\"}\n", []string{"router.aliases[0]", "names no profile"}},
		{"tier at both", "tiers:\n  rules:\n    - {tier: fast, max_ttft: 1s, at: {concurrency: 8, rate: 2}}\n",
			[]string{"tiers.rules[0] (fast): at:", "a concurrency or a rate, not both", "at: {concurrency: N}"}},
		{"tier at negative", "tiers:\n  rules:\n    - {tier: fast, max_ttft: 1s, at: {concurrency: -1}}\n",
			[]string{"tiers.rules[0] (fast): at:", "positive concurrency or rate"}},
		{"tier at empty", "tiers:\n  rules:\n    - {tier: fast, max_ttft: 1s, at: {}}\n", []string{"tiers.rules[0] (fast): at is empty"}},
		{"tier at unknown key", "tiers:\n  rules:\n    - tier: fast\n      max_ttft: 1s\n      at: {streams: 8}\n",
			[]string{"line 5", `unknown key "streams"`, "concurrency, rate"}},
		{"tier at a string", "tiers:\n  rules:\n    - {tier: fast, max_ttft: 1s, at: c=8}\n", []string{"line 3"}},
		{"alias to no model", "router:\n  aliases:\n    - {match: \"claude-*\", model: zz}\n", []string{"router.aliases[0]", `"zz" is not a model id`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("bad.yaml", []byte(tt.yaml), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "bad.yaml: ") {
				t.Errorf("error does not name the file: %q", err)
			}
		})
	}
}

// TestTierRuleAt: a rule's at reads as a concurrency or a rate.
func TestTierRuleAt(t *testing.T) {
	c, err := Load("t.yaml", []byte("tiers:\n  rules:\n    - {tier: fast, max_ttft: 500ms, at: {concurrency: 8}}\n    - {tier: moderate, max_ttft: 2s, at: {rate: 2.5}}\n    - {tier: slow, max_ttft: 9s}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Tiers.Rules
	if len(r) != 3 || r[0].At == nil || *r[0].At != (TierAt{Concurrency: 8}) || r[1].At == nil || *r[1].At != (TierAt{Rate: 2.5}) || r[2].At != nil {
		t.Fatalf("rules %+v", r)
	}
	if r[0].At.String() != "c=8" || r[1].At.String() != "rate=2.5/s" {
		t.Errorf("loads %s, %s", r[0].At, r[1].At)
	}
}

// TestResponsesAPIDefault: OpenAI's own API serves the Responses API;
// another OpenAI-compatible server does only when the config says so.
func TestResponsesAPIDefault(t *testing.T) {
	cfg, err := Load("t", configs.Default(), env(map[string]string{"GROQ_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"openai": true, "groq": false, "haystack": false} {
		if got := cfg.Providers[name].ResponsesAPI; got == nil || *got != want {
			t.Errorf("providers.%s.responses_api = %v, want %v", name, got, want)
		}
	}
	if got := cfg.Providers["anthropic"].ResponsesAPI; got != nil {
		t.Errorf("anthropic got responses_api %v", *got)
	}
	cfg, err = Load("t", []byte("providers:\n  vllm:\n    type: openai\n    base_url: http://127.0.0.1:8000/v1\n    responses_api: true\n"+
		"  proxy:\n    type: openai\n    base_url: https://API.OpenAI.com/v1\n    responses_api: false\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !*cfg.Providers["vllm"].ResponsesAPI || *cfg.Providers["proxy"].ResponsesAPI {
		t.Error("an explicit responses_api was not kept")
	}
}

// TestLoadFile: no path loads the default given; a path loads that file
// instead; a missing file is an error that names it.
func TestLoadFile(t *testing.T) {
	def := []byte("router:\n  max_attempts: 2\n")
	cfg, err := LoadFile("", "default", def, func(string) string { return "" })
	if err != nil || cfg.Router.MaxAttempts != 2 {
		t.Fatalf("default: %+v, %v", cfg, err)
	}
	p := filepath.Join(t.TempDir(), "t.yaml")
	os.WriteFile(p, []byte("router:\n  max_attempts: 5\n"), 0o644)
	if cfg, err = LoadFile(p, "default", def, func(string) string { return "" }); err != nil || cfg.Router.MaxAttempts != 5 {
		t.Fatalf("file: %+v, %v", cfg, err)
	}
	if _, err = LoadFile(p+".missing", "default", def, nil); err == nil || !strings.Contains(err.Error(), "t.yaml.missing") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestAuthKeys(t *testing.T) {
	secret := "tg-" + strings.Repeat("a", 43)
	hash := "sha256:" + strings.Repeat("0", 64)
	cfg, err := Load("t", []byte("auth:\n  mode: keys\n  keys:\n    - name: ci\n      key: ${CI_KEY}\n      expires_at: 2027-01-01T00:00:00Z\n"+
		"      policy: {profile: private, rpm: 60, budget: {usd: 50, period: month}}\n    - {name: ops, hash: "+hash+"}\n"),
		env(map[string]string{"CI_KEY": secret}))
	if err != nil {
		t.Fatal(err)
	}
	ci := cfg.Auth.Keys[0]
	if ci.Key != "" || ci.Parsed.Name != "ci" || ci.Parsed.Policy.RPM != 60 || ci.Parsed.Policy.Budget.USD != 50 || ci.Parsed.ExpiresAt == nil || ci.Parsed.ID != "key_config_ci" {
		t.Errorf("ci = %+v (the secret is dropped after hashing)", ci)
	}
	if got := cfg.Auth.Keys[1].Parsed.Hash.String(); got != hash {
		t.Errorf("ops hash %s", got)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"auth:\n  mode: off\n", `line 2: auth.mode "off" is not one of keys, none`},
		{"auth:\n  keys:\n    - name: ci\n      key: ${UNSET}\n", "line 3: auth.keys[0] (ci): give hash: sha256:<hex of the key> or key: ${ENV_VAR}"},
		{"auth:\n  keys:\n    - name: ci\n      key: sk-proj-123\n", "line 3: auth.keys[0] (ci): key: a gateway key starts with tg-"},
		{"auth:\n  keys:\n    - name: ci\n      hash: abc\n", "line 3: auth.keys[0] (ci): hash: a key hash is written sha256:"},
		{"auth:\n  keys:\n    - {name: ci, hash: " + hash + "}\n    - {name: ci, hash: " + hash + "}\n", "line 4: auth.keys[1] (ci): auth.keys[0] has this name too"},
		{"auth:\n  keys:\n    - {hash: " + hash + "}\n", "line 3: auth.keys[0]: a key needs a name"},
		{"auth:\n  keys:\n    - name: ci\n      hash: " + hash + "\n      policy:\n        rpn: 60\n", `auth.keys[0] (ci): policy (line 6): unknown field "rpn"`},
		{"auth:\n  keys:\n    - {name: ci, hash: " + hash + ", expires_at: tomorrow}\n", "expires_at \"tomorrow\": write an RFC 3339 time"},
		{"auth:\n  keys:\n    - {name: ci, hsh: x}\n", `line 3: unknown key "hsh"; valid keys here: expires_at, hash, key, name, policy`},
	} {
		_, err := Load("t", []byte(tc.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-proj-123") {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}

// TestAliases: the first alias whose glob matches the whole name decides.
func TestAliases(t *testing.T) {
	r := Router{Aliases: []Alias{{Match: "claude-*haiku*", Model: "auto:budget"}, {Match: "claude-*", Model: "auto"}, {Match: "gpt-?", Model: "gpt-4o"}}}
	for name, want := range map[string]string{
		"claude-haiku-4-5": "auto:budget", "claude-3-5-haiku-latest": "auto:budget", "claude-opus-4-1": "auto",
		"gpt-4": "gpt-4o", "gpt-4o": "", "my-claude-x": "", "": "",
	} {
		if got := r.Resolve(name); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", name, got, want)
		}
	}
}
