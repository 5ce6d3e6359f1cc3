package openaiwire

// The chat body parser behind ParseChat: one validating pass over the
// bytes, in the manner of encoding/json's scanner, that decodes only the
// members the gateway needs and skips the rest (strings eight bytes at a
// time).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// parse reads the whole body; it returns a syntax error, and whether the
// body is the literal null (which encoding/json decodes into nothing).
func (p *chatParser) parse() (topNull bool, err error) {
	b := p.b
	i := skipWS(b, 0)
	if i >= len(b) {
		return false, p.syntax(i, "unexpected end of JSON input")
	}
	var end int
	switch b[i] {
	case '{':
		end, err = p.object(i, 1, p.topMember)
	case 'n':
		topNull = true
		end, err = p.skip(i, 1)
	default:
		end, err = p.skip(i, 1)
		if err == nil {
			p.typeErr("", "", "")
		}
	}
	if err != nil {
		return false, err
	}
	if end = skipWS(b, end); end < len(b) {
		return false, p.syntax(end, "invalid character "+quoteChar(b[end])+" after top-level value")
	}
	return topNull, nil
}

func (p *chatParser) topMember(key []byte, plain bool, vs int) (int, error) {
	b := p.b
	switch {
	case keyIs(key, plain, "model"):
		ve, kind, esc, err := p.scalar(vs, 2)
		if err != nil {
			return 0, err
		}
		switch kind {
		case '"':
			p.model, p.modelEsc = b[vs:ve], esc
		case 'n':
			p.model = nil
		default:
			p.typeErr("model", "string", kindName(kind))
		}
		return ve, err
	case keyIs(key, plain, "stream"):
		ve, kind, _, err := p.scalar(vs, 2)
		if err != nil {
			return 0, err
		}
		p.setBool(kind, &p.streamSet, &p.stream, "stream")
		return ve, err
	case keyIs(key, plain, "stream_options"):
		switch b[vs] {
		case 'n':
			p.soSet = false
			return p.skip(vs, 2)
		case '{':
			if !p.soSet {
				p.soSet, p.inclUsage = true, false
			}
			return p.object(vs, 2, func(key []byte, plain bool, vs int) (int, error) {
				if !keyIs(key, plain, "include_usage") {
					return p.skip(vs, 3)
				}
				ve, kind, _, err := p.scalar(vs, 3)
				if err != nil {
					return 0, err
				}
				p.setBool(kind, nil, &p.inclUsage, "stream_options.include_usage")
				return ve, err
			})
		}
		return p.mismatch(vs, 2, "stream_options", "object")
	case keyIs(key, plain, "messages"):
		return p.messages(vs)
	case keyIs(key, plain, "tools"):
		return p.countObjects(vs, "tools", &p.tools)
	case keyIs(key, plain, "functions"):
		return p.countObjects(vs, "functions", &p.functions)
	case keyIs(key, plain, "max_tokens"):
		return p.setInt(vs, "max_tokens", &p.maxTokSet, &p.maxTok)
	case keyIs(key, plain, "max_completion_tokens"):
		return p.setInt(vs, "max_completion_tokens", &p.maxCSet, &p.maxCTok)
	case keyIs(key, plain, "response_format"):
		p.params &^= ParamJSONObject
		if b[vs] != '{' {
			return p.skip(vs, 2)
		}
		return p.object(vs, 2, func(key []byte, plain bool, vs int) (int, error) {
			if !keyIs(key, plain, "type") {
				return p.skip(vs, 3)
			}
			ve, kind, esc, err := p.scalar(vs, 3)
			if err != nil {
				return 0, err
			}
			p.params &^= ParamJSONObject
			if kind == '"' && (!esc && string(b[vs+1:ve-1]) == "json_object" || esc && p.decodedIs(b[vs+1:ve-1], "json_object")) {
				p.params |= ParamJSONObject
			}
			return ve, nil
		})
	case keyIs(key, plain, "route"):
		ve, err := p.skip(vs, 2)
		if err != nil {
			return 0, err
		}
		p.route = b[vs:ve]
		return ve, err
	}
	for _, r := range &restrictedKeys {
		if keyIs(key, plain, r.name) {
			return p.restricted(vs, r.bit)
		}
	}
	return p.skip(vs, 2)
}

// Two bits of chatParser.params beyond Params, that ParseChat folds into
// ParamLogprobs.
const (
	paramLogprobsTrue Params = 1 << (nParams + iota)
	paramTopLogprobs
)

// restrictedKeys are the top-level members restricted reads, each with the
// bit it stands for (response_format, whose value is an object, is read
// in topMember).
var restrictedKeys = [...]struct {
	name string
	bit  Params
}{
	{"n", ParamN},
	{"logprobs", paramLogprobsTrue},
	{"top_logprobs", paramTopLogprobs},
	{"logit_bias", ParamLogitBias},
	{"tool_choice", ParamToolRequired},
	{"temperature", ParamTemperature},
	{"top_p", ParamTopP},
	{"seed", ParamSeed},
	{"frequency_penalty", ParamFrequencyPenalty},
	{"presence_penalty", ParamPresencePenalty},
}

// restricted reads the top-level member at vs whose use bit stands for
// (see Params): the bit is set when the value asks for something the
// parameter does, cleared otherwise (the last of repeated keys wins, as
// in encoding/json). A value of the wrong type sets nothing: the adapter
// that decodes the body answers for it.
func (p *chatParser) restricted(vs int, bit Params) (int, error) {
	b := p.b
	ve, kind, esc, err := p.scalar(vs, 2)
	if err != nil {
		return 0, err
	}
	tok := b[vs:ve]
	var used bool
	switch bit {
	case ParamN:
		n, ok := parseInt(tok)
		used = kind == '0' && (!ok || n != 1)
	case paramTopLogprobs:
		n, ok := parseInt(tok)
		used = kind == '0' && ok && n > 0
	case paramLogprobsTrue:
		used = kind == 't'
	case ParamLogitBias:
		used = kind == '{' && b[skipWS(b, vs+1)] != '}'
	case ParamToolRequired:
		s := tok[min(1, len(tok)):max(len(tok)-1, 0)]
		used = kind == '"' && (!esc && string(s) == "required" || esc && p.decodedIs(s, "required"))
	case ParamFrequencyPenalty, ParamPresencePenalty:
		used = kind == '0' && !zeroNumber(tok)
		if used && bytes.IndexAny(tok, "eE") >= 0 {
			// 1e-400 is zero once decoded.
			f, _ := strconv.ParseFloat(string(tok), 64)
			used = f != 0
		}
	default: // temperature, top_p, seed: any value
		used = kind == '0'
	}
	p.params &^= bit
	if used {
		p.params |= bit
	}
	return ve, nil
}

// zeroNumber reports whether the valid number token s is zero (all its
// digits before any exponent are 0).
func zeroNumber(s []byte) bool {
	for _, c := range s {
		switch {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// setBool decodes a scalar into a bool, or a *bool when set is not nil
// (null makes it nil; into a bool, null does nothing).
func (p *chatParser) setBool(kind byte, set, v *bool, field string) {
	switch kind {
	case 't', 'f':
		*v = kind == 't'
		if set != nil {
			*set = true
		}
	case 'n':
		if set != nil {
			*set = false
		}
	default:
		p.typeErr(field, "bool", kindName(kind))
	}
}

// setInt decodes a value into a *int.
func (p *chatParser) setInt(vs int, field string, set *bool, v *int) (int, error) {
	b := p.b
	ve, kind, _, err := p.scalar(vs, 2)
	if err != nil {
		return ve, err
	}
	switch kind {
	case 'n':
		*set = false
	case '0':
		n, ok := parseInt(b[vs:ve])
		if !ok {
			p.typeErr(field, "int", "number "+string(b[vs:ve]))
			return ve, nil
		}
		*set, *v = true, n
	default:
		p.typeErr(field, "int", kindName(kind))
	}
	return ve, nil
}

// countObjects decodes a value into a []struct{}, keeping its length.
func (p *chatParser) countObjects(vs int, field string, n *int) (int, error) {
	b := p.b
	switch b[vs] {
	case 'n':
		*n = 0
		return p.skip(vs, 2)
	case '[':
		count := 0
		ve, err := p.array(vs, 2, func(es int) (int, error) {
			count++
			switch b[es] {
			case '{', 'n':
				return p.skip(es, 3)
			}
			return p.mismatch(es, 3, field, "object")
		})
		*n = count
		return ve, err
	}
	return p.mismatch(vs, 2, field, "array")
}

func (p *chatParser) messages(vs int) (int, error) {
	b := p.b
	switch b[vs] {
	case 'n':
		p.messagesSet, p.msgs, p.nmsgs = false, p.msgs[:0], 0
		return p.skip(vs, 2)
	case '[':
	default:
		return p.mismatch(vs, 2, "messages", "array")
	}
	idx := 0
	ve, err := p.array(vs, 2, func(es int) (int, error) {
		if idx >= len(p.msgs) {
			p.msgs = append(p.msgs, msgState{})
		}
		st := &p.msgs[idx]
		idx++
		switch b[es] {
		case 'n':
			return p.skip(es, 3)
		case '{':
			return p.object(es, 3, func(key []byte, plain bool, vs int) (int, error) {
				return p.messageMember(st, key, plain, vs)
			})
		}
		return p.mismatch(es, 3, "messages", "object")
	})
	p.messagesSet, p.nmsgs = true, idx
	if idx == 0 {
		p.msgs = p.msgs[:0]
	}
	return ve, err
}

func (p *chatParser) messageMember(st *msgState, key []byte, plain bool, vs int) (int, error) {
	b := p.b
	switch {
	case keyIs(key, plain, "role"):
		ve, err := p.skip(vs, 4)
		if err != nil {
			return 0, err
		}
		switch b[vs] {
		case '"':
			st.roleSet = ve-vs > 2
			st.roleUser = string(b[vs:ve]) == `"user"`
		case 'n':
		default:
			p.custom("role must be a string")
		}
		return ve, err
	case keyIs(key, plain, "content"):
		var ve int
		var err error
		switch b[vs] {
		case '"':
			ve, err = p.skip(vs, 4)
			st.chars = ve - vs - 2
		case 'n':
			ve, err = p.skip(vs, 4)
		case '[':
			var chars, images int
			ve, err = p.parts(vs, &chars, &images)
			st.chars += chars
			st.images += images
		default:
			ve, err = p.skip(vs, 4)
			p.custom("content must be a string or an array of content parts")
		}
		if err != nil {
			return 0, err
		}
		st.raw = b[vs:ve]
		return ve, err
	}
	return p.skip(vs, 4)
}

// parts reads an array of content parts, as encoding/json decodes it into
// []struct{Type, Text string}. A type mismatch inside is an error of the
// content member (the old implementation's own decoder returned it).
func (p *chatParser) parts(vs int, chars, images *int) (int, error) {
	b := p.b
	var inner *Error // the first mismatch inside
	mismatch := func(field, want, got string) {
		if inner == nil {
			param := "messages.content"
			if field != "" {
				param += "." + field
			}
			inner = &Error{Param: param, Message: fmt.Sprintf("invalid type for '%s': expected %s, got %s", param, want, got)}
		}
	}
	ve, err := p.array(vs, 4, func(es int) (int, error) {
		switch b[es] {
		case 'n':
			return p.skip(es, 5)
		case '{':
		default:
			ee, kind, _, err := p.scalar(es, 5)
			mismatch("", "object", kindName(kind))
			return ee, err
		}
		image, text := false, 0
		ee, err := p.object(es, 5, func(key []byte, plain bool, vs int) (int, error) {
			isType := keyIs(key, plain, "type")
			if !isType && !keyIs(key, plain, "text") {
				return p.skip(vs, 6)
			}
			field := "text"
			if isType {
				field = "type"
			}
			ve, kind, _, err := p.scalar(vs, 6)
			if err != nil {
				return ve, err
			}
			switch kind {
			case '"':
				s := b[vs+1 : ve-1]
				if isType {
					image = p.decodedIs(s, "image_url")
				} else {
					text = decodedLen(s)
				}
			case 'n':
			default:
				mismatch(field, "string", kindName(kind))
			}
			return ve, nil
		})
		*chars += text
		if image {
			*images++
		}
		return ee, err
	})
	if inner != nil && p.custErr == nil {
		p.custErr = inner
	}
	return ve, err
}

// object walks the members of the object at b[i] == '{', whose nesting
// depth is depth, calling f with each key (raw, between its quotes; plain
// when it holds no escape and no non-ASCII byte) and the index of its
// value (never at the end of the body); f returns the index past the value.
func (p *chatParser) object(i, depth int, f func(key []byte, plain bool, vs int) (int, error)) (int, error) {
	b := p.b
	i, done, err := p.open(i, depth, '}')
	if done || err != nil {
		return i, err
	}
	for {
		if i >= len(b) {
			return 0, p.syntax(i, "unexpected end of JSON input")
		}
		if b[i] != '"' {
			return 0, p.syntax(i, "invalid character "+quoteChar(b[i])+" looking for beginning of object key string")
		}
		ke, esc, high, err := p.str(i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) {
			return 0, p.syntax(i, "unexpected end of JSON input")
		}
		if b[i] != ':' {
			return 0, p.syntax(i, "invalid character "+quoteChar(b[i])+" after object key")
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return 0, p.syntax(i, "unexpected end of JSON input")
		}
		if i, err = f(key, !esc && !high, i); err != nil {
			return 0, err
		}
		if i, done, err = p.next(i, '}', " after object key:value pair"); done || err != nil {
			return i, err
		}
	}
}

// array walks the elements of the array at b[i] == '[' (see object).
func (p *chatParser) array(i, depth int, f func(es int) (int, error)) (int, error) {
	i, done, err := p.open(i, depth, ']')
	if done || err != nil {
		return i, err
	}
	for {
		if i >= len(p.b) {
			return 0, p.syntax(i, "unexpected end of JSON input")
		}
		if i, err = f(i); err != nil {
			return 0, err
		}
		if i, done, err = p.next(i, ']', " after array element"); done || err != nil {
			return i, err
		}
	}
}

// open steps into the object or array at b[i], whose nesting depth is
// depth; done says it is empty (and i is past its end).
func (p *chatParser) open(i, depth int, end byte) (int, bool, error) {
	if depth > maxDepth {
		return 0, false, p.syntax(i, "exceeded max depth")
	}
	i = skipWS(p.b, i+1)
	if i < len(p.b) && p.b[i] == end {
		return i + 1, true, nil
	}
	return i, false, nil
}

// next steps past what follows a member ending at b[i]: a comma (and the
// white space after it), or end, the container's close (done, i past it);
// anything else is the syntax error "invalid character ..." + after.
func (p *chatParser) next(i int, end byte, after string) (int, bool, error) {
	b := p.b
	i = skipWS(b, i)
	if i >= len(b) {
		return 0, false, p.syntax(i, "unexpected end of JSON input")
	}
	switch b[i] {
	case ',':
		return skipWS(b, i+1), false, nil
	case end:
		return i + 1, true, nil
	}
	return 0, false, p.syntax(i, "invalid character "+quoteChar(b[i])+after)
}

// skip validates the value at b[i] and returns the index past it; depth is
// the nesting depth a container there would have.
func (p *chatParser) skip(i, depth int) (int, error) {
	b := p.b
	if i >= len(b) {
		return 0, p.syntax(i, "unexpected end of JSON input")
	}
	switch b[i] {
	case '{':
		return p.object(i, depth, func(_ []byte, _ bool, vs int) (int, error) { return p.skip(vs, depth+1) })
	case '[':
		return p.array(i, depth, func(es int) (int, error) { return p.skip(es, depth+1) })
	}
	end, _, _, err := p.scalar(i, depth)
	return end, err
}

// scalar validates the string, number or literal at b[i] and returns the
// index past it and its kind: '"', '0' (a number), 't', 'f' or 'n'; for
// a string, whether it holds escapes or non-ASCII bytes. A container is
// validated too, its kind being '{' or '['.
func (p *chatParser) scalar(i, depth int) (end int, kind byte, esc bool, err error) {
	b := p.b
	if i >= len(b) {
		return 0, 0, false, p.syntax(i, "unexpected end of JSON input")
	}
	switch c := b[i]; {
	case c == '"':
		end, esc, high, err := p.str(i)
		return end, '"', esc || high, err
	case c == '{' || c == '[':
		end, err := p.skip(i, depth)
		return end, c, false, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := p.number(i)
		return end, '0', false, err
	case c == 't':
		end, err := p.literal(i, "true")
		return end, 't', false, err
	case c == 'f':
		end, err := p.literal(i, "false")
		return end, 'f', false, err
	case c == 'n':
		end, err := p.literal(i, "null")
		return end, 'n', false, err
	}
	return 0, 0, false, p.syntax(i, "invalid character "+quoteChar(b[i])+" looking for beginning of value")
}

func (p *chatParser) literal(i int, lit string) (int, error) {
	b := p.b
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return 0, p.syntax(i+k, "unexpected end of JSON input")
		}
		if b[i+k] != lit[k] {
			return 0, p.syntax(i+k, "invalid character "+quoteChar(b[i+k])+" in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// number validates a JSON number at b[i].
func (p *chatParser) number(i int) (int, error) {
	b := p.b
	j := i
	if b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		return k - j
	}
	bad := func() error {
		if j >= len(b) {
			return p.syntax(j, "unexpected end of JSON input")
		}
		return p.syntax(j, "invalid character "+quoteChar(b[j])+" in numeric literal")
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		j += digits()
	default:
		return 0, bad()
	}
	if j < len(b) && b[j] == '.' {
		j++
		n := digits()
		if n == 0 {
			return 0, bad()
		}
		j += n
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		n := digits()
		if n == 0 {
			return 0, bad()
		}
		j += n
	}
	return j, nil
}

const (
	swarLSB = 0x0101010101010101
	swarMSB = 0x8080808080808080
)

// str validates the string at b[i] == '"' and returns the index past its
// closing quote, whether it holds escapes, and whether it holds bytes
// outside ASCII. A long run is first crossed by plainRun (the next quote
// and backslash found by bytes.IndexByte, the bytes before them checked
// 32 at a time), so a data URL goes at memory speed; then it reads eight
// bytes at a time, stopping only at a quote, a backslash, a control byte
// or (until the first) a non-ASCII byte.
func (p *chatParser) str(i int) (end int, esc, high bool, err error) {
	b := p.b
	j := i + 1
	hiMask := uint64(swarMSB)
	// The next quote and backslash at or after j (len(b): none), found
	// again only once j has passed them, so that a string of many
	// escapes is still read in one pass.
	quote, slash := -1, -1
	for {
		stop := len(b)
		if j-i > plainMin {
			if quote < j {
				quote = indexFrom(b, j, '"')
			}
			if slash < j {
				slash = indexFrom(b[:quote], j, '\\') // quote if none before it
			}
			j += plainRun(b[j:slash], hiMask == 0)
		} else {
			// A short string is read eight bytes at a time; past plainMin
			// bytes, plainRun takes over. (The switch below takes any
			// byte for what it is, so stopping early is safe.)
			stop = min(stop, i+plainMin+9)
		}
		for j+8 <= stop {
			x := binary.LittleEndian.Uint64(b[j:])
			q := x ^ (swarLSB * '"')
			s := x ^ (swarLSB * '\\')
			t := (((x - swarLSB*0x20) & ^x) | ((q - swarLSB) & ^q) | ((s - swarLSB) & ^s)) & swarMSB
			t |= x & hiMask
			if t != 0 {
				j += bits.TrailingZeros64(t) / 8
				break
			}
			j += 8
		}
		if j >= len(b) {
			return 0, false, false, p.syntax(j, "unexpected end of JSON input")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, high, nil
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				return 0, false, false, p.syntax(j+1, "unexpected end of JSON input")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= len(b) {
						return 0, false, false, p.syntax(k, "unexpected end of JSON input")
					}
					if !isHex(b[k]) {
						return 0, false, false, p.syntax(k, "invalid character "+quoteChar(b[k])+" in \\u hexadecimal character escape")
					}
				}
				j += 6
			default:
				return 0, false, false, p.syntax(j+1, "invalid character "+quoteChar(b[j+1])+" in string escape code")
			}
		case c < 0x20:
			return 0, false, false, p.syntax(j, "invalid character "+quoteChar(c)+" in string literal")
		case c >= 0x80:
			high, hiMask = true, 0
			j++
		default:
			j++
		}
	}
}

// plainMin is the length of string from which str uses plainRun.
const plainMin = 64

// indexFrom is the index of the first c in b at or after i, len(b) if
// there is none.
func indexFrom(b []byte, i int, c byte) int {
	if k := bytes.IndexByte(b[i:], c); k >= 0 {
		return i + k
	}
	return len(b)
}

// plainRun is the length of a prefix of s, a multiple of eight, in which
// no byte is a control byte nor, unless high is allowed, outside ASCII.
// (A byte below 0x20 or from 0x80 sets its top bit in x|(x-0x20...): a
// borrow only spreads above a byte that is itself one.)
func plainRun(s []byte, high bool) int {
	const l, m = swarLSB * 0x20, uint64(swarMSB)
	i := 0
	if high {
		for ; i+32 <= len(s); i += 32 {
			w := s[i : i+32]
			a, b2 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
			c, d := binary.LittleEndian.Uint64(w[16:]), binary.LittleEndian.Uint64(w[24:])
			if ((a-l)&^a|(b2-l)&^b2|(c-l)&^c|(d-l)&^d)&m != 0 {
				break
			}
		}
		for ; i+8 <= len(s); i += 8 {
			if x := binary.LittleEndian.Uint64(s[i:]); (x-l)&^x&m != 0 {
				break
			}
		}
		return i
	}
	for ; i+32 <= len(s); i += 32 {
		w := s[i : i+32]
		a, b2 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		c, d := binary.LittleEndian.Uint64(w[16:]), binary.LittleEndian.Uint64(w[24:])
		if (a|(a-l)|b2|(b2-l)|c|(c-l)|d|(d-l))&m != 0 {
			break
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if x := binary.LittleEndian.Uint64(s[i:]); (x|(x-l))&m != 0 {
			break
		}
	}
	return i
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *chatParser) syntax(i int, msg string) error {
	return &Error{Message: fmt.Sprintf("the request body is not valid JSON (at byte %d): %s", i+1, msg)}
}

// typeErr records a type mismatch as encoding/json reports it (field ""
// is the body itself).
func (p *chatParser) typeErr(field, want, got string) {
	if p.typErr != nil {
		return
	}
	if field == "" {
		p.typErr = &Error{Message: "the request body must be a JSON object"}
		return
	}
	p.typErr = &Error{Param: field, Message: fmt.Sprintf("invalid type for '%s': expected %s, got %s", field, want, got)}
}

// mismatch validates the value at vs, a type mismatch for field.
func (p *chatParser) mismatch(vs, depth int, field, want string) (int, error) {
	ve, kind, _, err := p.scalar(vs, depth)
	if err == nil {
		p.typeErr(field, want, kindName(kind))
	}
	return ve, err
}

func (p *chatParser) custom(msg string) {
	if p.custErr == nil {
		p.custErr = &Error{Message: "the request body is not valid: " + msg}
	}
}

// kindName names a JSON value's kind the way encoding/json's type errors
// do ("number 1.5" for a number that does not fit an integer field).
func kindName(kind byte) string {
	switch kind {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// parseInt parses a JSON number as an int, as strconv.ParseInt would.
func parseInt(s []byte) (int, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if !neg && n > 1<<63-1 || neg && n > 1<<63 {
		return 0, false
	}
	if neg {
		return int(-int64(n)), true
	}
	return int(n), true
}

// keyIs reports whether an object key (raw, between its quotes) names the
// field name (lower-case ASCII) as encoding/json matches keys: exactly or
// case-insensitively, with Unicode folding (so "ſtream" is "stream").
func keyIs(key []byte, plain bool, name string) bool {
	if plain {
		if len(key) != len(name) {
			return false
		}
		for i := 0; i < len(key); i++ {
			c := key[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != name[i] {
				return false
			}
		}
		return true
	}
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	if json.Unmarshal(q, &s) != nil {
		return false
	}
	return bytes.Equal(foldName([]byte(s)), foldName([]byte(name)))
}

// foldName is encoding/json's key folding: ASCII upper case, every other
// rune the smallest of its fold set.
func foldName(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// unquote decodes a string token (quotes included).
func (p *chatParser) unquote(tok []byte, esc bool) string {
	s := tok[1 : len(tok)-1]
	if !esc || (bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s)) {
		return string(s)
	}
	var out string
	json.Unmarshal(tok, &out)
	return out
}

// decodedIs reports whether the valid string content s decodes to want.
func (p *chatParser) decodedIs(s []byte, want string) bool {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s) == want
	}
	if decodedLen(s) != len(want) {
		return false
	}
	q := make([]byte, 0, len(s)+2)
	return p.unquote(append(append(append(q, '"'), s...), '"'), true) == want
}

// decodedLen is the length in bytes of the valid string content s once
// decoded as encoding/json decodes it: escapes resolved, each byte of
// invalid UTF-8 and each unpaired surrogate replaced by U+FFFD.
func decodedLen(s []byte) int {
	n := 0
	for len(s) > 0 {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			k = len(s)
		}
		n += utf8Len(s[:k])
		s = s[k:]
		if len(s) == 0 {
			break
		}
		if s[1] != 'u' {
			n++
			s = s[2:]
			continue
		}
		rr := getu4(s)
		s = s[6:]
		if utf16.IsSurrogate(rr) {
			if dec := utf16.DecodeRune(rr, getu4(s)); dec != unicode.ReplacementChar {
				n += utf8.RuneLen(dec)
				s = s[6:]
				continue
			}
			rr = unicode.ReplacementChar
		}
		n += utf8.RuneLen(rr)
	}
	return n
}

// utf8Len is the length of s with each invalid byte replaced by U+FFFD.
func utf8Len(s []byte) int {
	if utf8.Valid(s) {
		return len(s)
	}
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		s = s[size:]
		if r == utf8.RuneError && size == 1 {
			n += 3
		} else {
			n += size
		}
	}
	return n
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}

// Members calls f with each top-level member of the object b, its raw key
// (between its quotes, escapes kept) and its value, in order, until f
// returns false. b must be valid JSON (json.Valid checked it); Members
// reports false when it is not an object. It is the byte scan the rewrite
// uses, for callers that read a small object without decoding it.
func Members(b []byte, f func(key, value []byte) bool) bool {
	var buf [8]member
	ms, _, err := appendMembers(buf[:0], b)
	if err != nil {
		return false
	}
	for _, m := range ms {
		if !f(m.key, b[m.vs:m.end]) {
			break
		}
	}
	return true
}

// Elements calls f with each element of the array b, in order, until f
// returns false. b must be valid JSON; Elements reports false when it is
// not an array.
func Elements(b []byte, f func(value []byte) bool) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == ']' {
			return true
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
		e, err := skipValue(b, i)
		if err != nil {
			return false
		}
		if !f(b[i:e]) {
			return true
		}
		i = e
	}
}
