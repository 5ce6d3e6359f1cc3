// Package catalog holds the model catalog: every model tiergate can route to,
// with the framework's attributes (openness, deployment, tasks, domains,
// context window, price, speed-tier prior). It is plain data plus lookups;
// it must not import providers, the router or the gateway.
package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Openness is how much of a model is public (framework dimension 1).
type Openness string

// Openness values.
const (
	OpenSource  Openness = "open-source"
	OpenWeight  Openness = "open-weight"
	Proprietary Openness = "proprietary"
)

// Deployment is where a model runs (framework dimension 4).
type Deployment string

// Deployment values.
const (
	Local      Deployment = "local"
	SaaS       Deployment = "saas"
	SelfHosted Deployment = "self-hosted"
)

// Task is what a model can do (framework dimension 2).
type Task string

// Task values.
const (
	Chat         Task = "chat"
	Vision       Task = "vision"
	Tools        Task = "tools"
	Embeddings   Task = "embeddings"
	SpeechToText Task = "speech-to-text"
	TextToSpeech Task = "text-to-speech"
)

// Tier is a speed tier (framework's inference speed matrix).
type Tier string

// Tier values, fastest first.
const (
	UltraFast Tier = "ultra-fast"
	Fast      Tier = "fast"
	Moderate  Tier = "moderate"
	Slow      Tier = "slow"
)

// Valid value sets, in a stable order for error messages.
var (
	validOpenness   = []Openness{OpenSource, OpenWeight, Proprietary}
	validDeployment = []Deployment{Local, SaaS, SelfHosted}
	validTasks      = []Task{Chat, Vision, Tools, Embeddings, SpeechToText, TextToSpeech}
	validTiers      = []Tier{UltraFast, Fast, Moderate, Slow}
)

// Tiers returns the speed tiers, fastest first.
func Tiers() []Tier { return append([]Tier(nil), validTiers...) }

// Rank orders tiers: 0 for ultra-fast up to 3 for slow, -1 when unknown.
func (t Tier) Rank() int {
	for i, v := range validTiers {
		if v == t {
			return i
		}
	}
	return -1
}

// Price is a list price in USD per million tokens, with its provenance;
// the speech tasks bill by the minute of audio (speech-to-text) or the
// million input characters (text-to-speech) instead.
type Price struct {
	Input  float64 `yaml:"input" json:"input"`
	Output float64 `yaml:"output" json:"output"`
	// PerMinute is USD per minute of transcribed audio (speech-to-text
	// models only; OpenAI's whisper-1: 0.006).
	PerMinute float64 `yaml:"per_minute" json:"per_minute,omitempty"`
	// PerMillionChars is USD per million input characters (text-to-speech
	// models only; OpenAI's tts-1: 15).
	PerMillionChars float64 `yaml:"per_million_chars" json:"per_million_chars,omitempty"`
	// Source says where the price was read (a pricing page).
	Source string `yaml:"source" json:"source,omitempty"`
	// AsOf is the date the price was known to hold (YYYY-MM-DD).
	AsOf string `yaml:"as_of" json:"as_of,omitempty"`
}

// AudioCost is what seconds of transcribed audio and chars of spoken
// input cost at p, in USD.
func (p Price) AudioCost(seconds float64, chars int) float64 {
	return max(seconds, 0)/60*p.PerMinute + float64(max(chars, 0))*p.PerMillionChars/1e6
}

// Model is one catalog entry.
type Model struct {
	// ID is what clients send as "model".
	ID string `yaml:"id" json:"id"`
	// Provider is the configured provider's name.
	Provider string `yaml:"provider" json:"provider"`
	// Upstream is the model name the provider knows.
	Upstream   string     `yaml:"upstream" json:"upstream"`
	Openness   Openness   `yaml:"openness" json:"openness"`
	Deployment Deployment `yaml:"deployment" json:"deployment"`
	Tasks      []Task     `yaml:"tasks" json:"tasks"`
	// Domains the model is suited to ("general", "legal", "medical", ...).
	Domains []string `yaml:"domains" json:"domains,omitempty"`
	// FineTuned and RAG mark domain specialisation: a model fine-tuned for
	// its domains, or a backend that grounds answers in retrieved documents.
	FineTuned     bool  `yaml:"fine_tuned" json:"fine_tuned,omitempty"`
	RAG           bool  `yaml:"rag" json:"rag,omitempty"`
	ContextWindow int   `yaml:"context_window" json:"context_window"`
	Price         Price `yaml:"price" json:"price"`
	// TierPrior is the framework's speed tier for the model, used until
	// the model is measured.
	TierPrior Tier `yaml:"tier_prior" json:"tier_prior,omitempty"`
	// Quality is a 0-100 rank for general reasoning, from public
	// leaderboards; higher is better.
	Quality int `yaml:"quality" json:"quality,omitempty"`
	// Fallbacks are catalog ids tried, in order, when this model is pinned
	// and fails before answering.
	Fallbacks []string `yaml:"fallbacks" json:"fallbacks,omitempty"`
	// Discovered is true for entries found on the provider at start
	// (for example Ollama's installed models) rather than configured.
	Discovered bool `yaml:"-" json:"discovered,omitempty"`
	// Notes is free text for operators.
	Notes string `yaml:"notes" json:"notes,omitempty"`
}

// Has reports whether the model can do task t.
func (m *Model) Has(t Task) bool {
	for _, v := range m.Tasks {
		if v == t {
			return true
		}
	}
	return false
}

// Validate checks the entry's own fields; where says which entry it is
// for error messages (for example "models[3]").
func (m *Model) Validate(where string) error {
	if m.ID == "" {
		return fmt.Errorf("%s: id is empty: give the model the name clients will send", where)
	}
	where = fmt.Sprintf("%s (%s)", where, m.ID)
	if m.Provider == "" {
		return fmt.Errorf("%s: provider is empty: name one of the providers", where)
	}
	if m.Upstream == "" {
		return fmt.Errorf("%s: upstream is empty: give the model name the provider knows", where)
	}
	if !slices.Contains(validOpenness, m.Openness) {
		return fmt.Errorf("%s: openness %q is not one of %s", where, m.Openness, list(validOpenness))
	}
	if !slices.Contains(validDeployment, m.Deployment) {
		return fmt.Errorf("%s: deployment %q is not one of %s", where, m.Deployment, list(validDeployment))
	}
	if len(m.Tasks) == 0 {
		return fmt.Errorf("%s: tasks is empty: list what the model does, from %s", where, list(validTasks))
	}
	for _, t := range m.Tasks {
		if !slices.Contains(validTasks, t) {
			return fmt.Errorf("%s: task %q is not one of %s", where, t, list(validTasks))
		}
	}
	if m.TierPrior != "" && !slices.Contains(validTiers, m.TierPrior) {
		return fmt.Errorf("%s: tier_prior %q is not one of %s", where, m.TierPrior, list(validTiers))
	}
	if m.ContextWindow < 0 {
		return fmt.Errorf("%s: context_window %d is negative", where, m.ContextWindow)
	}
	if m.Price.Input < 0 || m.Price.Output < 0 || m.Price.PerMinute < 0 || m.Price.PerMillionChars < 0 {
		return fmt.Errorf("%s: price is negative", where)
	}
	if m.Price.PerMinute > 0 && !m.Has(SpeechToText) {
		return fmt.Errorf("%s: price.per_minute bills transcribed audio, and the model's tasks have no %s: move the price to input/output or add the task", where, SpeechToText)
	}
	if m.Price.PerMillionChars > 0 && !m.Has(TextToSpeech) {
		return fmt.Errorf("%s: price.per_million_chars bills spoken input, and the model's tasks have no %s: move the price to input/output or add the task", where, TextToSpeech)
	}
	if m.Quality < 0 || m.Quality > 100 {
		return fmt.Errorf("%s: quality %d is outside 0-100", where, m.Quality)
	}
	return nil
}

// Catalog is an immutable set of models, looked up by id.
type Catalog struct {
	models []*Model
	byID   map[string]*Model
}

// New builds a catalog, rejecting duplicate ids.
func New(models []*Model) (*Catalog, error) {
	c := &Catalog{byID: make(map[string]*Model, len(models))}
	for i, m := range models {
		if prev, ok := c.byID[m.ID]; ok {
			_ = prev
			return nil, fmt.Errorf("models[%d]: duplicate id %q: every model id must be unique; rename one", i, m.ID)
		}
		c.byID[m.ID] = m
		c.models = append(c.models, m)
	}
	return c, nil
}

// Get returns the model with the given id.
func (c *Catalog) Get(id string) (*Model, bool) {
	m, ok := c.byID[id]
	return m, ok
}

// All returns the models in catalog order. The slice must not be modified.
func (c *Catalog) All() []*Model { return c.models }

// IDs returns the sorted model ids.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.models))
	for _, m := range c.models {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return ids
}

func list[T ~string](set []T) string {
	s := make([]string, len(set))
	for i, v := range set {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
