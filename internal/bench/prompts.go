package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tiergate/tiergate/internal/bench/workload"
)

// Prompt is one request's conversation.
type Prompt struct {
	// Messages is the OpenAI "messages" array, passed through as given.
	Messages json.RawMessage
	// MaxTokens overrides Options.MaxTokens when positive.
	MaxTokens int
	// MinTokens and IgnoreEOS ask for an answer of a fixed length, where
	// the server takes them (vLLM's and SGLang's extensions of OpenAI's
	// API; the openai adapter sends the body as it is, the Ollama adapter
	// has no such option and drops them).
	MinTokens int
	IgnoreEOS bool

	keepAnswer bool // a multi-turn turn: its answer goes into the next turn
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

// The synthetic text is workload's (SyntheticText).
const (
	syntheticInstruction = workload.Instruction
	instructionTokens    = workload.InstructionTokens
)

func syntheticWords() []string { return workload.Words() }

// Synthetic returns the synthetic prompt for request i: an instruction
// and random common words, about tokens tokens long in cl100k_base (other
// tokenizers differ by a little), drawn from a generator seeded with seed
// and i, so a run is repeatable and every request's prompt differs (no
// prompt-cache hits between requests).
func Synthetic(seed uint64, i int, tokens int) Prompt {
	return Prompt{Messages: userMessage(workload.SyntheticText(seed, uint64(i), tokens))}
}

// chatBody is the request bench sends.
type chatBody struct {
	Model         string          `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens int  `json:"max_tokens,omitempty"`
	MinTokens int  `json:"min_tokens,omitempty"`
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
}

// requestBody is the OpenAI chat body for p: streamed, asking for usage,
// with max_tokens set (p's own or maxTokens).
func requestBody(model string, p Prompt, maxTokens int) ([]byte, int) {
	if p.MaxTokens > 0 {
		maxTokens = p.MaxTokens
	}
	c := chatBody{Model: model, Messages: p.Messages, Stream: true, MaxTokens: maxTokens, MinTokens: p.MinTokens, IgnoreEOS: p.IgnoreEOS}
	c.StreamOptions.IncludeUsage = true
	b, _ := json.Marshal(&c)
	return b, maxTokens
}
