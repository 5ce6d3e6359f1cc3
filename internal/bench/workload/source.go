package workload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// Source is a workload: the conversations the engine sends. Conversation
// numbers start at 0; a source holding fewer uses them in turn. The
// engine calls it from several goroutines.
type Source interface {
	// Conversation returns conversation i: one turn or more, each carrying
	// the turns before it (Session).
	Conversation(i int) Conversation
	// Turns is the most turns a conversation has (1: single requests).
	Turns() int
	// Spec describes the workload for the results.
	Spec() Spec
}

// Timed is a Source whose requests have their own send times (a trace):
// conversation i, of one turn, is sent at At(i) from the step's start.
type Timed interface {
	Source
	// At returns when request i is sent, and false past the last.
	At(i int) (time.Duration, bool)
	// Len is the number of requests.
	Len() int
}

// Spec describes a workload in results.json: where its requests come
// from and every parameter that shaped them.
type Spec struct {
	// Source is "synthetic", "dataset" or "trace" (the engine also writes
	// "prompts" for a -prompts file).
	Source string `json:"source"`
	Seed   uint64 `json:"seed"`
	File   string `json:"file,omitempty"`
	Format string `json:"format,omitempty"`
	// Conversations is how many the source holds (a dataset's kept
	// entries, a trace's requests); Skipped those a dataset could not
	// send, Truncated that reading stopped at the limit.
	Conversations int  `json:"conversations,omitempty"`
	Skipped       int  `json:"skipped,omitempty"`
	Truncated     bool `json:"truncated,omitempty"`
	// InputLen and OutputLen are the length distributions (Dist.String;
	// OutputLen "dataset" for the dataset's own answers' lengths).
	InputLen  string `json:"input_len,omitempty"`
	OutputLen string `json:"output_len,omitempty"`
	// SharedPrefixes of SharedPrefixLen tokens open the first turns.
	SharedPrefixes  int `json:"shared_prefixes,omitempty"`
	SharedPrefixLen int `json:"shared_prefix_len,omitempty"`
	Turns           int `json:"turns,omitempty"`
	// IgnoreEOS says each request asked for exactly its max_tokens
	// (min_tokens and ignore_eos).
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
	// TraceSpeed scales a trace's times (2: twice as fast).
	TraceSpeed float64 `json:"trace_speed,omitempty"`
	TraceSpanS float64 `json:"trace_span_s,omitempty"`
}

// Turn is one request of a conversation.
type Turn struct {
	// Messages are what this turn adds: a user message (the first turn
	// may open with system messages, or hold a trace's whole request).
	Messages []openaiwire.Message
	// MaxTokens bounds the answer.
	MaxTokens int
}

// Conversation is a sequence of turns sent in order.
type Conversation struct {
	Turns []Turn
	// IgnoreEOS asks for answers of exactly MaxTokens tokens.
	IgnoreEOS bool
}

// Request is one request to send.
type Request struct {
	// Messages is the whole conversation so far, this turn last.
	Messages []openaiwire.Message
	// MaxTokens bounds the answer; with IgnoreEOS the server is asked for
	// exactly that many (min_tokens = max_tokens, ignore_eos: true, which
	// vLLM and SGLang honour).
	MaxTokens int
	IgnoreEOS bool
}

// Session walks a conversation: Next gives each turn's request with the
// history before it, and Answer adds the model's answer to that history.
type Session struct {
	c       Conversation
	next    int
	history []openaiwire.Message
	waiting bool // a request was given and its answer not yet
}

// Start begins the conversation.
func (c Conversation) Start() *Session { return &Session{c: c} }

// Next returns the next turn's request, false when the conversation is
// over, or when the last request's answer was not given (a failed turn
// ends its conversation: the history would lack its answer).
func (s *Session) Next() (Request, bool) {
	if s.next >= len(s.c.Turns) || s.waiting {
		return Request{}, false
	}
	t := s.c.Turns[s.next]
	s.next++
	s.history = append(s.history, t.Messages...)
	s.waiting = true
	return Request{Messages: slices.Clip(s.history), MaxTokens: t.MaxTokens, IgnoreEOS: s.c.IgnoreEOS}, true
}

// Answer records the model's answer to the last request.
func (s *Session) Answer(text string) {
	if !s.waiting {
		return
	}
	s.waiting = false
	s.history = append(s.history, openaiwire.Message{Role: "assistant", Content: textContent(text)})
}

// Config sets up a Source. Give Dataset or Trace, or neither for
// synthetic prompts.
type Config struct {
	Seed uint64
	// MaxTokens is the run's bound on answers, used when OutputLen is nil
	// (and for a dataset's entry with no answer, with OutputFromDataset).
	MaxTokens int
	// InputLen draws synthetic prompts' lengths (nil: Fixed(128)).
	InputLen Dist
	// OutputLen draws each turn's max_tokens.
	OutputLen Dist
	// OutputFromDataset bounds each turn's answer by the length of the
	// dataset's own answer to it, counted with Count.
	OutputFromDataset bool
	Count             func(string) int
	Dataset           *Dataset
	Trace             *Trace
	// TraceSpeed divides a trace's times (0: 1).
	TraceSpeed float64
	// SharedPrefixes > 0 opens every conversation's first user message
	// with one of this many prefixes, SharedPrefixLen tokens each (chosen
	// in turn: conversation i gets prefix i mod n).
	SharedPrefixes, SharedPrefixLen int
	// Turns is how many user turns a conversation has (0: 1); a dataset
	// gives at most that many of each entry's user messages.
	Turns int
	// IgnoreEOS asks for answers of exactly max_tokens tokens.
	IgnoreEOS bool
}

// New checks c and builds its Source.
func New(c Config) (Source, error) {
	if c.MaxTokens <= 0 {
		return nil, errors.New("max tokens must be positive: answers must be bounded")
	}
	if c.Turns < 0 || c.SharedPrefixes < 0 || c.SharedPrefixLen < 0 || c.TraceSpeed < 0 {
		return nil, errors.New("turns, shared prefixes and the trace speed must not be negative")
	}
	if c.Turns == 0 {
		c.Turns = 1
	}
	if (c.SharedPrefixes > 0) != (c.SharedPrefixLen > 0) || c.SharedPrefixLen > MaxLen {
		return nil, fmt.Errorf("a shared prefix needs a number of prefixes and a length (1 to %d tokens)", MaxLen)
	}
	if c.Dataset != nil && c.Trace != nil {
		return nil, errors.New("give a dataset or a trace, not both")
	}
	if c.OutputFromDataset && (c.Dataset == nil || c.Count == nil) {
		return nil, errors.New(`output lengths "dataset" need a dataset (and a token counter)`)
	}
	if c.OutputFromDataset && c.OutputLen != nil {
		return nil, errors.New("give output lengths from the dataset or a distribution, not both")
	}
	if (c.Dataset != nil || c.Trace != nil) && c.InputLen != nil {
		return nil, errors.New("input lengths are for synthetic prompts: a dataset or a trace gives its own")
	}
	if c.InputLen == nil {
		c.InputLen = Fixed(128)
	}
	s := &source{c: c, spec: Spec{Source: "synthetic", Seed: c.Seed, Turns: c.Turns, IgnoreEOS: c.IgnoreEOS,
		SharedPrefixes: c.SharedPrefixes, SharedPrefixLen: c.SharedPrefixLen}}
	if c.OutputLen != nil {
		s.spec.OutputLen = c.OutputLen.String()
	}
	switch {
	case c.Trace != nil:
		if c.Turns > 1 {
			return nil, errors.New("a trace's requests are single: each line holds its whole request (turns cannot be added)")
		}
		if len(c.Trace.Entries) == 0 {
			return nil, errors.New("the trace is empty")
		}
		if c.TraceSpeed == 0 {
			c.TraceSpeed = 1
			s.c.TraceSpeed = 1
		}
		s.spec.Source, s.spec.File, s.spec.Conversations = "trace", c.Trace.Name, len(c.Trace.Entries)
		s.spec.TraceSpeed, s.spec.TraceSpanS = c.TraceSpeed, c.Trace.Span().Seconds()/c.TraceSpeed
		s.spec.Turns = 0
		return &timed{s}, nil
	case c.Dataset != nil:
		if len(c.Dataset.Entries) == 0 {
			return nil, errors.New("the dataset is empty")
		}
		s.spec.Source, s.spec.File, s.spec.Format = "dataset", c.Dataset.Name, c.Dataset.Format
		s.spec.Conversations, s.spec.Skipped, s.spec.Truncated = len(c.Dataset.Entries), c.Dataset.Skipped, c.Dataset.Truncated
		if c.OutputFromDataset {
			s.spec.OutputLen = "dataset"
		}
		s.turns = make([][]datasetTurn, len(c.Dataset.Entries))
		for i, e := range c.Dataset.Entries {
			s.turns[i] = splitTurns(e.Messages, c.Turns)
		}
	default:
		s.spec.InputLen = c.InputLen.String()
	}
	return s, nil
}

// datasetTurn is a turn of a dataset's entry and the entry's own answer.
type datasetTurn struct {
	messages []openaiwire.Message
	answer   string
}

// splitTurns cuts an entry into up to k turns, one per user message: the
// first carries the system messages before it; the entry's answers are
// dropped (the model's own take their place) but kept for their lengths.
func splitTurns(ms []openaiwire.Message, k int) []datasetTurn {
	var out []datasetTurn
	var pending []openaiwire.Message
	for _, m := range ms {
		switch {
		case m.Role == "user":
			if len(out) == k {
				return out
			}
			out = append(out, datasetTurn{messages: append(pending, m)})
			pending = nil
		case m.Role == "assistant" && len(out) > 0:
			if t := &out[len(out)-1]; t.answer == "" {
				t.answer = TextOf(m)
			}
		case m.Role == "system" && len(out) == 0:
			pending = append(pending, m)
		}
	}
	return out
}

type source struct {
	c     Config
	spec  Spec
	turns [][]datasetTurn // a dataset's entries cut into turns
}

func (s *source) Spec() Spec { return s.spec }
func (s *source) Turns() int { return s.c.Turns }

// seedFor is the seed of a draw of kind salt for turn j.
func (s *source) seedFor(salt uint64, j int) uint64 {
	return s.c.Seed ^ salt ^ (uint64(j) * saltTurn)
}

// maxTokens draws turn j of conversation i's bound.
func (s *source) maxTokens(i, j int) int {
	if s.c.OutputLen == nil {
		return s.c.MaxTokens
	}
	return s.c.OutputLen.Draw(s.seedFor(saltOutput, j), uint64(i))
}

func (s *source) Conversation(i int) Conversation {
	c := Conversation{IgnoreEOS: s.c.IgnoreEOS}
	switch {
	case s.c.Trace != nil:
		e := &s.c.Trace.Entries[i%len(s.c.Trace.Entries)]
		t := Turn{Messages: e.Messages, MaxTokens: e.MaxTokens}
		if t.MaxTokens == 0 {
			t.MaxTokens = s.maxTokens(i, 0)
		}
		if t.Messages == nil {
			t.Messages = []openaiwire.Message{userText(SyntheticText(s.seedFor(saltInput, 0), uint64(i), e.InputLen))}
		}
		c.Turns = []Turn{t}
	case s.turns != nil:
		for j, dt := range s.turns[i%len(s.turns)] {
			t := Turn{Messages: dt.messages, MaxTokens: s.maxTokens(i, j)}
			if s.c.OutputFromDataset && dt.answer != "" {
				t.MaxTokens = min(max(s.c.Count(dt.answer), 1), MaxLen)
			}
			c.Turns = append(c.Turns, t)
		}
	default:
		for j := range s.c.Turns {
			n := s.c.InputLen.Draw(s.seedFor(saltInput, j), uint64(i))
			seed := s.c.Seed
			if j > 0 {
				seed = s.seedFor(saltInput, j) // turn 0's text is Synthetic's
			}
			c.Turns = append(c.Turns, Turn{Messages: []openaiwire.Message{userText(SyntheticText(seed, uint64(i), n))}, MaxTokens: s.maxTokens(i, j)})
		}
	}
	if s.c.SharedPrefixes > 0 {
		c.Turns[0].Messages = withPrefix(c.Turns[0].Messages, PrefixText(s.c.Seed, i%s.c.SharedPrefixes, s.c.SharedPrefixLen))
	}
	return c
}

// withPrefix returns ms with prefix opening its first user message.
func withPrefix(ms []openaiwire.Message, prefix string) []openaiwire.Message {
	out := slices.Clone(ms)
	for k := range out {
		if out[k].Role == "user" {
			out[k].Content = textContent(prefix + "\n\n" + TextOf(out[k]))
			break
		}
	}
	return out
}

func userText(s string) openaiwire.Message {
	return openaiwire.Message{Role: "user", Content: textContent(s)}
}

// timed is a trace's source.
type timed struct{ *source }

func (t *timed) Len() int { return len(t.c.Trace.Entries) }

func (t *timed) At(i int) (time.Duration, bool) {
	if i < 0 || i >= len(t.c.Trace.Entries) {
		return 0, false
	}
	return time.Duration(float64(t.c.Trace.Entries[i].At) / t.c.TraceSpeed), true
}

// Gamma draws the gaps between open-loop arrivals from a gamma
// distribution with mean 1/rate and shape burstiness, as vLLM's benchmark
// does: a burstiness of 1 is a Poisson process; below 1 arrivals bunch
// into bursts, above 1 they are more even. The gaps' coefficient of
// variation is 1/sqrt(burstiness). Draws are seeded, in order.
type Gamma struct {
	rng         *rand.Rand
	rate, shape float64
}

// NewGamma seeds the arrival process.
func NewGamma(seed uint64, rate, burstiness float64) *Gamma {
	return &Gamma{rng: rand.New(rand.NewPCG(seed^saltArrival, uint64(rate*1e6))), rate: rate, shape: burstiness}
}

// Next returns the gap before the next arrival.
func (g *Gamma) Next() time.Duration {
	// Shape k, scale 1/(k rate): the mean is 1/rate.
	x := gammaDraw(g.rng, g.shape) / (g.shape * g.rate)
	return time.Duration(x * float64(time.Second))
}

// gammaDraw draws from Gamma(shape k, scale 1) by Marsaglia and Tsang's
// method (2000), with the boost k -> k+1, U^(1/k) for k < 1.
func gammaDraw(rng *rand.Rand, k float64) float64 {
	boost := 1.0
	if k < 1 {
		boost = math.Pow(rng.Float64(), 1/k)
		k++
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}
