// Package tinygguf writes tiny llama-architecture GGUF model files (GGUF v3,
// little-endian, F32 tensors, deterministic pseudo-random weights) and reads
// their headers back. Tests use the files to run a real model runtime such as
// Ollama or llama.cpp on loopback without downloading any weights.
//
// The model is useless as a language model, but it loads, tokenizes and
// generates like a real one. Its vocabulary is llama's SentencePiece layout
// cut down to <unk>, <s>, </s> and the 256 byte tokens <0x00>..<0xFF>, so any
// input text tokenizes (via byte fallback). The weights are biased so that
// generation almost surely picks the bytes of lowercase ASCII letters and the
// space, which keeps generated text valid UTF-8 and non-empty; the end-of-
// sequence token is disfavoured, so callers should bound generation (for
// example with Ollama's num_predict).
//
// It imports only the standard library and nothing of tiergate.
package tinygguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Fixed layout of the vocabulary written by this package.
const (
	UnknownTokenID = 0 // <unk>
	BOSTokenID     = 1 // <s>
	EOSTokenID     = 2 // </s>
	// ByteTokenBase is the id of <0x00>; byte b has id ByteTokenBase+b.
	ByteTokenBase = 3
	// VocabSize is the number of tokens: three specials and 256 bytes.
	VocabSize = ByteTokenBase + 256
)

// Token types, as llama.cpp's llama_token_type enumerates them.
const (
	TokenTypeNormal  = 1
	TokenTypeUnknown = 2
	TokenTypeControl = 3
	TokenTypeByte    = 6
)

// Alignment is the data alignment written to general.alignment.
const Alignment = 32

// FavouredBytes are the bytes whose tokens the output layer favours.
const FavouredBytes = "abcdefghijklmnopqrstuvwxyz "

// Options shapes the model. The zero value gives the defaults, about 460 KB
// of weights: embedding 64, 2 blocks, 4 heads (4 KV heads), feed-forward 128,
// context 512, name "tiny", seed 0.
type Options struct {
	// Seed selects the pseudo-random weights; equal Options give
	// byte-identical files.
	Seed uint64
	// Name is general.name. Default "tiny".
	Name string
	// EmbeddingLength is llama.embedding_length. Default 64.
	EmbeddingLength int
	// BlockCount is llama.block_count. Default 2.
	BlockCount int
	// HeadCount is llama.attention.head_count. Default 4. EmbeddingLength
	// must be a multiple of it and the head size must be even (RoPE).
	HeadCount int
	// HeadCountKV is llama.attention.head_count_kv. Default HeadCount; it
	// must divide HeadCount.
	HeadCountKV int
	// FeedForwardLength is llama.feed_forward_length. Default 128.
	FeedForwardLength int
	// ContextLength is llama.context_length (the training context).
	// Default 512.
	ContextLength int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Name == "" {
		o.Name = "tiny"
	}
	def(&o.EmbeddingLength, 64)
	def(&o.BlockCount, 2)
	def(&o.HeadCount, 4)
	def(&o.HeadCountKV, o.HeadCount)
	def(&o.FeedForwardLength, 128)
	def(&o.ContextLength, 512)
	return o
}

// maxDim bounds the widths so that a typo cannot write gigabytes.
const maxDim = 1 << 12

func (o Options) validate() error {
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"EmbeddingLength", o.EmbeddingLength, maxDim},
		{"BlockCount", o.BlockCount, 256},
		{"HeadCount", o.HeadCount, maxDim},
		{"HeadCountKV", o.HeadCountKV, maxDim},
		{"FeedForwardLength", o.FeedForwardLength, maxDim},
		{"ContextLength", o.ContextLength, 1 << 24},
	} {
		if f.v <= 0 || f.v > f.max {
			return fmt.Errorf("tinygguf: %s %d out of range 1..%d", f.name, f.v, f.max)
		}
	}
	if o.EmbeddingLength%o.HeadCount != 0 {
		return fmt.Errorf("tinygguf: EmbeddingLength %d is not a multiple of HeadCount %d", o.EmbeddingLength, o.HeadCount)
	}
	if (o.EmbeddingLength/o.HeadCount)%2 != 0 {
		return fmt.Errorf("tinygguf: head size %d must be even", o.EmbeddingLength/o.HeadCount)
	}
	if o.HeadCount%o.HeadCountKV != 0 {
		return fmt.Errorf("tinygguf: HeadCountKV %d does not divide HeadCount %d", o.HeadCountKV, o.HeadCount)
	}
	return nil
}

// tensorSpec is one tensor to write: its GGUF dimensions (Dims[0] is the
// fastest-moving) and how to fill it.
type tensorSpec struct {
	name string
	dims []uint64
	fill fillKind
}

type fillKind int

const (
	fillOnes      fillKind = iota // norm weights
	fillRandom                    // projection matrices
	fillEmbedding                 // token_embd: channel 0 carries a constant
	fillOutput                    // output: channel 0 selects favoured tokens
)

func (t tensorSpec) elems() uint64 {
	n := uint64(1)
	for _, d := range t.dims {
		n *= d
	}
	return n
}

func tensors(o Options) []tensorSpec {
	e, v := uint64(o.EmbeddingLength), uint64(VocabSize)
	hd := e / uint64(o.HeadCount)
	q, kv, ff := hd*uint64(o.HeadCount), hd*uint64(o.HeadCountKV), uint64(o.FeedForwardLength)
	ts := []tensorSpec{
		{"token_embd.weight", []uint64{e, v}, fillEmbedding},
		{"output_norm.weight", []uint64{e}, fillOnes},
		{"output.weight", []uint64{e, v}, fillOutput},
	}
	for i := range o.BlockCount {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			tensorSpec{p + "attn_norm.weight", []uint64{e}, fillOnes},
			tensorSpec{p + "attn_q.weight", []uint64{e, q}, fillRandom},
			tensorSpec{p + "attn_k.weight", []uint64{e, kv}, fillRandom},
			tensorSpec{p + "attn_v.weight", []uint64{e, kv}, fillRandom},
			tensorSpec{p + "attn_output.weight", []uint64{q, e}, fillRandom},
			tensorSpec{p + "ffn_norm.weight", []uint64{e}, fillOnes},
			tensorSpec{p + "ffn_gate.weight", []uint64{e, ff}, fillRandom},
			tensorSpec{p + "ffn_up.weight", []uint64{e, ff}, fillRandom},
			tensorSpec{p + "ffn_down.weight", []uint64{ff, e}, fillRandom},
		)
	}
	return ts
}

// metadata returns the key-value pairs in the order they are written.
func metadata(o Options) []KV {
	tokens := make([]any, VocabSize)
	scores := make([]any, VocabSize)
	types := make([]any, VocabSize)
	for i, s := range []string{"<unk>", "<s>", "</s>"} {
		tokens[i], scores[i] = s, float32(0)
	}
	types[UnknownTokenID] = int32(TokenTypeUnknown)
	types[BOSTokenID] = int32(TokenTypeControl)
	types[EOSTokenID] = int32(TokenTypeControl)
	for b := range 256 {
		id := ByteTokenBase + b
		tokens[id] = fmt.Sprintf("<0x%02X>", b)
		scores[id] = float32(0)
		types[id] = int32(TokenTypeByte)
	}
	u32 := func(k string, v int) KV { return KV{k, TypeUint32, uint32(v)} }
	return []KV{
		{"general.architecture", TypeString, "llama"},
		{"general.name", TypeString, o.Name},
		u32("general.alignment", Alignment),
		u32("general.file_type", 0), // LLAMA_FTYPE_ALL_F32
		u32("llama.context_length", o.ContextLength),
		u32("llama.embedding_length", o.EmbeddingLength),
		u32("llama.block_count", o.BlockCount),
		u32("llama.feed_forward_length", o.FeedForwardLength),
		u32("llama.attention.head_count", o.HeadCount),
		u32("llama.attention.head_count_kv", o.HeadCountKV),
		{"llama.attention.layer_norm_rms_epsilon", TypeFloat32, float32(1e-5)},
		{"llama.rope.freq_base", TypeFloat32, float32(10000)},
		u32("llama.rope.dimension_count", o.EmbeddingLength/o.HeadCount),
		u32("llama.vocab_size", VocabSize),
		{"tokenizer.ggml.model", TypeString, "llama"},
		{"tokenizer.ggml.tokens", TypeArray, Array{TypeString, tokens}},
		{"tokenizer.ggml.scores", TypeArray, Array{TypeFloat32, scores}},
		{"tokenizer.ggml.token_type", TypeArray, Array{TypeInt32, types}},
		u32("tokenizer.ggml.bos_token_id", BOSTokenID),
		u32("tokenizer.ggml.eos_token_id", EOSTokenID),
		u32("tokenizer.ggml.unknown_token_id", UnknownTokenID),
		{"tokenizer.ggml.add_bos_token", TypeBool, true},
		{"tokenizer.ggml.add_eos_token", TypeBool, false},
	}
}

// WriteFile writes the model to path (mode 0644), replacing any file there.
func WriteFile(path string, o Options) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tinygguf-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = Write(f, o); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Size returns the number of bytes Write produces for o.
func Size(o Options) (int64, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return 0, err
	}
	var c countWriter
	if err := writeHeader(&c, o); err != nil {
		return 0, err
	}
	n := int64(c)
	for _, t := range tensors(o) {
		n += pad(int64(t.elems() * 4))
	}
	return n, nil
}

// Write writes the model as a GGUF v3 file to w.
func Write(w io.Writer, o Options) error {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeHeader(bw, o); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x7469_6e79_6767_7566)) // "tinygguf"
	var buf [4]byte
	for _, t := range tensors(o) {
		n := t.elems()
		for i := range n {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(value(t, i, rng)))
			if _, err := bw.Write(buf[:]); err != nil {
				return err
			}
		}
		if err := writeZeros(bw, pad(int64(n*4))-int64(n*4)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Weight scales. The embedding puts a constant embedBias in channel 0 and
// small noise elsewhere; the blocks add only small updates, so after the
// final RMS norm channel 0 dominates and is positive. The output layer maps
// channel 0 to +outputBias for favoured tokens and -outputBias for all others.
const (
	noise      = 0.02
	embedBias  = 1
	outputBias = 1
)

// uniform returns a value uniform in [-a, a) with standard deviation s.
func uniform(rng *rand.Rand, s float64) float32 {
	a := s * math.Sqrt(3)
	return float32((2*float64(rng.Uint64()>>11)/(1<<53) - 1) * a)
}

func value(t tensorSpec, i uint64, rng *rand.Rand) float32 {
	switch t.fill {
	case fillOnes:
		return 1
	case fillEmbedding:
		if i%t.dims[0] == 0 {
			return embedBias
		}
	case fillOutput:
		if i%t.dims[0] == 0 {
			if favoured(int(i / t.dims[0])) {
				return outputBias
			}
			return -outputBias
		}
	}
	return uniform(rng, noise)
}

func favoured(token int) bool {
	for i := range len(FavouredBytes) {
		if token == ByteTokenBase+int(FavouredBytes[i]) {
			return true
		}
	}
	return false
}

func pad(n int64) int64 { return (n + Alignment - 1) / Alignment * Alignment }

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// writeHeader writes everything before the tensor data, including the
// padding that aligns the data section.
func writeHeader(w io.Writer, o Options) error {
	ts := tensors(o)
	kvs := metadata(o)
	e := &encoder{w: w}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(ts)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		e.value(kv.Type, kv.Value)
	}
	var off uint64
	for _, t := range ts {
		e.str(t.name)
		e.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			e.u64(d)
		}
		e.u32(GGMLTypeF32)
		e.u64(off)
		off += uint64(pad(int64(t.elems() * 4)))
	}
	if e.err == nil {
		e.err = writeZeros(w, pad(e.n)-e.n)
	}
	return e.err
}

func writeZeros(w io.Writer, n int64) error {
	var z [Alignment]byte
	_, err := w.Write(z[:n])
	return err
}

type encoder struct {
	w   io.Writer
	n   int64
	err error
}

func (e *encoder) raw(p []byte) {
	if e.err != nil {
		return
	}
	var n int
	n, e.err = e.w.Write(p)
	e.n += int64(n)
}

func (e *encoder) u32(v uint32) { e.raw(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.raw(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *encoder) value(t ValueType, v any) {
	switch t {
	case TypeUint32:
		e.u32(v.(uint32))
	case TypeInt32:
		e.u32(uint32(v.(int32)))
	case TypeFloat32:
		e.u32(math.Float32bits(v.(float32)))
	case TypeBool:
		b := byte(0)
		if v.(bool) {
			b = 1
		}
		e.raw([]byte{b})
	case TypeString:
		e.str(v.(string))
	case TypeArray:
		a := v.(Array)
		e.u32(uint32(a.Type))
		e.u64(uint64(len(a.Values)))
		for _, x := range a.Values {
			e.value(a.Type, x)
		}
	default:
		if e.err == nil {
			e.err = errors.New("tinygguf: cannot encode value type " + t.String())
		}
	}
}
