package openaiwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
)

// member is one top-level "key": value pair of a JSON object: the span of
// the whole member (from the key's opening quote to the value's end) and
// of the value.
type member struct {
	key            []byte // raw key between its quotes, escapes kept
	start, vs, end int
}

// members lists the top-level members of a JSON object. The body must
// already be valid JSON (ParseChat or ParseEmbed checked it); members still
// returns an error rather than panicking on anything else.
func members(b []byte) ([]member, int, error) {
	return appendMembers(make([]member, 0, 16), b)
}

// appendMembers is members appending to out. A key is matched by its raw
// bytes: an escaped spelling of "model" (\u006dodel) is not recognised,
// which no client sends.
func appendMembers(out []member, b []byte) ([]member, int, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, 0, errors.New("not a JSON object")
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return nil, 0, errors.New("unterminated object")
		}
		if b[i] == '}' {
			return out, i, nil
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return nil, 0, errors.New("expected a key")
		}
		ks := i
		ke, err := skipString(b, i)
		if err != nil {
			return nil, 0, err
		}
		key := b[ks+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, errors.New("expected ':'")
		}
		vs := skipWS(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, member{key: key, start: ks, vs: vs, end: ve})
		i = ve
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]. The
// body is valid JSON, so it looks only for the closing quote (bytes.IndexByte,
// many bytes at a time), and a quote counts when an even number of
// backslashes precede it.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errors.New("unterminated string")
		}
		j += k
		n := 0
		for m := j - 1; m > i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("expected a value")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated container")
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, errors.New("expected a value")
		}
		return j, nil
	}
}

// Rewrite describes the changes to make to a request body.
type Rewrite struct {
	// Model replaces the "model" value.
	Model string
	// ForceUsage sets stream_options.include_usage to true (only when the
	// body streams), keeping any other stream_options.
	ForceUsage bool
	// Drop removes these top-level keys (the gateway's "route").
	Drop []string
}

// Apply returns a copy of body with the rewrite applied; every other byte
// of the body is kept as it was. It is Pieces joined.
func (r Rewrite) Apply(body []byte) ([]byte, error) {
	ps, err := r.Pieces(body)
	if err != nil {
		return nil, err
	}
	return bytes.Join(ps, nil), nil
}

// Body is a rewritten body as the pieces it is made of, in order: slices
// of the original body and the few bytes the rewrite adds. Sending it
// through Reader copies none of the original.
type Body [][]byte

// Len is the body's length in bytes.
func (b Body) Len() int {
	n := 0
	for _, p := range b {
		n += len(p)
	}
	return n
}

// Reader returns a reader of the whole body; each call starts anew (for
// http.Request.GetBody).
func (b Body) Reader() io.Reader { return &bodyReader{rest: b} }

type bodyReader struct {
	rest Body
	off  int // bytes of rest[0] read
}

func (r *bodyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.rest) > 0 {
		c := copy(p[n:], r.rest[0][r.off:])
		n += c
		r.off += c
		if r.off == len(r.rest[0]) {
			r.rest, r.off = r.rest[1:], 0
		}
	}
	if n == 0 && len(r.rest) == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Pieces applies the rewrite without copying the body: the result is
// slices of body and the bytes the rewrite adds, in order.
func (r Rewrite) Pieces(body []byte) (Body, error) {
	ms, closeIdx, err := members(body)
	if err != nil {
		return nil, err
	}
	out := make(Body, 0, 8)
	add := func(p []byte) {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	last := 0 // bytes of body taken so far
	sawModel, sawSO := false, false
	for idx, m := range ms {
		switch {
		case slices.Contains(r.Drop, string(m.key)):
			// Take up to the member, drop it and one adjoining comma.
			seg := body[last:m.start]
			if idx > 0 {
				seg = trimTrailingComma(seg)
			}
			add(seg)
			last = m.end
			if idx == 0 {
				// Remove the comma that follows, if any.
				j := skipWS(body, last)
				if j < len(body) && body[j] == ',' {
					last = j + 1
				}
			}
			continue
		case string(m.key) == "model":
			sawModel = true
			add(body[last:m.vs])
			add(strconv.AppendQuote(nil, r.Model))
			last = m.end
		case string(m.key) == "stream_options" && r.ForceUsage:
			sawSO = true
			add(body[last:m.vs])
			so, err := forceIncludeUsage(body[m.vs:m.end])
			if err != nil {
				return nil, err
			}
			add(so)
			last = m.end
		}
	}
	add(body[last:closeIdx])
	if !sawModel && r.Model != "" {
		out = appendMember(out, `"model":`+strconv.Quote(r.Model))
	}
	if r.ForceUsage && !sawSO {
		out = appendMember(out, `"stream_options":{"include_usage":true}`)
	}
	add(body[closeIdx:])
	return out, nil
}

// appendMember adds a member at the end of the object so far, after a
// comma unless the object is still empty.
func appendMember(out Body, m string) Body {
	for k := len(out) - 1; k >= 0; k-- {
		p := out[k]
		for j := len(p) - 1; j >= 0; j-- {
			switch p[j] {
			case ' ', '\n', '\t', '\r':
				continue
			case '{':
				return append(out, []byte(m))
			}
			return append(out, []byte(","+m))
		}
	}
	return append(out, []byte(m))
}

func trimTrailingComma(seg []byte) []byte {
	j := len(seg) - 1
	for j >= 0 && (seg[j] == ' ' || seg[j] == '\n' || seg[j] == '\t' || seg[j] == '\r') {
		j--
	}
	if j >= 0 && seg[j] == ',' {
		return seg[:j]
	}
	return seg
}

func forceIncludeUsage(v []byte) ([]byte, error) {
	var so map[string]json.RawMessage
	if err := json.Unmarshal(v, &so); err != nil || so == nil {
		// null or not an object: replace it.
		return []byte(`{"include_usage":true}`), nil
	}
	so["include_usage"] = json.RawMessage("true")
	return json.Marshal(so)
}
