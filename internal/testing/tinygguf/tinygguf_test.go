package tinygguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/testing/golden"
)

func write(t testing.TB, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, o); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func decode(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return f
}

// wantTensors lists the tensors llama.cpp's LLM_ARCH_LLAMA loader creates,
// with its dimension order (ne[0] first).
func wantTensors(o Options) map[string][]uint64 {
	o = o.withDefaults()
	e, v, ff := uint64(o.EmbeddingLength), uint64(VocabSize), uint64(o.FeedForwardLength)
	hd := e / uint64(o.HeadCount)
	kv := hd * uint64(o.HeadCountKV)
	m := map[string][]uint64{
		"token_embd.weight":  {e, v},
		"output_norm.weight": {e},
		"output.weight":      {e, v},
	}
	for i := range o.BlockCount {
		p := fmt.Sprintf("blk.%d.", i)
		m[p+"attn_norm.weight"] = []uint64{e}
		m[p+"attn_q.weight"] = []uint64{e, hd * uint64(o.HeadCount)}
		m[p+"attn_k.weight"] = []uint64{e, kv}
		m[p+"attn_v.weight"] = []uint64{e, kv}
		m[p+"attn_output.weight"] = []uint64{hd * uint64(o.HeadCount), e}
		m[p+"ffn_norm.weight"] = []uint64{e}
		m[p+"ffn_gate.weight"] = []uint64{e, ff}
		m[p+"ffn_up.weight"] = []uint64{e, ff}
		m[p+"ffn_down.weight"] = []uint64{ff, e}
	}
	return m
}

func TestWriteDecode(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		// want holds the scalar metadata llama.cpp reads, with its type.
		want map[string]any
	}{
		{
			name: "defaults",
			o:    Options{},
			want: map[string]any{
				"general.architecture":                   "llama",
				"general.name":                           "tiny",
				"general.alignment":                      uint32(32),
				"llama.context_length":                   uint32(512),
				"llama.embedding_length":                 uint32(64),
				"llama.block_count":                      uint32(2),
				"llama.feed_forward_length":              uint32(128),
				"llama.attention.head_count":             uint32(4),
				"llama.attention.head_count_kv":          uint32(4),
				"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
				"llama.rope.dimension_count":             uint32(16),
				"llama.vocab_size":                       uint32(259),
				"tokenizer.ggml.model":                   "llama",
				"tokenizer.ggml.bos_token_id":            uint32(1),
				"tokenizer.ggml.eos_token_id":            uint32(2),
				"tokenizer.ggml.unknown_token_id":        uint32(0),
			},
		},
		{
			name: "grouped-query attention",
			o:    Options{Seed: 7, Name: "gqa", EmbeddingLength: 32, BlockCount: 1, HeadCount: 4, HeadCountKV: 2, FeedForwardLength: 48, ContextLength: 256},
			want: map[string]any{
				"general.name":                  "gqa",
				"llama.context_length":          uint32(256),
				"llama.embedding_length":        uint32(32),
				"llama.block_count":             uint32(1),
				"llama.feed_forward_length":     uint32(48),
				"llama.attention.head_count":    uint32(4),
				"llama.attention.head_count_kv": uint32(2),
				"llama.rope.dimension_count":    uint32(8),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := write(t, tc.o)
			f := decode(t, b)
			if string(b[:4]) != "GGUF" || f.Version != 3 {
				t.Fatalf("header: magic %q version %d, want GGUF v3", b[:4], f.Version)
			}
			for k, want := range tc.want {
				kv, ok := f.Lookup(k)
				if !ok {
					t.Errorf("key %s missing", k)
					continue
				}
				if kv.Value != want {
					t.Errorf("%s = %T %v, want %T %v", k, kv.Value, kv.Value, want, want)
				}
			}
			if f.Alignment != 32 || f.DataOffset%32 != 0 {
				t.Errorf("alignment %d, data offset %d: want 32-aligned data", f.Alignment, f.DataOffset)
			}
			want := wantTensors(tc.o)
			if len(f.Tensors) != len(want) {
				t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
			}
			var off uint64
			for _, ti := range f.Tensors {
				dims, ok := want[ti.Name]
				if !ok {
					t.Errorf("unexpected tensor %s", ti.Name)
					continue
				}
				if fmt.Sprint(ti.Dims) != fmt.Sprint(dims) {
					t.Errorf("%s dims %v, want %v", ti.Name, ti.Dims, dims)
				}
				if ti.Type != GGMLTypeF32 {
					t.Errorf("%s type %d, want F32", ti.Name, ti.Type)
				}
				if ti.Offset != off {
					t.Errorf("%s offset %d, want %d (packed, padded to 32)", ti.Name, ti.Offset, off)
				}
				n := uint64(4)
				for _, d := range ti.Dims {
					n *= d
				}
				off += (n + 31) / 32 * 32
			}
			if got := int64(len(b)); got != f.DataOffset+int64(off) {
				t.Errorf("file is %d bytes, want data offset %d + data %d", got, f.DataOffset, off)
			}
			if size, err := Size(tc.o); err != nil || size != int64(len(b)) {
				t.Errorf("Size = %d, %v; want %d", size, err, len(b))
			}
		})
	}
}

func TestDefaultSizeIsSmall(t *testing.T) {
	n, err := Size(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100<<10 || n > 1<<20 {
		t.Errorf("default model is %d bytes, want a few hundred KB", n)
	}
}

func TestVocabulary(t *testing.T) {
	f := decode(t, write(t, Options{}))
	arr := func(key string, et ValueType) []any {
		kv, ok := f.Lookup(key)
		if !ok || kv.Type != TypeArray {
			t.Fatalf("%s: missing or not an array (%v)", key, kv.Type)
		}
		a := kv.Value.(Array)
		if a.Type != et || len(a.Values) != VocabSize {
			t.Fatalf("%s: array[%s] of %d, want array[%s] of %d", key, a.Type, len(a.Values), et, VocabSize)
		}
		return a.Values
	}
	tokens := arr("tokenizer.ggml.tokens", TypeString)
	types := arr("tokenizer.ggml.token_type", TypeInt32)
	scores := arr("tokenizer.ggml.scores", TypeFloat32)
	want := []struct {
		id    int
		text  string
		ttype int32
	}{
		{0, "<unk>", TokenTypeUnknown},
		{1, "<s>", TokenTypeControl},
		{2, "</s>", TokenTypeControl},
		{3, "<0x00>", TokenTypeByte},
		{3 + '\n', "<0x0A>", TokenTypeByte}, // llama.cpp's SPM loader looks up the newline byte
		{3 + 'a', "<0x61>", TokenTypeByte},
		{258, "<0xFF>", TokenTypeByte},
	}
	for _, w := range want {
		if tokens[w.id] != w.text || types[w.id] != w.ttype {
			t.Errorf("token %d = %v type %v, want %q type %d", w.id, tokens[w.id], types[w.id], w.text, w.ttype)
		}
	}
	seen := map[any]bool{}
	for i, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %d %v is a duplicate (llama.cpp asserts unique tokens)", i, tok)
		}
		seen[tok] = true
		if _, ok := scores[i].(float32); !ok {
			t.Errorf("score %d is %T", i, scores[i])
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := write(t, Options{Seed: 42}), write(t, Options{Seed: 42})
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different files")
	}
	c := write(t, Options{Seed: 43})
	off := decode(t, a).DataOffset
	if !bytes.Equal(a[:off], c[:off]) {
		t.Error("seed changed the header")
	}
	if bytes.Equal(a[off:], c[off:]) {
		t.Error("different seeds gave the same weights")
	}
}

// tensor returns the F32 data of the named tensor.
func tensor(t *testing.T, b []byte, f *File, name string) []float32 {
	t.Helper()
	for _, ti := range f.Tensors {
		if ti.Name != name {
			continue
		}
		n := uint64(1)
		for _, d := range ti.Dims {
			n *= d
		}
		start := uint64(f.DataOffset) + ti.Offset
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[start+uint64(i)*4:]))
		}
		return out
	}
	t.Fatalf("no tensor %s", name)
	return nil
}

// TestOutputFavoursLetters checks the bias that makes generated text
// readable: for the normalized embedding of every token (the residual
// stream before any block adds to it), the most likely next token is a
// lowercase letter or the space, by a wide margin over </s>.
func TestOutputFavoursLetters(t *testing.T) {
	o := Options{Seed: 3}.withDefaults()
	b := write(t, o)
	f := decode(t, b)
	emb, out := tensor(t, b, f, "token_embd.weight"), tensor(t, b, f, "output.weight")
	e := o.EmbeddingLength
	for tok := range VocabSize {
		h := emb[tok*e : (tok+1)*e]
		var ss float64
		for _, x := range h {
			ss += float64(x) * float64(x)
		}
		rms := math.Sqrt(ss/float64(e) + 1e-5)
		logit := func(id int) float64 {
			var s float64
			for c := range e {
				s += float64(h[c]) / rms * float64(out[id*e+c])
			}
			return s
		}
		best, bestLogit := -1, math.Inf(-1)
		for id := range VocabSize {
			if l := logit(id); l > bestLogit {
				best, bestLogit = id, l
			}
		}
		if best < ByteTokenBase || !strings.ContainsRune(FavouredBytes, rune(best-ByteTokenBase)) {
			t.Fatalf("after token %d the top token is %d, want a favoured byte", tok, best)
		}
		if gap := bestLogit - logit(EOSTokenID); gap < 10 {
			t.Fatalf("after token %d </s> is only %.2f below the top logit", tok, gap)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"head count does not divide embedding", Options{EmbeddingLength: 30, HeadCount: 4}, "multiple of HeadCount"},
		{"odd head size", Options{EmbeddingLength: 12, HeadCount: 4}, "even"},
		{"kv heads do not divide heads", Options{HeadCount: 4, HeadCountKV: 3}, "does not divide"},
		{"negative blocks", Options{BlockCount: -1}, "BlockCount"},
		{"huge embedding", Options{EmbeddingLength: 1 << 20}, "EmbeddingLength"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write error = %v, want one mentioning %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes for invalid options", b.Len())
			}
			if _, err := Size(tc.o); err == nil {
				t.Error("Size accepted invalid options")
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tiny.gguf")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, Options{Seed: 9}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, write(t, Options{Seed: 9})) {
		t.Error("WriteFile content differs from Write")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only tiny.gguf (no temp leftovers)", len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.gguf"), Options{}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "bad.gguf"), Options{HeadCount: 3}); err == nil {
		t.Error("WriteFile accepted invalid options")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed WriteFile left %d entries", len(ents))
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		return 0, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestWritePropagatesErrors(t *testing.T) {
	for _, after := range []int{0, 100, 200 << 10} {
		if err := Write(&failWriter{after: after}, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("failing after %d bytes: Write error = %v", after, err)
		}
	}
}

// dump renders a decoded header as text for the golden file.
func dump(f *File, sum [32]byte) string {
	var s strings.Builder
	fmt.Fprintf(&s, "version %d alignment %d data_offset %d\n", f.Version, f.Alignment, f.DataOffset)
	for _, kv := range f.KV {
		if a, ok := kv.Value.(Array); ok {
			fmt.Fprintf(&s, "kv %s array[%s] len=%d first=%q last=%q\n", kv.Key, a.Type, len(a.Values),
				fmt.Sprint(a.Values[:4]), fmt.Sprint(a.Values[len(a.Values)-1]))
			continue
		}
		fmt.Fprintf(&s, "kv %s %s %v\n", kv.Key, kv.Type, kv.Value)
	}
	for _, ti := range f.Tensors {
		fmt.Fprintf(&s, "tensor %s dims=%v type=%d offset=%d\n", ti.Name, ti.Dims, ti.Type, ti.Offset)
	}
	fmt.Fprintf(&s, "sha256 %x\n", sum)
	return s.String()
}

// TestGolden pins the default file: header layout and, through its hash,
// every weight. A change here changes what Ollama-backed tests generate.
func TestGolden(t *testing.T) {
	b := write(t, Options{})
	got := dump(decode(t, b), sha256.Sum256(b))
	golden.File(t, "default.golden", []byte(got))
}

// builder assembles raw GGUF headers for decoder tests.
type builder struct{ bytes.Buffer }

func (b *builder) u32(v uint32) *builder {
	b.Write(binary.LittleEndian.AppendUint32(nil, v))
	return b
}
func (b *builder) u64(v uint64) *builder {
	b.Write(binary.LittleEndian.AppendUint64(nil, v))
	return b
}
func (b *builder) str(s string) *builder { b.u64(uint64(len(s))); b.WriteString(s); return b }
func (b *builder) head(version uint32, nt, nkv uint64) *builder {
	b.WriteString("GGUF")
	return b.u32(version).u64(nt).u64(nkv)
}

func TestDecodeRejects(t *testing.T) {
	valid := write(t, Options{EmbeddingLength: 8, BlockCount: 1, HeadCount: 2, FeedForwardLength: 8})
	tensor1 := func(b *builder, dims []uint64, off uint64) []byte {
		b.str("t").u32(uint32(len(dims)))
		for _, d := range dims {
			b.u64(d)
		}
		return b.u32(0).u64(off).Bytes()
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "unexpected EOF"},
		{"bad magic", append([]byte("GGUG"), valid[4:]...), "bad magic"},
		{"version 1", new(builder).head(1, 0, 0).Bytes(), "version"},
		{"truncated metadata", valid[:500], "unexpected EOF"},
		{"huge string", new(builder).head(3, 0, 1).u64(1 << 40).Bytes(), "string of"},
		{"unknown value type", new(builder).head(3, 0, 1).str("k").u32(13).Bytes(), "unknown value type"},
		{"unknown array type", new(builder).head(3, 0, 1).str("k").u32(9).u32(77).u64(1).Bytes(), "element type"},
		{"bad bool", append(new(builder).head(3, 0, 1).str("k").u32(7).Bytes(), 2), "bool"},
		{"duplicate key", new(builder).head(3, 0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(1).Bytes(), "duplicate key"},
		{"alignment not a power of two", new(builder).head(3, 0, 1).str("general.alignment").u32(4).u32(24).Bytes(), "power-of-two"},
		{"alignment wrong type", new(builder).head(3, 0, 1).str("general.alignment").u32(10).u64(32).Bytes(), "power-of-two"},
		{"too many tensors", new(builder).head(3, 1<<40, 0).Bytes(), "tensors"},
		{"five dimensions", tensor1(new(builder).head(3, 1, 0), []uint64{1, 1, 1, 1, 1}, 0), "dimensions"},
		{"unaligned offset", tensor1(new(builder).head(3, 1, 0), []uint64{4}, 4), "not aligned"},
		{"missing padding", tensor1(new(builder).head(3, 1, 0), []uint64{4}, 0), "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tc.in))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want ErrFormat mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecodeNestedArrayAndAllScalars(t *testing.T) {
	b := new(builder).head(2, 0, 3)
	b.str("nested").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeInt16)).u64(2)
	b.Write([]byte{0xff, 0xff, 2, 0})
	b.str("f64").u32(uint32(TypeFloat64)).u64(math.Float64bits(1.5))
	b.str("i8").u32(uint32(TypeInt8))
	b.WriteByte(0x80)
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	f, err := Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(f.KV[0].Value, f.KV[1].Value, f.KV[2].Value)
	if want := "{array [{int16 [-1 2]}]} 1.5 -128"; got != want {
		t.Errorf("values %s, want %s", got, want)
	}
	if f.DataOffset != int64(b.Len()) {
		t.Errorf("data offset %d, want %d", f.DataOffset, b.Len())
	}
}

func FuzzDecode(f *testing.F) {
	small := write(f, Options{EmbeddingLength: 8, BlockCount: 1, HeadCount: 2, FeedForwardLength: 8})
	off := decode(f, small).DataOffset
	f.Add(small[:off])
	f.Add(small[:off/2])
	f.Add(new(builder).head(3, 0, 1).str("general.alignment").u32(4).u32(64).Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Decode(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if file.DataOffset > int64(len(in)) || file.DataOffset%int64(file.Alignment) != 0 {
			t.Fatalf("data offset %d (alignment %d) for %d input bytes", file.DataOffset, file.Alignment, len(in))
		}
		for _, ti := range file.Tensors {
			if len(ti.Dims) == 0 || len(ti.Dims) > MaxDims || ti.Offset%uint64(file.Alignment) != 0 {
				t.Fatalf("accepted bad tensor info %+v", ti)
			}
		}
		// Decoding is a pure function of the bytes.
		again, err := Decode(io.MultiReader(bytes.NewReader(in[:len(in)/2]), bytes.NewReader(in[len(in)/2:])))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(file) {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}
