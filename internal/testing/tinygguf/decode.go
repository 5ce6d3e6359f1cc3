package tinygguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Format constants from ggml's GGUF specification (docs/gguf.md).
const (
	Magic       = "GGUF"
	Version     = 3
	GGMLTypeF32 = 0 // ggml_type GGML_TYPE_F32
	// MaxDims is GGML_MAX_DIMS, the most dimensions a tensor may have.
	MaxDims = 4
)

// ValueType is a GGUF metadata value type (gguf_type).
type ValueType uint32

// GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var typeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// scalarSize is the encoded size of a fixed-size type, 0 for string and
// array, -1 for an unknown type.
func (t ValueType) scalarSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	case TypeString, TypeArray:
		return 0
	}
	return -1
}

// KV is one metadata pair. Value holds the Go type matching Type (uint8,
// int8, uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64) or, for TypeArray, an Array.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// Array is an array value: its element type and elements, each held as a
// KV.Value would be.
type Array struct {
	Type   ValueType
	Values []any
}

// TensorInfo describes one tensor. Dims[0] is the fastest-moving dimension
// (ggml's ne[0]); Offset is relative to the start of the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   uint32
	Offset uint64
}

// File is a decoded GGUF header: everything before the tensor data.
type File struct {
	Version uint32
	KV      []KV
	Tensors []TensorInfo
	// Alignment is general.alignment, or 32 when the key is absent.
	Alignment uint32
	// DataOffset is the file offset of the (aligned) data section.
	DataOffset int64
}

// Lookup returns the value of key and whether it is present.
func (f *File) Lookup(key string) (KV, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv, true
		}
	}
	return KV{}, false
}

// Decoder limits; they bound memory on hostile input, far above what any
// file of this package needs.
const (
	maxStringLen  = 1 << 16
	maxArrayLen   = 1 << 20
	maxCount      = 1 << 16
	maxArrayDepth = 4
)

// ErrFormat is wrapped by every error about malformed input.
var ErrFormat = errors.New("tinygguf: malformed GGUF")

// Decode reads a GGUF v2 or v3 header from r: magic, version, metadata and
// tensor infos, then the padding up to the data section. It reads no tensor
// data. It checks what llama.cpp's loader checks about the layout: known
// value types, at most MaxDims dimensions, a power-of-two uint32
// general.alignment, and tensor offsets that are aligned.
func Decode(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReader(r)}
	f, err := d.file()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if !errors.Is(err, ErrFormat) {
			err = fmt.Errorf("%w: %w", ErrFormat, err)
		}
		return nil, err
	}
	return f, nil
}

type decoder struct {
	r   *bufio.Reader
	n   int64
	buf [8]byte
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

func (d *decoder) read(n int) ([]byte, error) {
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		return nil, err
	}
	d.n += int64(n)
	return d.buf[:n], nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		return "", formatErr("string of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", err
	}
	d.n += int64(n)
	return string(b), nil
}

// uniqueStr reads a string that must not be in seen (a "duplicate what"
// error if it is) and adds it.
func (d *decoder) uniqueStr(seen map[string]bool, what string) (string, error) {
	s, err := d.str()
	if err != nil {
		return "", err
	}
	if seen[s] {
		return "", formatErr("duplicate %s %q", what, s)
	}
	seen[s] = true
	return s, nil
}

func (d *decoder) file() (*File, error) {
	magic, err := d.read(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, formatErr("bad magic %q", magic)
	}
	f := &File{Alignment: Alignment}
	if f.Version, err = d.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, formatErr("unsupported version %d", f.Version)
	}
	nt, err := d.u64()
	if err != nil {
		return nil, err
	}
	nkv, err := d.u64()
	if err != nil {
		return nil, err
	}
	if nt > maxCount || nkv > maxCount {
		return nil, formatErr("%d tensors, %d metadata pairs", nt, nkv)
	}
	seen := map[string]bool{}
	for range nkv {
		var kv KV
		if kv.Key, err = d.uniqueStr(seen, "key"); err != nil {
			return nil, err
		}
		t, err := d.u32()
		if err != nil {
			return nil, err
		}
		kv.Type = ValueType(t)
		if kv.Value, err = d.value(kv.Type, 0); err != nil {
			return nil, fmt.Errorf("key %q: %w", kv.Key, err)
		}
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, formatErr("general.alignment must be a power-of-two uint32, got %s %v", kv.Type, kv.Value)
			}
			f.Alignment = a
		}
		f.KV = append(f.KV, kv)
	}
	names := map[string]bool{}
	for range nt {
		var ti TensorInfo
		if ti.Name, err = d.uniqueStr(names, "tensor"); err != nil {
			return nil, err
		}
		nd, err := d.u32()
		if err != nil {
			return nil, err
		}
		if nd == 0 || nd > MaxDims {
			return nil, formatErr("tensor %q has %d dimensions", ti.Name, nd)
		}
		for range nd {
			v, err := d.u64()
			if err != nil {
				return nil, err
			}
			if v > math.MaxInt64 {
				return nil, formatErr("tensor %q dimension %d", ti.Name, v)
			}
			ti.Dims = append(ti.Dims, v)
		}
		if ti.Type, err = d.u32(); err != nil {
			return nil, err
		}
		if ti.Offset, err = d.u64(); err != nil {
			return nil, err
		}
		if ti.Offset%uint64(f.Alignment) != 0 {
			return nil, formatErr("tensor %q offset %d not aligned to %d", ti.Name, ti.Offset, f.Alignment)
		}
		f.Tensors = append(f.Tensors, ti)
	}
	skip := (int64(f.Alignment) - d.n%int64(f.Alignment)) % int64(f.Alignment)
	n, err := io.CopyN(io.Discard, d.r, skip)
	d.n += n
	if err != nil {
		return nil, err
	}
	f.DataOffset = d.n
	return f, nil
}

func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeString:
		return d.str()
	case TypeArray:
		if depth >= maxArrayDepth {
			return nil, formatErr("arrays nested deeper than %d", maxArrayDepth)
		}
		et, err := d.u32()
		if err != nil {
			return nil, err
		}
		n, err := d.u64()
		if err != nil {
			return nil, err
		}
		if n > maxArrayLen {
			return nil, formatErr("array of %d elements", n)
		}
		a := Array{Type: ValueType(et)}
		if a.Type.scalarSize() < 0 {
			return nil, formatErr("unknown array element type %d", et)
		}
		for range n {
			v, err := d.value(a.Type, depth+1)
			if err != nil {
				return nil, err
			}
			a.Values = append(a.Values, v)
		}
		return a, nil
	}
	size := t.scalarSize()
	if size <= 0 {
		return nil, formatErr("unknown value type %d", uint32(t))
	}
	b, err := d.read(size)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, formatErr("bool byte %d", b[0])
		}
		return b[0] == 1, nil
	case TypeUint16:
		return le.Uint16(b), nil
	case TypeInt16:
		return int16(le.Uint16(b)), nil
	case TypeUint32:
		return le.Uint32(b), nil
	case TypeInt32:
		return int32(le.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	default: // TypeFloat64
		return math.Float64frombits(le.Uint64(b)), nil
	}
}
