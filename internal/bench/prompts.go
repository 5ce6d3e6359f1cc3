package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Prompt is one request's conversation.
type Prompt struct {
	// Messages is the OpenAI "messages" array, passed through as given.
	Messages json.RawMessage
	// MaxTokens overrides Options.MaxTokens when positive.
	MaxTokens int
}

// promptLine is one line of a prompts file.
type promptLine struct {
	Prompt    *string         `json:"prompt"`
	Messages  json.RawMessage `json:"messages"`
	MaxTokens int             `json:"max_tokens"`
}

// maxPromptLine bounds one line of a prompts file.
const maxPromptLine = 16 << 20

// ReadPrompts reads a JSONL prompts file: one JSON object per line, either
// {"prompt": "text"} (sent as one user message) or {"messages": [...]}
// (OpenAI's messages array, sent as is), each with an optional
// "max_tokens". Blank lines are skipped. name is used in errors.
func ReadPrompts(name string, r io.Reader) ([]Prompt, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxPromptLine)
	var out []Prompt
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		p, err := parsePromptLine(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxPromptLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts: write one JSON object per line, {\"prompt\": \"...\"} or {\"messages\": [...]}", name)
	}
	return out, nil
}

func parsePromptLine(b []byte) (Prompt, error) {
	var pl promptLine
	if err := json.Unmarshal(b, &pl); err != nil {
		return Prompt{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if pl.MaxTokens < 0 {
		return Prompt{}, errors.New("max_tokens is negative")
	}
	hasMsgs := len(pl.Messages) > 0 && string(pl.Messages) != "null"
	switch {
	case pl.Prompt != nil && hasMsgs:
		return Prompt{}, errors.New(`give "prompt" or "messages", not both`)
	case pl.Prompt != nil:
		if strings.TrimSpace(*pl.Prompt) == "" {
			return Prompt{}, errors.New(`"prompt" is empty`)
		}
		return Prompt{Messages: userMessage(*pl.Prompt), MaxTokens: pl.MaxTokens}, nil
	case hasMsgs:
		var msgs []struct {
			Role string `json:"role"`
		}
		if err := json.Unmarshal(pl.Messages, &msgs); err != nil {
			return Prompt{}, fmt.Errorf(`"messages" must be an array of messages: %v`, err)
		}
		if len(msgs) == 0 {
			return Prompt{}, errors.New(`"messages" is empty`)
		}
		for i, m := range msgs {
			if m.Role == "" {
				return Prompt{}, fmt.Errorf(`messages[%d] has no "role"`, i)
			}
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, pl.Messages); err != nil {
			return Prompt{}, err
		}
		return Prompt{Messages: compact.Bytes(), MaxTokens: pl.MaxTokens}, nil
	}
	return Prompt{}, errors.New(`each line needs "prompt" (text) or "messages" (an array)`)
}

func userMessage(text string) json.RawMessage {
	b, _ := json.Marshal([]map[string]string{{"role": "user", "content": text}})
	return b
}

// syntheticInstruction opens every synthetic prompt; it is
// instructionTokens tokens long in cl100k_base.
const (
	syntheticInstruction = "Continue the following list of words with a long story that uses all of them:"
	instructionTokens    = 16
)

// syntheticVocabulary holds common English words that are each one token
// in cl100k_base when preceded by a space (a test checks this).
const syntheticVocabulary = `time year people way day man thing woman life child world school state
family student group country problem hand part place case week company system program question work
government number night point home water room mother area money story fact month lot right study book
eye job word business issue side kind head house service friend father power hour game line end member
law car city community name president team minute idea kid body information back parent face others
level office door health person art war history party result change morning reason research girl guy
moment air teacher force education river garden window table bridge market light music paper road tree
stone forest ocean mountain village summer winter spring evening island letter picture voice dream horse
bird journey doctor engine machine signal wind fire snow rain cloud star`

func syntheticWords() []string { return strings.Fields(syntheticVocabulary) }

// Synthetic returns the synthetic prompt for request i: an instruction
// and random common words, about tokens tokens long in cl100k_base (other
// tokenizers differ by a little), drawn from a generator seeded with seed
// and i, so a run is repeatable and every request's prompt differs (no
// prompt-cache hits between requests).
func Synthetic(seed uint64, i int, tokens int) Prompt {
	n := tokens - instructionTokens
	if n < 1 {
		n = 1
	}
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	words := syntheticWords()
	var b strings.Builder
	b.Grow(len(syntheticInstruction) + 8*n)
	b.WriteString(syntheticInstruction)
	for range n {
		b.WriteByte(' ')
		b.WriteString(words[rng.IntN(len(words))])
	}
	return Prompt{Messages: userMessage(b.String())}
}

// chatBody is the request bench sends.
type chatBody struct {
	Model         string          `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens int `json:"max_tokens,omitempty"`
}

// requestBody is the OpenAI chat body for p: streamed, asking for usage,
// with max_tokens set (p's own or maxTokens).
func requestBody(model string, p Prompt, maxTokens int) ([]byte, int) {
	if p.MaxTokens > 0 {
		maxTokens = p.MaxTokens
	}
	c := chatBody{Model: model, Messages: p.Messages, Stream: true, MaxTokens: maxTokens}
	c.StreamOptions.IncludeUsage = true
	b, _ := json.Marshal(&c)
	return b, maxTokens
}
