// Package config reads tiergate's YAML configuration: the server settings,
// the providers and the model catalog. It expands ${VAR} and
// ${VAR:-default} from the environment, rejects unknown keys and wrong
// types with the line and the fix, and validates cross references. It
// imports only catalog; it must not import providers, the router or the
// gateway.
package config

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/keys"
)

// Config is a whole configuration file.
type Config struct {
	Server    Server               `yaml:"server"`
	Providers map[string]*Provider `yaml:"providers"`
	Models    []*catalog.Model     `yaml:"models"`
	Tiers     Tiers                `yaml:"tiers"`
	Router    Router               `yaml:"router"`
	Profiles  map[string]*Profile  `yaml:"profiles"`
	Domains   map[string]*Domain   `yaml:"domains"`
	Auth      Auth                 `yaml:"auth"`
	State     State                `yaml:"state"`
}

// State configures the state several replicas share (internal/state/redisstate):
// the keys' limits, key changes reaching every replica at once, and the
// routers' breakers, cool-downs and live estimates. Without
// a Redis URL each replica keeps its own.
type State struct {
	// Redis is the shared store's URL, redis://[user:password@]host:port/db
	// (rediss:// for TLS); the default config reads TIERGATE_REDIS_URL.
	Redis string `yaml:"redis"`
	// Timeout bounds every call to the store (default 50ms): the limits
	// are on the request path.
	Timeout time.Duration `yaml:"timeout"`
	// OnFailure is what the limits do while the store is unreachable:
	// "open" (the default: each replica enforces its share of every
	// limit, limit / replicas, on its own) or "closed" (limited keys are
	// refused until the store is back). Keys without limits never wait
	// on the store.
	OnFailure string `yaml:"on_failure"`
	// Replicas is how many replicas share the limits, for the local share
	// while the store is down (0: the count of replicas seen alive in the
	// store, by their heartbeats).
	Replicas int `yaml:"replicas"`
	// Postgres is the URL of the key store the replicas share (the keys
	// made at run time, their policies, the spend ledger),
	// postgres://[user:password@]host:port/db; the default config reads
	// TIERGATE_POSTGRES_URL. Empty: SQLite under server.data_dir.
	Postgres string `yaml:"postgres"`
	// PostgresTimeout bounds every call to Postgres (default 2s; the
	// request path does not wait on it).
	PostgresTimeout time.Duration `yaml:"postgres_timeout"`
	// SnapshotInterval is how often a replica shares its live latency,
	// TTFT and tokens/s estimates with the others (default 2s); breakers
	// and cool-downs are shared as they happen.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

// State.OnFailure values.
const (
	OnFailureOpen   = "open"
	OnFailureClosed = "closed"
)

// Auth configures gateway keys: who may call the gateway.
type Auth struct {
	// Mode is "" (keys once any exists; without keys only a loopback
	// address may serve, open), "keys" (always require one) or "none"
	// (no authentication, on any address: say so on purpose).
	Mode string `yaml:"mode"`
	// Keys are keys kept in the config file (GitOps), beside those the
	// admin API makes.
	Keys []*AuthKey `yaml:"keys"`
}

// AuthKey is a key in the config file: its secret's hash, or the secret
// itself from the environment (key: ${VAR}).
type AuthKey struct {
	Name string `yaml:"name"`
	// Hash is sha256:<hex> of the secret.
	Hash string `yaml:"hash"`
	// Key is the secret, normally a ${VAR} reference.
	Key string `yaml:"key"`
	// ExpiresAt is an RFC 3339 time ("": never).
	ExpiresAt string `yaml:"expires_at"`
	// Policy has the admin API's JSON shape, written in YAML.
	Policy yaml.Node `yaml:"policy"`
	// Parsed is the key as the gateway uses it, filled by Load.
	Parsed keys.Key `yaml:"-"`
}

// Router configures routing and failure handling.
type Router struct {
	// DefaultProfile is what "model": "auto" means.
	DefaultProfile string `yaml:"default_profile"`
	// MaxAttempts bounds how many backends one request tries.
	MaxAttempts int `yaml:"max_attempts"`
	// TTFTTimeout bounds the wait for an attempt's first byte; Timeout
	// bounds a whole attempt.
	TTFTTimeout time.Duration `yaml:"ttft_timeout"`
	Timeout     time.Duration `yaml:"timeout"`
	// NearEqual is the score margin within which candidates count as
	// equal, so the less loaded of two random ones is picked.
	NearEqual float64 `yaml:"near_equal"`
	// EWMADecay is the time constant of the live latency average.
	EWMADecay time.Duration `yaml:"ewma_decay"`
	// TierWindow is how long a new live tier must hold before it replaces
	// the current one (hysteresis).
	TierWindow time.Duration `yaml:"tier_window"`
	Breaker    Breaker       `yaml:"breaker"`
	// ProviderBreaker opens a provider-wide circuit, beside the
	// per-model one, on failures that say the provider is in trouble.
	ProviderBreaker ProviderBreaker `yaml:"provider_breaker"`
	// TTFTMultiple and TTFTFloor make an attempt's first-byte deadline
	// adapt to the backend: this multiple of what it has shown (its
	// live or measured TTFT, else its tier's typical one), at least the
	// floor, never above TTFTTimeout. The last candidate of a request
	// gets TTFTTimeout. A unary answer's first byte comes with the whole
	// answer, so unary calls have their own, higher floor.
	TTFTMultiple float64       `yaml:"ttft_multiple"`
	TTFTFloor    time.Duration `yaml:"ttft_floor"`
	UnaryFloor   time.Duration `yaml:"unary_floor"`
	// FailoverTimeout bounds how long one request keeps failing over:
	// no attempt starts after it, and an attempt's wait for its first
	// byte ends with it.
	FailoverTimeout time.Duration `yaml:"failover_timeout"`
	// Aliases route the model names Anthropic's clients send (Claude
	// Code's claude-sonnet-4-5-20250929, say) on /v1/messages when no
	// enabled backend serves that name (no catalog entry has it, with or
	// without its dated or -latest suffix, and no Anthropic provider is
	// enabled for a claude-* name): the first alias whose pattern
	// matches decides.
	Aliases []Alias `yaml:"aliases"`
}

// Alias maps model names that match a pattern to a model.
type Alias struct {
	// Match is a glob (path.Match: * and ?) over the whole name.
	Match string `yaml:"match"`
	// Model is a catalog id, provider/model, "auto" or "auto:<profile>".
	Model string `yaml:"model"`
}

// Resolve is the model an alias gives name, "" when none matches.
func (r *Router) Resolve(name string) string {
	for _, a := range r.Aliases {
		if ok, _ := path.Match(a.Match, name); ok {
			return a.Model
		}
	}
	return ""
}

// ProviderBreaker configures the provider-wide circuit breaker. It opens
// after Consecutive provider-level failures in a row, or when the
// provider's error ratio over Breaker.Window reaches Breaker.ErrorRatio
// with at least Breaker.MinRequests attempts; after OpenFor one trial
// request (half-open) decides whether it closes.
type ProviderBreaker struct {
	Consecutive int           `yaml:"consecutive"`
	OpenFor     time.Duration `yaml:"open_for"`
}

// Breaker configures the per-backend circuit breaker.
type Breaker struct {
	// Window is the span over which the error ratio is counted.
	Window time.Duration `yaml:"window"`
	// MinRequests is the fewest requests in Window before the ratio counts.
	MinRequests int `yaml:"min_requests"`
	// ErrorRatio opens the circuit when reached.
	ErrorRatio float64 `yaml:"error_ratio"`
	// OpenFor is how long the circuit stays open before one trial request.
	OpenFor time.Duration `yaml:"open_for"`
}

// Profile is a routing policy: one row of the framework's cheat sheet.
type Profile struct {
	// Row names the framework's cheat-sheet row the profile encodes.
	Row string `yaml:"row"`
	// Openness and Deployment, when set, admit only these.
	Openness   []catalog.Openness   `yaml:"openness"`
	Deployment []catalog.Deployment `yaml:"deployment"`
	// Require lists tasks every candidate must have (e.g. vision).
	Require []catalog.Task `yaml:"require"`
	// Prefer lists catalog ids in the framework's order of recommendation.
	Prefer []string `yaml:"prefer"`
	// Domain is "detect" (classify the prompt), a domain name, or "".
	Domain string `yaml:"domain"`
	// Sort puts one criterion first: latency, throughput, price, quality.
	Sort string `yaml:"sort"`
	// MinTier admits only backends at least this fast.
	MinTier catalog.Tier `yaml:"min_tier"`
	// MaxPricePerMTok admits only backends whose blended price is at most this.
	MaxPricePerMTok float64 `yaml:"max_price_per_mtok"`
	// Weights of the ranking components.
	Weights Weights `yaml:"weights"`
}

// Weights of the ranking components, each scored 0..1.
type Weights struct {
	Prefer  float64 `yaml:"prefer"`
	Domain  float64 `yaml:"domain"`
	Speed   float64 `yaml:"speed"`
	Price   float64 `yaml:"price"`
	Quality float64 `yaml:"quality"`
}

// Domain is a domain's classifier: case-insensitive keywords and regular
// expressions over the request's text.
type Domain struct {
	Keywords []string `yaml:"keywords"`
	Patterns []string `yaml:"patterns"`
}

// Probe configures active health and speed probes of a provider.
type Probe struct {
	// Enabled defaults to true for local deployments, false for SaaS
	// (probes cost money there).
	Enabled   *bool         `yaml:"enabled"`
	Interval  time.Duration `yaml:"interval"`
	MaxTokens int           `yaml:"max_tokens"`
	// RetryInterval is how soon a failing provider (a probe failed, or a
	// breaker of it is open) is probed again, so that its recovery is
	// noticed within seconds. Default 2s for a keyless provider, the
	// interval for a keyed one (probes are billed there); never above
	// the interval.
	RetryInterval time.Duration `yaml:"retry_interval"`
}

// Tiers configures measured speed tiers.
type Tiers struct {
	// File is the tiers file written by `bench` that the gateway loads at
	// start and reloads when it changes ("" for none; -tiers overrides).
	File string `yaml:"file"`
	// Rules decide a tier from single-stream medians, fastest tier first:
	// a backend earns the first rule whose bounds it meets, else "slow".
	Rules []TierRule `yaml:"rules"`
}

// TierRule is the bound a backend must meet to earn Tier.
type TierRule struct {
	Tier catalog.Tier `yaml:"tier"`
	// MaxTTFT is the largest time-to-first-token median allowed.
	MaxTTFT time.Duration `yaml:"max_ttft"`
	// MinTokensPerSecond is the smallest output tokens/s median allowed.
	MinTokensPerSecond float64 `yaml:"min_tokens_per_s"`
	// Source says where the bound comes from.
	Source string `yaml:"source"`
	// At is the load the rule must hold at, a mapping with one key:
	// `at: {concurrency: 8}` (closed loop, 8 streams) or `at: {rate: 2}`
	// (open loop, requests per second). The rule is judged on the bench
	// step run at that load; if that step was not run the rule is not met
	// and the next rule is tried. Without it the rule holds at bench's
	// -tier-at (the single stream by default).
	At *TierAt `yaml:"at"`
}

// TierAt is the load at which a tier must hold: a closed-loop concurrency
// or an open-loop arrival rate (requests per second). The zero value is
// the single stream, concurrency 1, where tiers come from by default. A
// backend that is fast alone may be moderate at eight streams; a tier
// required at c=8 is the tier measured at c=8.
type TierAt struct {
	Concurrency int     `json:"concurrency,omitempty" yaml:"concurrency"`
	Rate        float64 `json:"rate,omitempty" yaml:"rate"`
}

// Single reports whether a is the single stream (concurrency 1).
func (a TierAt) Single() bool {
	return a.Rate == 0 && a.Concurrency <= 1
}

// String names the load as the bench labels its steps: "c=8" or
// "rate=2/s".
func (a TierAt) String() string {
	if a.Rate > 0 {
		return "rate=" + strconv.FormatFloat(a.Rate, 'g', -1, 64) + "/s"
	}
	return "c=" + strconv.Itoa(max(a.Concurrency, 1))
}

// Validate says what is wrong with a, if anything.
func (a TierAt) Validate() error {
	switch {
	case a.Concurrency < 0 || a.Rate < 0 || math.IsNaN(a.Rate) || math.IsInf(a.Rate, 0):
		return errors.New("the load a tier must hold at must be a positive concurrency or rate")
	case a.Concurrency > 0 && a.Rate > 0:
		return errors.New("the load a tier must hold at is a concurrency or a rate, not both")
	}
	return nil
}

// Server holds the HTTP server's settings.
type Server struct {
	// Addr is the listen address; the -addr flag overrides it.
	Addr string `yaml:"addr"`
	// MaxBodyBytes bounds a request body (default 20 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ShutdownGrace is how long in-flight requests may run after SIGTERM.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// DiscoverTimeout bounds each provider's start-up probe.
	DiscoverTimeout time.Duration `yaml:"discover_timeout"`
	// DrainDelay is how long /readyz answers 503 after SIGTERM while the
	// listener still accepts, so that load balancers stop sending before
	// it closes (default 5s).
	DrainDelay time.Duration `yaml:"drain_delay"`
	// BodyReadTimeout bounds reading a request's body once its headers
	// are in; a slower client gets 408 (default 30s).
	BodyReadTimeout time.Duration `yaml:"body_read_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no request
	// for this long (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConcurrent caps the API requests served at once; beyond it a
	// request gets 503 with Retry-After (default 1024).
	MaxConcurrent int `yaml:"max_concurrent"`
	// RediscoverInterval is how often keyless providers (a local Ollama,
	// a self-hosted server) and discovering ones are checked again, so
	// that one that comes up later is enabled and newly pulled models
	// join the catalog without a restart (default 5s).
	RediscoverInterval time.Duration `yaml:"rediscover_interval"`
	// DataDir holds the gateway's database (keys; default
	// $XDG_STATE_HOME/tiergate, else ~/.local/state/tiergate).
	DataDir string `yaml:"data_dir"`
}

// Provider types.
const (
	TypeOpenAI    = "openai"
	TypeOllama    = "ollama"
	TypeAnthropic = "anthropic"
	TypeGemini    = "gemini"
)

var providerTypes = []string{TypeOpenAI, TypeOllama, TypeAnthropic, TypeGemini}

// Provider configures one upstream.
type Provider struct {
	// Type selects the adapter: openai (any OpenAI-compatible server),
	// ollama, anthropic or gemini.
	Type    string `yaml:"type"`
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable holding the key. A provider
	// with APIKeyEnv set is enabled only when that variable is non-empty.
	APIKeyEnv string `yaml:"api_key_env"`
	// Headers are extra headers for every upstream request.
	Headers map[string]string `yaml:"headers"`
	// Probe: a provider without a key is enabled when it answers its
	// health check at start (a local Ollama, a keyless vLLM).
	// Discover adds the provider's own model list to the catalog.
	Discover bool `yaml:"discover"`
	// Deployment is the deployment of discovered models (default local
	// for ollama, self-hosted for others).
	Deployment catalog.Deployment `yaml:"deployment"`
	// DefaultMaxTokens is sent when a client gives none and the provider
	// requires it (Anthropic).
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// ResponsesAPI (openai type only) says the upstream serves OpenAI's
	// Responses API (POST /responses), so that the gateway's
	// /v1/responses requests routed to it pass through unchanged but for
	// the model; without it they are translated into chat completions.
	// Absent, it is true for https://api.openai.com and false for every
	// other OpenAI-compatible server (Groq, vLLM, Ollama's OpenAI API, LM
	// Studio), which validate sets it to.
	ResponsesAPI *bool `yaml:"responses_api"`
	// EnableHint is shown when the provider is disabled.
	EnableHint string `yaml:"enable_hint"`
	// Probe configures active probes of the provider's chat models.
	Probe Probe `yaml:"probe"`
}

// isOpenAI reports whether base is OpenAI's own API, which serves the
// Responses API (responses_api's default).
func isOpenAI(base string) bool {
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Hostname(), "api.openai.com")
}

// Defaults.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 20 << 20
	// DefaultDrainDelay is server.drain_delay's default.
	DefaultDrainDelay = 5 * time.Second
	// DefaultMaxConcurrent is server.max_concurrent's default.
	DefaultMaxConcurrent = 1024
)

// LoadFile reads the configuration at path, or, when path is empty, the
// default given by name and data (configs.Default, embedded in the binary).
func LoadFile(path, defaultName string, defaultData []byte, getenv func(string) string) (*Config, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		defaultName, defaultData = path, b
	}
	return Load(defaultName, defaultData, getenv)
}

// Load reads and validates a configuration. name is used in messages.
func Load(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	expanded := Expand(data, getenv)
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			return nil, fmt.Errorf("%s: the file is empty: start from configs/tiergate.yaml", name)
		}
		return nil, fmt.Errorf("%s: %s", name, explain(err))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(expanded, &root)
	if err := cfg.validate(&root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &cfg, nil
}

var errEOF = errors.New("EOF")

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Expand replaces ${VAR} with the variable's value and ${VAR:-default}
// with the value, or default when the variable is unset or empty.
func Expand(data []byte, getenv func(string) string) []byte {
	return envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		v := getenv(string(sub[1]))
		if v == "" && sub[2] != nil {
			v = string(sub[3])
		}
		return []byte(v)
	})
}

var (
	reUnknown = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)
	reType    = regexp.MustCompile("line (\\d+): cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
)

// knownTypes maps the names yaml reports to the types, to list valid keys.
var knownTypes = map[string]reflect.Type{
	"config.Config":   reflect.TypeOf(Config{}),
	"config.Server":   reflect.TypeOf(Server{}),
	"config.Provider": reflect.TypeOf(Provider{}),
	"catalog.Model":   reflect.TypeOf(catalog.Model{}),
	"catalog.Price":   reflect.TypeOf(catalog.Price{}),
	"config.Tiers":    reflect.TypeOf(Tiers{}),
	"config.TierRule": reflect.TypeOf(TierRule{}),
	"config.TierAt":   reflect.TypeOf(TierAt{}),
	"config.Router":   reflect.TypeOf(Router{}),
	"config.Breaker":  reflect.TypeOf(Breaker{}),
	"config.Profile":  reflect.TypeOf(Profile{}),
	"config.Weights":  reflect.TypeOf(Weights{}),
	"config.Domain":   reflect.TypeOf(Domain{}),
	"config.Probe":    reflect.TypeOf(Probe{}),
	"config.Auth":     reflect.TypeOf(Auth{}),
	"config.AuthKey":  reflect.TypeOf(AuthKey{}),
}

// explain rewrites yaml's decode errors into messages that name the line
// and the fix.
func explain(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	var out []string
	for _, e := range te.Errors {
		if m := reUnknown.FindStringSubmatch(e); m != nil {
			msg := fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
			if t, ok := knownTypes[m[3]]; ok {
				msg += "; valid keys here: " + strings.Join(yamlKeys(t), ", ")
			}
			out = append(out, msg)
			continue
		}
		if m := reType.FindStringSubmatch(e); m != nil {
			want := m[4]
			switch {
			case strings.Contains(want, "int"):
				want = "a whole number"
			case want == "time.Duration":
				want = "a duration such as 30s or 2m"
			case want == "bool":
				want = "true or false"
			case strings.HasPrefix(want, "[]"):
				want = "a list"
			case strings.HasPrefix(want, "map"):
				want = "a mapping of keys to values"
			case strings.Contains(want, "float"):
				want = "a number"
			}
			out = append(out, fmt.Sprintf("line %s: %q is a %s here, but this key needs %s", m[1], m[3], m[2], want))
			continue
		}
		out = append(out, e)
	}
	return strings.Join(out, "; ")
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// line returns the line of the n-th model entry, 0 when unknown.
func modelLine(root *yaml.Node, i int) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	doc := root.Content[0]
	for k := 0; k+1 < len(doc.Content); k += 2 {
		if doc.Content[k].Value == "models" && i < len(doc.Content[k+1].Content) {
			return doc.Content[k+1].Content[i].Line
		}
	}
	return 0
}

func (c *Config) validate(root *yaml.Node) error {
	c.Server.Addr = cmp.Or(c.Server.Addr, DefaultAddr)
	c.Server.MaxBodyBytes = cmp.Or(c.Server.MaxBodyBytes, DefaultMaxBodyBytes)
	if c.Server.MaxBodyBytes < 0 {
		return errors.New("server.max_body_bytes must be positive")
	}
	c.Server.ShutdownGrace = cmp.Or(c.Server.ShutdownGrace, 30*time.Second)
	c.Server.ReadHeaderTimeout = cmp.Or(c.Server.ReadHeaderTimeout, 10*time.Second)
	c.Server.DiscoverTimeout = cmp.Or(c.Server.DiscoverTimeout, 2*time.Second)
	c.Server.DrainDelay = cmp.Or(c.Server.DrainDelay, DefaultDrainDelay)
	c.Server.BodyReadTimeout = cmp.Or(c.Server.BodyReadTimeout, 30*time.Second)
	c.Server.IdleTimeout = cmp.Or(c.Server.IdleTimeout, 60*time.Second)
	c.Server.MaxConcurrent = cmp.Or(c.Server.MaxConcurrent, DefaultMaxConcurrent)
	c.Server.RediscoverInterval = cmp.Or(c.Server.RediscoverInterval, 5*time.Second)
	for name, d := range map[string]time.Duration{"drain_delay": c.Server.DrainDelay, "body_read_timeout": c.Server.BodyReadTimeout,
		"idle_timeout": c.Server.IdleTimeout, "shutdown_grace": c.Server.ShutdownGrace, "rediscover_interval": c.Server.RediscoverInterval} {
		if d < 0 {
			return fmt.Errorf("server.%s must be positive", name)
		}
	}
	if c.Server.MaxConcurrent < 0 {
		return errors.New("server.max_concurrent must be positive")
	}
	for i, r := range c.Tiers.Rules {
		if r.Tier.Rank() < 0 {
			return fmt.Errorf("tiers.rules[%d]: tier %q is not one of %s", i, r.Tier, "ultra-fast, fast, moderate, slow")
		}
		if i > 0 && r.Tier.Rank() <= c.Tiers.Rules[i-1].Tier.Rank() {
			return fmt.Errorf("tiers.rules[%d]: rules must go from the fastest tier to the slowest", i)
		}
		if r.MaxTTFT <= 0 || r.MinTokensPerSecond < 0 {
			return fmt.Errorf("tiers.rules[%d] (%s): give max_ttft > 0 and min_tokens_per_s >= 0", i, r.Tier)
		}
		if r.At != nil {
			if err := r.At.Validate(); err != nil {
				return fmt.Errorf("tiers.rules[%d] (%s): at: %v; give at: {concurrency: N} or at: {rate: R}", i, r.Tier, err)
			}
			if r.At.Concurrency == 0 && r.At.Rate == 0 {
				return fmt.Errorf("tiers.rules[%d] (%s): at is empty; give at: {concurrency: N} or at: {rate: R} (requests per second)", i, r.Tier)
			}
		}
	}
	names := make([]string, 0, len(c.Providers))
	for name, p := range c.Providers {
		names = append(names, name)
		if p == nil {
			return fmt.Errorf("providers.%s is empty: give it at least a type (%s)", name, strings.Join(providerTypes, ", "))
		}
		if !slices.Contains(providerTypes, p.Type) {
			return fmt.Errorf("providers.%s: type %q is not one of %s", name, p.Type, strings.Join(providerTypes, ", "))
		}
		if strings.Contains(name, "/") {
			return fmt.Errorf("providers.%s: a provider name cannot contain '/'", name)
		}
		switch {
		case p.Type != TypeOpenAI && p.ResponsesAPI != nil:
			return fmt.Errorf("providers.%s: responses_api is for openai providers (OpenAI-compatible servers); a %s provider is served OpenAI's Responses API by translation", name, p.Type)
		case p.Type == TypeOpenAI && p.ResponsesAPI == nil:
			on := isOpenAI(p.BaseURL)
			p.ResponsesAPI = &on
		}
		if p.Deployment == "" {
			p.Deployment = catalog.SelfHosted
			if p.Type == TypeOllama {
				p.Deployment = catalog.Local
			}
		}
	}
	sort.Strings(names)
	seen := map[string]int{}
	for i, m := range c.Models {
		where := fmt.Sprintf("models[%d]", i)
		if l := modelLine(root, i); l > 0 {
			where = fmt.Sprintf("line %d: models[%d]", l, i)
		}
		if m == nil {
			return fmt.Errorf("%s is empty", where)
		}
		if err := m.Validate(where); err != nil {
			return err
		}
		if prev, ok := seen[m.ID]; ok {
			return fmt.Errorf("%s: duplicate id %q (models[%d] has it too): every model id must be unique; rename one", where, m.ID, prev)
		}
		seen[m.ID] = i
		if _, ok := c.Providers[m.Provider]; !ok {
			return fmt.Errorf("%s (%s): provider %q is not defined; defined providers: %s (add it under providers: or fix the name)",
				where, m.ID, m.Provider, strings.Join(names, ", "))
		}
	}
	if err := c.validateRouting(seen); err != nil {
		return err
	}
	if err := c.State.validate(); err != nil {
		return err
	}
	if err := c.validateAuth(root); err != nil {
		return err
	}
	for i, m := range c.Models {
		for _, fb := range m.Fallbacks {
			if _, ok := seen[fb]; !ok {
				return fmt.Errorf("models[%d] (%s): fallback %q is not a model id in this file", i, m.ID, fb)
			}
		}
	}
	return nil
}

// Sort criteria.
var sortKeys = []string{"latency", "throughput", "price", "quality"}

// SortKeys lists the valid sort criteria.
func SortKeys() []string { return append([]string(nil), sortKeys...) }

func (c *Config) validateRouting(models map[string]int) error {
	r := &c.Router
	r.ApplyDefaults()
	b := &r.Breaker
	if r.MaxAttempts < 1 || b.ErrorRatio <= 0 || b.ErrorRatio > 1 || b.MinRequests < 1 {
		return errors.New("router: max_attempts must be >= 1, breaker.error_ratio in (0,1], breaker.min_requests >= 1")
	}
	if _, ok := c.Profiles[r.DefaultProfile]; !ok && len(c.Profiles) > 0 {
		return fmt.Errorf("router.default_profile %q is not a profile; profiles: %s", r.DefaultProfile, strings.Join(slices.Sorted(maps.Keys(c.Profiles)), ", "))
	}
	for name, p := range c.Profiles {
		if p == nil {
			return fmt.Errorf("profiles.%s is empty", name)
		}
		for _, id := range p.Prefer {
			if _, ok := models[id]; !ok {
				return fmt.Errorf("profiles.%s: prefer names %q, which is not a model id in this file", name, id)
			}
		}
		if p.Sort != "" && !slices.Contains(sortKeys, p.Sort) {
			return fmt.Errorf("profiles.%s: sort %q is not one of %s", name, p.Sort, strings.Join(sortKeys, ", "))
		}
		if p.MinTier != "" && p.MinTier.Rank() < 0 {
			return fmt.Errorf("profiles.%s: min_tier %q is not a tier", name, p.MinTier)
		}
		if p.Domain != "" && p.Domain != "detect" {
			if _, ok := c.Domains[p.Domain]; !ok {
				return fmt.Errorf("profiles.%s: domain %q is neither \"detect\" nor a domain under `domains`", name, p.Domain)
			}
		}
		for _, o := range p.Openness {
			m := catalog.Model{ID: "x", Provider: "x", Upstream: "x", Openness: o, Deployment: catalog.Local, Tasks: []catalog.Task{catalog.Chat}}
			if err := m.Validate("profiles." + name); err != nil {
				return err
			}
		}
		for _, d := range p.Deployment {
			m := catalog.Model{ID: "x", Provider: "x", Upstream: "x", Openness: catalog.OpenSource, Deployment: d, Tasks: []catalog.Task{catalog.Chat}}
			if err := m.Validate("profiles." + name); err != nil {
				return err
			}
		}
	}
	for i, a := range r.Aliases {
		if _, err := path.Match(a.Match, ""); err != nil || a.Match == "" {
			return fmt.Errorf("router.aliases[%d]: match %q is not a glob pattern (path.Match: * and ?)", i, a.Match)
		}
		if profile, ok := strings.CutPrefix(a.Model, "auto:"); ok {
			if _, known := c.Profiles[profile]; !known {
				return fmt.Errorf("router.aliases[%d]: model %q names no profile; profiles: %s", i, a.Model, strings.Join(slices.Sorted(maps.Keys(c.Profiles)), ", "))
			}
			continue
		}
		if _, known := models[a.Model]; !known && a.Model != "auto" && !strings.Contains(a.Model, "/") {
			return fmt.Errorf("router.aliases[%d]: model %q is not a model id in this file, provider/model, auto or auto:<profile>", i, a.Model)
		}
	}
	for name, d := range c.Domains {
		if d == nil {
			return fmt.Errorf("domains.%s is empty: give keywords or patterns", name)
		}
		for _, pat := range d.Patterns {
			if _, err := regexp.Compile("(?i)" + pat); err != nil {
				return fmt.Errorf("domains.%s: pattern %q: %v", name, pat, err)
			}
		}
	}
	return nil
}

// ApplyDefaults fills the routing settings left unset. Load applies it;
// code that builds a Router value by hand calls it too.
func (r *Router) ApplyDefaults() {
	r.DefaultProfile = cmp.Or(r.DefaultProfile, "auto")
	r.MaxAttempts = cmp.Or(r.MaxAttempts, 3)
	r.TTFTTimeout = cmp.Or(r.TTFTTimeout, 60*time.Second)
	r.Timeout = cmp.Or(r.Timeout, 10*time.Minute)
	r.NearEqual = cmp.Or(r.NearEqual, 0.05)
	r.EWMADecay = cmp.Or(r.EWMADecay, 10*time.Second)
	r.TierWindow = cmp.Or(r.TierWindow, time.Minute)
	b := &r.Breaker
	b.Window = cmp.Or(b.Window, 30*time.Second)
	b.MinRequests = cmp.Or(b.MinRequests, 10)
	b.ErrorRatio = cmp.Or(b.ErrorRatio, 0.5)
	b.OpenFor = cmp.Or(b.OpenFor, 30*time.Second)
	r.ProviderBreaker.Consecutive = cmp.Or(r.ProviderBreaker.Consecutive, 3)
	r.ProviderBreaker.OpenFor = cmp.Or(r.ProviderBreaker.OpenFor, 10*time.Second)
	r.TTFTMultiple = cmp.Or(r.TTFTMultiple, 5)
	r.TTFTFloor = cmp.Or(r.TTFTFloor, 5*time.Second)
	r.UnaryFloor = cmp.Or(r.UnaryFloor, 20*time.Second)
	r.FailoverTimeout = cmp.Or(r.FailoverTimeout, 30*time.Second)
}

// nodeLine returns the line of the i-th entry of the sequence at path
// (from the document's root), 0 when unknown.
func nodeLine(root *yaml.Node, i int, path ...string) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	n := root.Content[0]
	for _, key := range path {
		var next *yaml.Node
		for k := 0; k+1 < len(n.Content); k += 2 {
			if n.Content[k].Value == key {
				next = n.Content[k+1]
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	if i < len(n.Content) {
		return n.Content[i].Line
	}
	return 0
}

// validate fills the state section's defaults and checks it.
func (s *State) validate() error {
	s.Timeout = cmp.Or(s.Timeout, 50*time.Millisecond)
	s.OnFailure = cmp.Or(s.OnFailure, OnFailureOpen)
	s.PostgresTimeout = cmp.Or(s.PostgresTimeout, 2*time.Second)
	s.SnapshotInterval = cmp.Or(s.SnapshotInterval, 2*time.Second)
	switch {
	case s.Timeout < 0:
		return errors.New("state.timeout must be positive")
	case s.PostgresTimeout < 0:
		return errors.New("state.postgres_timeout must be positive")
	case s.SnapshotInterval < 0:
		return errors.New("state.snapshot_interval must be positive")
	case s.OnFailure != OnFailureOpen && s.OnFailure != OnFailureClosed:
		return fmt.Errorf("state.on_failure %q is not one of open, closed", s.OnFailure)
	case s.Replicas < 0:
		return errors.New("state.replicas must be 0 (count them) or more")
	}
	return nil
}

func (c *Config) validateAuth(root *yaml.Node) error {
	a := &c.Auth
	if a.Mode != keys.ModeAuto && !slices.Contains(keys.Modes, a.Mode) {
		line := 0
		if root != nil && len(root.Content) > 0 {
			for k, n := 0, root.Content[0]; k+1 < len(n.Content); k += 2 {
				if n.Content[k].Value == "auth" {
					for j, m := 0, n.Content[k+1]; j+1 < len(m.Content); j += 2 {
						if m.Content[j].Value == "mode" {
							line = m.Content[j].Line
						}
					}
				}
			}
		}
		return fmt.Errorf("line %d: auth.mode %q is not one of %s (or leave it out: keys are required once one exists)",
			line, a.Mode, strings.Join(keys.Modes, ", "))
	}
	names := map[string]int{}
	for i, k := range a.Keys {
		where := fmt.Sprintf("auth.keys[%d]", i)
		if l := nodeLine(root, i, "auth", "keys"); l > 0 {
			where = fmt.Sprintf("line %d: %s", l, where)
		}
		if k == nil {
			return fmt.Errorf("%s is empty: give a name and a hash (sha256:<hex>) or key: ${ENV_VAR}", where)
		}
		if err := keys.ValidName(k.Name); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		where += " (" + k.Name + ")"
		if prev, dup := names[k.Name]; dup {
			return fmt.Errorf("%s: auth.keys[%d] has this name too: every key needs its own name", where, prev)
		}
		names[k.Name] = i
		p := keys.Key{ID: "key_config_" + k.Name, Name: k.Name, Source: keys.SourceConfig}
		switch {
		case k.Hash != "" && k.Key != "":
			return fmt.Errorf("%s: give hash or key, not both", where)
		case k.Hash != "":
			h, err := keys.ParseHash(k.Hash)
			if err != nil {
				return fmt.Errorf("%s: hash: %v", where, err)
			}
			p.Hash = h
		case k.Key != "":
			// Never quote the secret: only what is wrong with it.
			if err := keys.ParseSecret(k.Key); err != nil {
				return fmt.Errorf("%s: key: %v; make one with `gateway keys create` or use hash: sha256:<hex>", where, err)
			}
			p.Hash = keys.HashSecret(k.Key)
			k.Key = ""
		default:
			return fmt.Errorf("%s: give hash: sha256:<hex of the key> or key: ${ENV_VAR} (an empty ${VAR} means the variable is not set)", where)
		}
		if k.ExpiresAt != "" {
			t, err := time.Parse(time.RFC3339, k.ExpiresAt)
			if err != nil {
				return fmt.Errorf("%s: expires_at %q: write an RFC 3339 time such as 2027-01-01T00:00:00Z", where, k.ExpiresAt)
			}
			p.ExpiresAt = &t
		}
		if k.Policy.Kind != 0 {
			var v any
			if err := k.Policy.Decode(&v); err != nil {
				return fmt.Errorf("%s: policy: %v", where, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("%s: policy: %v", where, err)
			}
			if p.Policy, err = keys.ParsePolicy(b); err == nil && len(c.Profiles) > 0 {
				err = p.Policy.CheckProfiles(slices.Sorted(maps.Keys(c.Profiles)))
			}
			if err != nil {
				return fmt.Errorf("%s: policy (line %d): %s", where, k.Policy.Line, strings.TrimPrefix(err.Error(), "policy: "))
			}
		}
		k.Parsed = p
	}
	return nil
}
