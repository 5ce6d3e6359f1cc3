package bench

import (
	"fmt"
	"strings"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Tokenizer counts tokens in generated text when the server reports no
// usage.
type Tokenizer interface {
	// Name names the vocabulary, e.g. "cl100k_base".
	Name() string
	// Count returns the number of tokens in text.
	Count(text string) int
}

// Encodings this package can build offline.
const (
	EncodingCL100K = "cl100k_base" // GPT-4, GPT-3.5; the default for other models
	EncodingO200K  = "o200k_base"  // GPT-4o, GPT-4.1
)

// EncodingFor names the OpenAI BPE vocabulary for a model: o200k_base for
// the models tiktoken maps to it (GPT-4o and later), cl100k_base for every
// other model. For a model that is not OpenAI's the count is an estimate;
// its token_count_method says "tokenizer".
func EncodingFor(model string) string {
	name := tiktoken.MODEL_TO_ENCODING[model]
	if name == "" {
		for prefix, enc := range tiktoken.MODEL_PREFIX_TO_ENCODING {
			if strings.HasPrefix(model, prefix) {
				name = enc
				break
			}
		}
	}
	if name == EncodingO200K {
		return EncodingO200K
	}
	return EncodingCL100K
}

// encodingSpec returns the split pattern and special tokens of one of
// OpenAI's published encodings (as tiktoken-go defines them).
func encodingSpec(name string) (pattern string, special map[string]int, ok bool) {
	switch name {
	case EncodingCL100K:
		return `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
			map[string]int{tiktoken.ENDOFTEXT: 100257, tiktoken.FIM_PREFIX: 100258, tiktoken.FIM_MIDDLE: 100259,
				tiktoken.FIM_SUFFIX: 100260, tiktoken.ENDOFPROMPT: 100276}, true
	case EncodingO200K:
		return strings.Join([]string{
			`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
			`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
			`\p{N}{1,3}`, ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`,
		}, "|"), map[string]int{tiktoken.ENDOFTEXT: 199999, tiktoken.ENDOFPROMPT: 200018}, true
	}
	return "", nil, false
}

type bpe struct {
	name string
	tk   *tiktoken.Tiktoken
}

func (b *bpe) Name() string { return b.name }

func (b *bpe) Count(text string) int { return len(b.tk.EncodeOrdinary(text)) }

// NewTokenizer builds an OpenAI BPE tokenizer (EncodingCL100K or
// EncodingO200K) from the vocabularies embedded in the binary: it never
// touches the network, and it does not change tiktoken-go's global
// loader. Building one takes a fraction of a second; a Tokenizer is not
// safe for concurrent use.
func NewTokenizer(encoding string) (Tokenizer, error) {
	pattern, special, ok := encodingSpec(encoding)
	if !ok {
		return nil, fmt.Errorf("tokenizer %q is not available offline (use %s or %s)", encoding, EncodingCL100K, EncodingO200K)
	}
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(encoding + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("loading the embedded %s vocabulary: %w", encoding, err)
	}
	core, err := tiktoken.NewCoreBPE(ranks, special, pattern)
	if err != nil {
		return nil, err
	}
	set := map[string]any{}
	for k := range special {
		set[k] = true
	}
	enc := &tiktoken.Encoding{Name: encoding, PatStr: pattern, MergeableRanks: ranks, SpecialTokens: special}
	return &bpe{name: encoding, tk: tiktoken.NewTiktoken(core, enc, set)}, nil
}
