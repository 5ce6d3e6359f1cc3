package workload

import (
	"math/rand/v2"
	"strings"
)

// Instruction opens every synthetic prompt; it is InstructionTokens
// tokens long in cl100k_base.
const (
	Instruction       = "Continue the following list of words with a long story that uses all of them:"
	InstructionTokens = 16
)

// vocabulary holds common English words that are each one token in
// cl100k_base when preceded by a space (a test in internal/bench checks
// this with the tokenizer).
const vocabulary = `time year people way day man thing woman life child world school state
family student group country problem hand part place case week company system program question work
government number night point home water room mother area money story fact month lot right study book
eye job word business issue side kind head house service friend father power hour game line end member
law car city community name president team minute idea kid body information back parent face others
level office door health person art war history party result change morning reason research girl guy
moment air teacher force education river garden window table bridge market light music paper road tree
stone forest ocean mountain village summer winter spring evening island letter picture voice dream horse
bird journey doctor engine machine signal wind fire snow rain cloud star`

// Words returns the synthetic vocabulary.
func Words() []string { return strings.Fields(vocabulary) }

// SyntheticText returns the synthetic prompt for key: the instruction and
// random common words, about tokens tokens long in cl100k_base (other
// tokenizers differ by a little), drawn from a generator seeded with seed
// and key, so a run is repeatable and every key's prompt differs (no
// prompt-cache hits between requests).
func SyntheticText(seed, key uint64, tokens int) string {
	n := max(tokens-InstructionTokens, 1)
	rng := rand.New(rand.NewPCG(seed, key))
	var b strings.Builder
	b.Grow(len(Instruction) + 8*n)
	b.WriteString(Instruction)
	writeWords(&b, rng, n)
	return b.String()
}

// PrefixText returns shared prefix k: tokens random words (one token
// each in cl100k_base), the same for every request that shares it.
func PrefixText(seed uint64, k, tokens int) string {
	rng := rand.New(rand.NewPCG(seed^saltPrefix, uint64(k)))
	var b strings.Builder
	b.Grow(8 * tokens)
	b.WriteString("Context:")
	writeWords(&b, rng, max(tokens-2, 1)) // "Context:" is two tokens
	return b.String()
}

func writeWords(b *strings.Builder, rng *rand.Rand, n int) {
	words := Words()
	for range n {
		b.WriteByte(' ')
		b.WriteString(words[rng.IntN(len(words))])
	}
}

// Salts keep the generators of different draws apart.
const (
	saltPrefix  = 0x9e3779b97f4a7c15
	saltInput   = 0xbf58476d1ce4e5b9
	saltOutput  = 0x94d049bb133111eb
	saltPick    = 0xd6e8feb86659fd93
	saltTurn    = 0xa0761d6478bd642f
	saltArrival = 0xe7037ed1a0b428db
)
