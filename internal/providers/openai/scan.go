package openai

import "bytes"

// chunkFacts is what the adapter learns of a streamed chunk without
// decoding it: whether it carries generated content, its finish reason,
// and whether it holds usage or an error (which are then decoded).
type chunkFacts struct {
	content  bool
	finish   []byte
	usage    bool
	errorObj bool
}

// scanChunk inspects a chunk's bytes. It relies on JSON's escaping: a
// quote inside a string value is always written \", so a key pattern such
// as "content":" can only match a real key, never text inside a value.
func scanChunk(b []byte) chunkFacts {
	var f chunkFacts
	f.content = nonEmptyString(b, `"content"`) || nonEmptyString(b, `"reasoning_content"`) ||
		nonEmptyString(b, `"reasoning"`) || nonEmptyArray(b, `"tool_calls"`)
	if v := stringValue(b, `"finish_reason"`); len(v) > 0 {
		f.finish = v
	}
	f.usage = objectValue(b, `"usage"`) || objectValue(b, `"x_groq"`)
	f.errorObj = objectValue(b, `"error"`)
	return f
}

// valueAt returns the bytes after key and its colon (spaces skipped), at
// its first occurrence as a key.
func valueAt(b []byte, key string) []byte {
	for {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return nil
		}
		rest := b[i+len(key):]
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
			j++
		}
		if j < len(rest) && rest[j] == ':' {
			j++
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
				j++
			}
			return rest[j:]
		}
		b = rest
	}
}

func nonEmptyString(b []byte, key string) bool {
	v := valueAt(b, key)
	return len(v) >= 2 && v[0] == '"' && v[1] != '"'
}

func nonEmptyArray(b []byte, key string) bool {
	v := valueAt(b, key)
	if len(v) < 2 || v[0] != '[' {
		return false
	}
	k := 1
	for k < len(v) && (v[k] == ' ' || v[k] == '\n' || v[k] == '\t' || v[k] == '\r') {
		k++
	}
	return k < len(v) && v[k] != ']'
}

func objectValue(b []byte, key string) bool {
	v := valueAt(b, key)
	return len(v) > 0 && v[0] == '{'
}

// stringValue returns a string value's raw bytes (escapes kept).
func stringValue(b []byte, key string) []byte {
	v := valueAt(b, key)
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return v[1:i]
		}
	}
	return nil
}
